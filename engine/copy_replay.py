"""A Repeat's copies inferred whole: a copy alike the one before it, fed the same specs that one was fed, gets
that copy's outcomes for its layers in a few dict updates instead of a visit per layer.

`engine.unit_shapes.LiveUnitsInference` tells its flat `ShapeInference` the chains of copies
(`ShapeInference.follow_copies`): for each of the model's Repeats whose unit expands to the same layers and wires
whatever its values (`graphs.units.params_only.fixed_structure`), its copies' flat layers in chain order, each
copy's in the same order. Copy k's layers are then wired among themselves as copy k-1's are, and fed only by
copy k-1 (copy 0: by what feeds the Repeat); what copy k feeds is in copy k+1, or after the Repeat for the last
copy. So where copy k's layers have the same params as copy k-1's (the same resolved objects, as the expansion
shares them, or equal ones) and copy k is fed the very specs copy k-1 was fed, each of its layers has
the outcome of its twin in copy k-1 (inputs equal in value would do: a layer's outcome is one of its inputs'
values, and `ShapeInference._outcome` shares it so); its outputs are then that copy's, so every alike copy after
it follows.
An edit that changes every copy of a 900-copy Repeat (its planes) infers copy 0 and copy 1 layer by layer and
the other 898 copies in one step (bench section 18). An edit upstream of the Repeat (its input's shape) reaches
the copies through their inputs: when a layer of copy k fed from outside it comes up in the queue, the same test
replays copy k and the alike copies after it.
A copy is replayed only from one whose layers all have shapes: shape errors are never shared (they name their
node), so a copy after one with an error, or without shapes, is inferred layer by layer, as is everything when
the ranks of two copies interleave.
"""

from __future__ import annotations

import heapq
from itertools import chain

MIN_DIRTY = 64  # fewer changed layers: the usual visits are as cheap as setting this up


class CopyReplay:
    """One inference pass's replays. Where the pass changes many layers of a chain, it holds them back from the
    queue (`withheld`) and queues, per run of alike copies, a token just before the run's first copy (`tokens`:
    key -> (chain, first, last)); where the changes reach a copy through its inputs (an edit upstream), the copy's
    layers fed from outside it (`entries`) try to replay it and the alike copies after it when they come up.
    Every layer of the chains must have a rank."""

    def __init__(self, inference, chains: list[_Chain], dirty: set[str], rank):
        self.inference = inference
        self.withheld: set[str] = set()
        self.tokens: dict[int, tuple[_Chain, int, int]] = {}
        self.queued: list[tuple[float, int]] = []
        self.entries: dict[str, tuple[_Chain, int]] = inference.copy_entries(chains)
        self._rank = rank
        self._keys = 0
        self._done: dict[_Chain, list[tuple[int, int]]] = {}  # the copies replayed in this pass, per chain
        self._tried: set[tuple[int, int]] = set()  # (id of the chain, copy) that an entry found not to replay
        for found in chains if len(dirty) >= MIN_DIRTY else ():
            copies = found.copies
            held = dirty & found.members
            if not held:
                continue
            for first, last in _alike_runs(inference._params, found):
                if first == 1 and last == len(copies) - 1:  # all but copy 0, inferred layer by layer
                    self.withheld |= held.difference(copies[0])
                else:
                    self.withheld |= held.intersection(found.span(first, last))
                self.queued.append(self._queue(found, first, last))

    def _queue(self, found: _Chain, first: int, last: int) -> tuple[float, int]:
        key = self._keys
        self._keys += 1
        self.tokens[key] = (found, first, last)
        return min(map(self._rank.__getitem__, found.copies[first])) - 0.5, key

    def run(self, key: int, queue: list) -> int:
        """At a token: copies `first`..`last` replayed from the copy before them when it is done and alike, else
        `first` inferred layer by layer (its held-back layers queued) and a token queued for the rest. The
        number of copies replayed."""
        found, first, last = self.tokens.pop(key)
        if self._ready(found, first):
            return self._replayed(found, first, last, queue)
        rank = self._rank
        for node_id in found.copies[first]:
            if node_id in self.withheld:
                heapq.heappush(queue, (rank[node_id], node_id))
        if first < last:
            heapq.heappush(queue, self._queue(found, first + 1, last))
        return 0

    def enter(self, node_id: str, queue: list) -> int:
        """At a layer of copy k fed from outside it, come up in the queue: copy k and the alike copies after it
        replayed when copy k - 1 is done and alike and copy k is fed what copy k - 1 was (else 0: the layer is
        visited as usual, and so is the copy). The number of copies replayed."""
        found, k = self.entries[node_id]
        if any(first <= k <= last for first, last in self._done.get(found, ())) or (id(found), k) in self._tried:
            return 0
        params, copies = self.inference._params, found.copies
        if list(map(params.get, copies[k])) != list(map(params.get, copies[k - 1])) or not self._ready(found, k):
            self._tried.add((id(found), k))
            return 0
        last = next((last for first, last in _alike_runs(params, found) if first <= k <= last), k)
        return self._replayed(found, k, last, queue)

    def _ready(self, found: _Chain, k: int) -> bool:
        """Whether copy k - 1 is done (its layers all before copy k's) and copy k fed as it was."""
        rank, before, copy = self._rank, found.copies[k - 1], found.copies[k]
        return max(map(rank.__getitem__, before)) < min(map(rank.__getitem__, copy)) and \
            _fed_alike(self.inference, before, copy)

    def _replayed(self, found: _Chain, first: int, last: int, queue: list) -> int:
        """Copies `first`..`last` given the outcomes of copy `first - 1`; what the last one feeds outside it queued."""
        inference, rank, copies = self.inference, self._rank, found.copies
        _replay(inference, copies[first - 1], found.span(first, last), last - first + 1)
        self._done.setdefault(found, []).append((first, last))
        end = copies[last]
        inside = set(end)
        for node_id in end:
            for consumer in inference._consumers[node_id]:
                if consumer not in inside and consumer in rank:
                    heapq.heappush(queue, (rank[consumer], consumer))
        return last - first + 1


def chains_of(chains: list[list[list[str]]], kept: dict) -> dict:
    """The chains as `_Chain`s by the ids of their copies' lists (the lists are made anew when their layers
    change): those in `kept` as they are, the others made (a chain whose copies differ in length is left out)."""
    found = {}
    for copies in chains:
        key = tuple(map(id, copies))
        chain_ = kept.get(key)
        if chain_ is None:
            widths = set(map(len, copies))
            if len(widths) != 1 or 0 in widths:
                continue
            chain_ = _Chain(copies, widths.pop())
        found[key] = chain_
    return found


class _Chain:
    """A chain's copies, their layers one after the other (a list and a set), and the number of layers in a copy;
    kept by the inference from pass to pass while the copies' lists are the same."""

    def __init__(self, copies: list[list[str]], width: int):
        self.copies, self.width = copies, width
        self.layers = list(chain.from_iterable(copies))
        self.members = set(self.layers)

    def entries_of(self, sources: dict) -> dict[str, int]:
        """The layers of copies 1 and after fed from outside their copy (at the places they have in copy 1) -> their
        copy (the caller keeps it while no wire changes)."""
        inside = set(self.copies[1])
        places = [place for place, node_id in enumerate(self.copies[1])
                  if any(source not in inside for source, _ in sources[node_id].values())]
        return {copy[place]: k for k, copy in enumerate(self.copies) if k for place in places}

    def span(self, first: int, last: int) -> list[str]:
        """The layers of copies `first`..`last`."""
        return self.layers[first * self.width:(last + 1) * self.width]


def _alike_runs(params: dict, found: _Chain) -> list[tuple[int, int]]:
    """The runs (first, last) of copies whose layers' params equal those of the copy before them."""
    get, width, copies = params.get, found.width, found.copies
    ids = list(map(id, map(get, found.layers)))  # (faster than comparing the objects pairwise with is_)
    if ids[width:] == ids[:-width]:  # each copy's params the very objects of the copy before it: one run
        return [(1, len(copies) - 1)]
    runs, start = [], None
    for k in range(1, len(copies)):
        alike = list(map(get, copies[k])) == list(map(get, copies[k - 1]))  # (the same objects, or equal ones)
        if alike and start is None:
            start = k
        elif not alike and start is not None:
            runs.append((start, k - 1))
            start = None
    if start is not None:
        runs.append((start, len(copies) - 1))
    return runs


def _fed_alike(inference, before: list[str], copy: list[str]) -> bool:
    """Whether every layer of `before` has shapes, and `copy`'s layers fed from outside it are fed now the specs
    their twins in `before` were (the same objects, or equal ones)."""
    info, inputs, sources = inference._info, inference._inputs, inference._sources
    if not all(map(info.__contains__, before)):
        return False
    inside = set(copy)
    for node_id, twin in zip(copy, before):
        for port, (source, source_port) in sources[node_id].items():
            if source in inside:
                continue
            given, seen = info.get(source), inputs.get(twin)
            if given is None or seen is None or port not in seen:
                return False
            spec = given.outputs.get(source_port)
            if spec is not seen[port] and spec != seen[port]:  # (an outcome shared by equal inputs keeps the first's)
                return False
    return True


def _replay(inference, before: list[str], layers: list[str], times: int) -> None:
    """Give the layers of `times` copies (`layers`, one copy after the other) the outcomes of their twins in `before`
    (their cached outcomes are left: each is kept with the inputs it is for, and checked against them)."""
    info, inputs = inference._info, inference._inputs
    info.update(zip(layers, [info[node_id] for node_id in before] * times))
    inputs.update(zip(layers, [inputs[node_id] for node_id in before] * times))
    if inference._errors and not inference._errors.keys().isdisjoint(layers):
        for node_id in layers:
            inference._errors.pop(node_id, None)
    inference._touched.update(layers)
