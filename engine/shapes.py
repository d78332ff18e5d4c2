"""Shape inference over a whole graph, incremental for live feedback.

`ShapeInference(graph)` mirrors the document through its events and keeps each
node's result keyed by its input specs, so after a one-node edit only that node
and the descendants whose inputs actually changed are recomputed. `infer(graph)`
is the one-shot form. Structural problems come from `graphs.validate`; a node
whose inputs are unknown (open port, upstream error) is simply left without
shapes, so one mistake is reported once, on the node that causes it.
This module imports no torch.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from itertools import repeat

from engine.copy_replay import CopyReplay, chains_of
from engine.forgotten_region import ForgottenRegion
from engine.inference_result import InferenceResult
from engine.shape_rules import NodeInfo, TensorSpec, fmt, infer_node
from graphs.catalogue import node_type
from graphs.document import Graph
from graphs.errors import GraphError, ShapeError
from graphs.live_validation import LiveValidation
from graphs.node_type import SHARES
from graphs.validate import sharing_size_errors, validate

__all__ = ["InferenceResult", "ShapeInference", "TensorSpec", "fmt", "infer"]

_UNPLANNED = object()  # a node whose plan is to be made (see ShapeInference._plan)
_MAX_OUTCOMES = 4096  # outcomes kept for the layers that share params (see ShapeInference._outcome)


class ShapeInference:
    """Live shape inference for one graph; call `result()` after edits.

    Each node keeps its last inputs and outcome (its NodeInfo or its ShapeError). An edit marks the
    nodes it touches; inference then revisits only those, in topological order, and goes on to a
    node's consumers only when the node's outcome changed. The order is the one the document keeps
    edit by edit (`Graph.topological_rank`), so a param edit on a 10,000-node model visits a handful of
    nodes, and a rewire visits the nodes downstream at a few dict lookups each: a node keeps which
    source output feeds each of its ports (its plan), and its outcome for the inputs it last saw. A kept
    expansion's Repeat copies that an edit changes alike are inferred whole, not layer by layer
    (`follow_copies`, `engine.copy_replay`)."""

    def __init__(self, graph: Graph, live_validation: bool = True):
        """`live_validation` keeps the structural checks up to date edit by edit (the editor); without it
        `result()` validates the whole graph each time (a one-shot inference)."""
        self.graph = graph
        self._validation = LiveValidation(graph) if live_validation else None
        self._units = None  # a LiveUnitsInference, once the graph uses units
        self._types: dict[str, str] = {}
        self._specs: dict[str, object] = {}  # node -> its NodeType (None: no shapes, see _set_params)
        self._params: dict[str, dict | None] = {}
        self._shares: dict[str, str] = {}  # a sharing node -> the node whose weights it uses
        self._sources: dict[str, dict[str, tuple[str, str]]] = {}  # node -> in port -> (src, src port)
        self._consumers: dict[str, set[str]] = {}  # node -> the nodes its wires feed
        self._ports: dict[str, list[str]] = {}
        self._plans: dict[str, tuple | None] = {}  # node -> ((port, src, src port), ...), None: cannot infer
        self._unsure: set[str] = set()  # nodes whose plan may leave out a wire they follow (see _forget_downstream)
        self._own_rank: dict[str, int] | None = None  # ranks over the followed wires, while the document has a cycle
        self._unranked: set[str] = set()  # the nodes on a cycle: never inferred
        self._dirty: set[str] = set()
        self._cache: dict[str, tuple] = {}  # node -> (inputs, NodeInfo or ShapeError)
        self._outcomes: dict[tuple, tuple] = {}  # (id of type, params, *inputs) -> (type, (inputs, NodeInfo)): _outcome
        self._keys: dict[str, tuple] = {}  # node -> (id of its type, its params): the head of its key in _outcomes
        self._distinct: dict[tuple, tuple] = {}  # such a head -> (the head, params, ports) its nodes share
        self._info: dict[str, NodeInfo] = {}  # the current outcome of every inferred node
        self._inputs: dict[str, dict[str, TensorSpec]] = {}
        self._errors: dict[str, ShapeError] = {}
        self._dropped = 0  # nodes whose shapes were forgotten since `_info` was last rebuilt
        self._touched: set[str] = set()  # nodes visited or forgotten since the last result (its `changed`)
        self._last: InferenceResult | None = None  # the last result, the next one's `basis`
        self._forgotten: list[ForgottenRegion] = []  # the regions forgotten in this pass
        self._stash: ForgottenRegion | None = None  # the one region the last pass forgot, kept to be given back
        self._copies: dict = {}  # chains of a Repeat's copies (see follow_copies), as engine.copy_replay keeps them
        self.replayed_copies = 0  # copies whose outcomes were set whole (engine.copy_replay), for tests
        self._entries: tuple = ((), {})  # see copy_entries
        self._wiring = 0  # wires added or removed so far (copy_entries reads who is fed from outside a copy)
        for node in graph.live_nodes():  # read only
            self._on_node_added(node)
        for edge in graph.edges():
            self._on_edge_added(edge)
        graph.node_added.sub(self._on_node_added)
        graph.node_removed.sub(self._on_node_removed)
        graph.edge_added.sub(self._on_edge_added)
        graph.edge_removed.sub(self._on_edge_removed)
        graph.params_changed.sub(self._on_params_changed)
        graph.params_renewed.sub(self._on_params_renewed)

    def close(self) -> None:
        """Stop observing the graph."""
        if self._validation is not None:
            self._validation.close()
        if self._units is not None:
            self._units.close()
        self.graph.node_added.unsub(self._on_node_added)
        self.graph.node_removed.unsub(self._on_node_removed)
        self.graph.edge_added.unsub(self._on_edge_added)
        self.graph.edge_removed.unsub(self._on_edge_removed)
        self.graph.params_changed.unsub(self._on_params_changed)
        self.graph.params_renewed.unsub(self._on_params_renewed)

    # ---- mirror of the document ----------------------------------------
    def _on_node_added(self, node) -> None:
        self._types[node.id] = node.type
        self._set_params(node.id, node.params)
        self._sources[node.id] = {}
        self._consumers.setdefault(node.id, set())
        if self._own_rank is not None:  # no wires yet: last in the order is as good as anywhere
            self._own_rank[node.id] = len(self._own_rank)

    def _set_params(self, node_id: str, params: dict) -> None:
        self._cache.pop(node_id, None)
        self._keys.pop(node_id, None)
        self._unplan(node_id)
        self._dirty.add(node_id)
        try:
            if not self.graph.is_layer(self._types[node_id]):  # (without the close matches node_type would look up)
                raise GraphError("no layer")
            spec = node_type(self._types[node_id], node_id, self.graph.custom_types)
            resolved = self.graph.kept_resolution(node_id, params)
            if resolved is None:
                resolved = spec.resolve_params(params, node_id)
        except GraphError:  # a unit instance (a graph with units is inferred as its expansion), or params that
            # a unit param made wrong in an expansion (validation reports them): no shapes
            self._specs[node_id], self._params[node_id], self._ports[node_id] = None, None, []
            self._shares.pop(node_id, None)
            return
        self._specs[node_id], self._params[node_id] = spec, resolved
        if params.get(SHARES):
            self._shares[node_id] = params[SHARES]
        else:
            self._shares.pop(node_id, None)
        self._ports[node_id] = spec.input_ports(resolved)

    def _on_params_renewed(self, groups) -> None:
        """Many layers' params replaced at once (`Graph.params_renewed`): each group's layers get one params
        object, resolved here once for them all."""
        for node_ids, _olds, params in groups:
            first = node_ids[0]
            self._set_params(first, params)
            if len(node_ids) == 1:
                continue
            rest = node_ids[1:]
            if self._specs[first] is None or self.graph.kept_resolution(first, params) is None:
                for node_id in rest:  # params only the node's own id resolves (or fails to): one by one
                    self._set_params(node_id, params)
                continue
            self._shared(first)
            for table in (self._specs, self._params, self._ports, self._keys):
                table.update(zip(rest, repeat(table[first])))  # (faster than a dict.fromkeys to merge)
            for table in (self._cache, self._plans, *((self._shares,) if self._shares else ())):
                deque(map(table.pop, rest, repeat(None)), 0)  # (at C speed: thousands of layers)
            self._unsure.update(rest)  # (their plans went with the rest)
            if first in self._shares:
                self._shares.update(zip(rest, repeat(self._shares[first])))
            self._dirty.update(rest)

    def _on_node_removed(self, node) -> None:
        self._stash = None  # it may lie in the forgotten region
        self._forget(node.id)
        for table in (self._types, self._specs, self._params, self._shares, self._sources, self._ports, self._plans,
                      self._cache, self._consumers, self._keys):
            table.pop(node.id, None)
        self._own_rank = None
        self._dirty.discard(node.id)
        self._unsure.discard(node.id)

    def _on_edge_added(self, edge) -> None:
        self._wiring += 1
        if self._sources[edge.target].setdefault(edge.target_port, (edge.source, edge.source_port)) == \
                (edge.source, edge.source_port):  # a second wire into a port (a loaded file) is not followed
            self._consumers.setdefault(edge.source, set()).add(edge.target)
        self._touch(edge.target)

    def _on_edge_removed(self, edge) -> None:
        self._wiring += 1
        ports = self._sources.get(edge.target, {})
        if ports.get(edge.target_port) == (edge.source, edge.source_port):
            # a port fed several times (unchecked wires) follows its oldest wire, as a fresh inference of the
            # document does: the next one in the document's order of the node's wires, if any
            del ports[edge.target_port]
            other = self.graph.edge_into(edge.target, edge.target_port)
            if other is not None:
                ports[edge.target_port] = (other.source, other.source_port)
                self._consumers.setdefault(other.source, set()).add(edge.target)
        if edge.source in self._consumers and not any(source == edge.source for source, _ in ports.values()):
            self._consumers[edge.source].discard(edge.target)
        self._touch(edge.target)

    def _touch(self, node_id: str) -> None:
        """A wire into `node_id` came or went: its plan and its place in the order may change (its cached
        outcome stays: it depends on the input specs, not on where they come from)."""
        self._unplan(node_id)
        self._dirty.add(node_id)
        self._own_rank = None

    def _unplan(self, node_id: str) -> None:
        """The node's plan is to be made again (its params or wires changed)."""
        self._plans.pop(node_id, None)
        self._unsure.add(node_id)

    def _on_params_changed(self, node_id, _old, new) -> None:
        self._set_params(node_id, new)

    def _ranks(self) -> Mapping[str, int]:
        """The document's topological ranks; while it has a cycle (a loaded file), ranks over the wires
        followed here, without the nodes on a cycle. A node that joins or leaves a cycle is revisited."""
        ranks = self.graph.topological_rank()
        if ranks is not None:
            unranked = set()
        elif self._own_rank is not None:
            return self._own_rank
        else:
            ranks = self._own_rank = self._followed_ranks()
            unranked = {node_id for node_id in self._types if node_id not in ranks}
        if unranked != self._unranked:
            for node_id in unranked ^ self._unranked:
                if node_id in self._types:
                    self._dirty.add(node_id)
                    self._dirty.update(self._consumers.get(node_id, ()))
            self._unranked = unranked
        return ranks

    def _followed_ranks(self) -> dict[str, int]:
        """Kahn's algorithm over the followed wires (one per port)."""
        indegree = dict.fromkeys(self._types, 0)
        successors: dict[str, list[str]] = {n: [] for n in self._types}
        for target, ports in self._sources.items():
            for source in {source for source, _ in ports.values()}:
                indegree[target] += 1
                successors[source].append(target)
        ready = [n for n, d in indegree.items() if d == 0]
        rank: dict[str, int] = {}
        while ready:
            current = ready.pop()
            rank[current] = len(rank)
            for nxt in successors[current]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    ready.append(nxt)
        return rank

    def follow_copies(self, chains: list[list[list[str]]]) -> None:
        """The chains of a Repeat's copies in this graph (a kept expansion, `engine.unit_shapes`): per Repeat whose
        copies expand to the same layers and wires, each copy's layers in chain order, in the same order within
        each copy. A pass that changes many of them infers alike copies whole (`engine.copy_replay`)."""
        self._copies = chains_of(chains, self._copies)

    def copy_entries(self, chains) -> dict:
        """The layers of the chains' copies fed from outside their copy -> (chain, copy), kept while the chains are."""
        key = (self._wiring, *map(id, chains))
        if self._entries[0] != key:
            entries = {}
            for found in chains:
                entries.update((node_id, (found, k)) for node_id, k in found.entries_of(self._sources).items())
            self._entries = key, entries
        return self._entries[1]

    # ---- inference -------------------------------------------------------
    def infer_shapes(self) -> InferenceResult:
        """Shapes and shape errors only (no structural validation): the fast path."""
        if self.graph.uses_units():
            result = self._units_result()
            result.errors = [e for e in result.errors if isinstance(e, ShapeError)]
            return result
        rank = self._ranks()
        if self._dirty:
            self._propagate(rank)
            for region in self._forgotten:  # the nodes each walk forgot (each had its inputs), once the pass is done
                self._touched.update(region.inputs)
        errors = sorted(self._errors.items(), key=lambda item: rank[item[0]])
        if self._dropped * 4 > len(self._info):
            # dict.copy() clones a dict in one go, unless a third of its slots were left by deletions: then it
            # inserts key by key (1 ms at 10,000 nodes). Rebuilding after many deletions keeps the copies clones.
            self._info, self._inputs, self._dropped = dict(self._info), dict(self._inputs), 0
        if self._last is not None:
            self._last.basis = None  # only the newest result keeps the one it follows: no chain of results
        result = InferenceResult(self._info.copy(), self._inputs.copy(), [error for _, error in errors],
                                 basis=self._last, changed=self._touched)
        self._last, self._touched = result, set()
        return result

    def _propagate(self, rank: Mapping[str, int]) -> None:
        """Visit the dirty nodes in topological order, and the consumers of each node whose outcome changed."""
        kept, self._stash, self._forgotten = self._stash, None, []
        if len(self._dirty) == len(self._types):  # every node (a model just opened): each once, in order
            self._visit_all(rank)
            return
        dirty, self._dirty = self._dirty, set()
        replay = None
        if self._copies and len(rank) == len(self._types):  # (no cycle: every layer ranked)
            replay = CopyReplay(self, list(self._copies.values()), dirty, rank)
            if replay.withheld:
                dirty = dirty - replay.withheld
        queue = []
        for node_id in dirty:
            if node_id in rank:
                queue.append((rank[node_id], node_id))
            else:  # on a cycle: never inferred
                self._forget(node_id)
        if replay is not None:
            queue += replay.queued
        root = kept.root if kept is not None and replay is None and len(queue) == len(dirty) and \
            kept.untouched_by(dirty) else None
        heapq.heapify(queue)
        consumers, visit, pop, push = self._consumers, self._visit, heapq.heappop, heapq.heappush
        last = None
        while queue:
            node_id = pop(queue)[1]
            if node_id == last:  # pushed again by another of its sources: the copies pop one after the other
                continue
            last = node_id
            if replay is not None:  # a run of alike copies (engine.copy_replay)
                if node_id in replay.tokens:
                    self.replayed_copies += replay.run(node_id, queue)
                    continue
                if node_id in replay.entries:
                    replayed = replay.enter(node_id, queue)
                    if replayed:
                        self.replayed_copies += replayed
                        continue
            if visit(node_id):
                if node_id == root:
                    root = None
                    if kept.came_back(self._info, self._inputs, self._errors):
                        self._give_back(kept, rank, queue)
                        continue
                for consumer in consumers[node_id]:
                    if consumer in rank:
                        push(queue, (rank[consumer], consumer))
        if len(self._forgotten) == 1 and self._forgotten[0].untouched_by(dirty):
            region = self._forgotten[0]  # kept, should the wire come back (see engine.forgotten_region)
            region.stale = frozenset(node_id for node_id in self._touched if node_id not in region)  # (the walk's
            # nodes are not among them yet: infer_shapes adds them, so this looks at the few others only)
            self._stash = region

    def _give_back(self, region: ForgottenRegion, rank: Mapping[str, int], queue: list) -> None:
        """Put back a forgotten region whose root came back as it was, whole; queue those below its root of
        the nodes the forgetting pass touched outside the region (`ForgottenRegion.stale`: they may read the
        region, as a node wired to it in that pass does) and their consumers (the region may read them)."""
        self._info.update(region.info)
        self._errors.update(region.errors)
        self._inputs.update(region.inputs)
        self._touched.update(region.inputs)  # (every node of the region: each had its inputs, see _forget_downstream)
        bound, consumers = rank[region.root], self._consumers
        for node_id in region.stale:
            for below in (node_id, *consumers.get(node_id, ())):
                if rank.get(below, -1) > bound:
                    heapq.heappush(queue, (rank[below], below))

    def _visit_all(self, rank: Mapping[str, int]) -> None:
        """Visit every node in topological order: what `_propagate` does when all are dirty, without its queue
        (there each node would be popped once, in this order, and the consumers it pushes popped as copies)."""
        for node_id in self._dirty:
            if node_id not in rank:  # on a cycle: never inferred
                self._forget(node_id)
        ranked = sorted((node_id for node_id in self._dirty if node_id in rank), key=rank.__getitem__)
        self._dirty.clear()
        visit = self._visit
        for node_id in ranked:
            visit(node_id)

    def _visit(self, node_id: str) -> bool:
        """Infer one node from its sources' current outcomes; whether its own outcome changed."""
        self._touched.add(node_id)
        info, errors = self._info, self._errors
        old_info, old_error = info.get(node_id), errors.get(node_id) if errors else None
        plan = self._plans.get(node_id, _UNPLANNED)
        if plan is _UNPLANNED:
            plan = self._plan(node_id)
        cached = self._cache.get(node_id)
        inputs = self._same_inputs(plan, cached[0]) if cached is not None and plan is not None else None
        if inputs is None and plan is not None:
            inputs = {}
            for port, source, source_port in plan:
                source_info = info.get(source)
                spec = source_info.outputs.get(source_port) if source_info is not None else None
                if spec is None:
                    inputs = None
                    break
                inputs[port] = spec
        if inputs is None:  # an open port, or an input without shapes: no shapes here nor downstream
            if old_info is not None or old_error is not None:
                self._forget_downstream(node_id)
            return False  # what it feeds is done
        if cached is None or cached[0] != inputs:
            cached = self._cache[node_id] = self._outcome(node_id, inputs)
        self._inputs[node_id], outcome = cached
        if isinstance(outcome, ShapeError):
            if old_info is not None:
                del info[node_id]
            errors[node_id] = outcome
            return old_error is not outcome
        if old_error is not None:
            del errors[node_id]
        info[node_id] = outcome
        return old_info is not outcome

    def _outcome(self, node_id: str, inputs: dict) -> tuple:
        """(inputs, the node's NodeInfo or ShapeError), for its cache. Layers of one type with equal params fed
        equal specs (a Repeat's copies, a unit's instances) share one such pair: the rule runs once for them
        all, and thousands of copies edited at once make no garbage for the collector to walk."""
        params, spec = self._params[node_id], self._specs[node_id]
        head = self._keys.get(node_id)
        if head is None:
            head, params = self._shared(node_id)
        try:
            key = (*head, *inputs.items())
            found = self._outcomes.get(key)
        except TypeError:  # an unhashable spec
            key = found = None
        if found is not None and found[0] is spec:
            return found[1]
        try:
            cached = inputs, infer_node(node_id, self._types[node_id], params, inputs, spec.op)
        except ShapeError as error:  # it names the node: never shared; kept without the frames it was raised
            return inputs, error.with_traceback(None)  # through, which would keep each result alive in a cycle
        if key is not None:
            if len(self._outcomes) >= _MAX_OUTCOMES:
                self._outcomes.clear()
            self._outcomes[key] = (spec, cached)  # holding the type keeps its id its own
        return cached

    def _shared(self, node_id: str) -> tuple[tuple, dict]:
        """The node's key head (id of its type, its params) and its params, as the objects all the nodes with
        equal params share (their ports too), put in its tables: a Repeat's copies are then compared by identity
        (engine.copy_replay), and editing them all later frees no object of each node's own."""
        head = (id(self._specs[node_id]), repr(self._params[node_id]))
        found = self._distinct.get(head)
        if found is None:
            if len(self._distinct) >= _MAX_OUTCOMES:
                self._distinct.clear()
            found = self._distinct[head] = (head, self._params[node_id], self._ports[node_id])
        self._keys[node_id], self._params[node_id], self._ports[node_id] = found
        return found[0], found[1]

    def _same_inputs(self, plan: tuple, kept: dict) -> dict | None:
        """`kept` when the plan's sources give exactly those specs (the same objects: the usual case when
        a wire comes back), else None; saves building the inputs of thousands of nodes to compare them."""
        if len(kept) != len(plan):
            return None
        info = self._info
        for port, source, source_port in plan:
            source_info = info.get(source)
            if source_info is None or source_info.outputs.get(source_port) is not kept.get(port):
                return None
        return kept

    def _plan(self, node_id: str) -> tuple | None:
        """Which source output feeds each port the rule sees (an open optional port is left out); None when
        the node cannot be inferred (a required port open, or params without shapes)."""
        plan = None
        if self._params[node_id] is not None:
            sources, optional = self._sources[node_id], self._specs[node_id].optional
            wired = []
            for port in self._ports[node_id]:
                source = sources.get(port)
                if source is None:
                    if port in optional:
                        continue
                    break
                wired.append((port, *source))
            else:
                plan = tuple(wired)
        self._plans[node_id] = plan
        if plan is not None and len(plan) != len(self._sources[node_id]):  # it leaves out a wire it follows
            self._unsure.add(node_id)
        else:  # it reads every wire it follows, or it has no plan: then no outcome either, once it is visited
            self._unsure.discard(node_id)
        return plan

    def _reads(self, node_id: str, source: str) -> bool:
        """Whether the node's plan reads an output of `source`."""
        plan = self._plans.get(node_id, _UNPLANNED)
        if plan is _UNPLANNED:  # a copy's layer given its outcome whole (engine.copy_replay), or a dirty node
            plan = self._plan(node_id)
        return plan is not None and any(fed_by == source for _port, fed_by, _source_port in plan)

    def _forget_downstream(self, node_id: str) -> None:
        """Forget the outcome of `node_id` and of every node it feeds, directly or not, without visiting them:
        without its shapes they have none. The walk stops at a node already without shapes (what that one
        feeds has none either, or waits in the queue to be visited).

        This runs for thousands of nodes (a wire taken away near the top of a 10,000-node model), so it does the
        least per node: a node's consumers all read it through their plans (`_plan`), unless they are `_unsure`
        (a plan still to be made, or one that leaves out a wire into a port the node has not, as a loaded file
        may have; a node without a plan has no outcome to forget, or is dirty, and a dirty node forgotten for
        nothing is inferred again when its turn comes); each node's outcome is popped as it is reached (what
        marks it walked), and its inputs, which every node with an outcome has, are popped together at the end."""
        info, errors, consumers, unsure, reads = self._info, self._errors, self._consumers, self._unsure, self._reads
        region = ForgottenRegion(node_id)  # kept in case the wire comes back (`_give_back`)
        self._forgotten.append(region)
        lost_info, lost_errors = region.info, region.errors
        outcome = info.pop(node_id, None)
        if outcome is not None:
            lost_info[node_id] = outcome
        elif node_id in errors:
            lost_errors[node_id] = errors.pop(node_id)
        stack = [node_id]
        pop_info, push, pop = info.pop, stack.append, stack.pop
        while stack:
            current = pop()
            for consumer in consumers[current]:
                if unsure and consumer in unsure and not reads(consumer, current):
                    continue
                outcome = pop_info(consumer, None)
                if outcome is not None:
                    lost_info[consumer] = outcome
                    push(consumer)
                elif errors and consumer in errors:
                    lost_errors[consumer] = errors.pop(consumer)
                    push(consumer)
        walked = [*lost_info, *lost_errors] if lost_errors else list(lost_info)
        region.inputs = dict(zip(walked, map(self._inputs.pop, walked)))  # (they join _touched after the pass)
        self._dropped += len(walked)

    def _forget(self, node_id: str) -> None:
        self._touched.add(node_id)
        self._dropped += 1
        for table in (self._info, self._inputs, self._errors):
            table.pop(node_id, None)

    def result(self) -> InferenceResult:
        """Structural errors first, then shape errors, then shapes for every node that has them. A graph
        with units is expanded and inferred whole each time (`engine.unit_shapes`)."""
        if self.graph.uses_units():
            return self._units_result()
        result = self.infer_shapes()
        structural = validate(self.graph) if self._validation is None else self._validation.errors()
        result.errors = structural + result.errors + self._sharing_errors(result)
        return result

    def _units_result(self) -> InferenceResult:
        """A graph with units: inferred as its expansion, kept live between edits in the editor."""
        if self._validation is None:
            return infer_units(self.graph)
        if self._units is None:
            from engine.unit_shapes import LiveUnitsInference

            self._units = LiveUnitsInference(self.graph)
        return self._units.result()

    def _sharing_errors(self, result: InferenceResult) -> list[GraphError]:
        """Sharing nodes whose weights would not fit those they share; their weights are counted once, on the
        node that owns them."""
        sharing = [self.graph.node(node_id) for node_id in self._shares]
        involved = {node.id for node in sharing} | set(self._shares.values())
        inputs = {node_id: {port: spec.shape for port, spec in result.inputs[node_id].items()}
                  for node_id in involved if node_id in result.inputs}
        errors = sharing_size_errors(self.graph, sharing, inputs,
                                     {node_id: result.info[node_id].params for node_id in involved
                                      if node_id in result.info})
        for node_id in self._shares:
            if node_id in result.info:
                result.info[node_id] = replace(result.info[node_id], params=0)
        return errors


def infer(graph: Graph) -> InferenceResult:
    if graph.uses_units():
        return infer_units(graph)
    inference = ShapeInference(graph, live_validation=False)
    try:
        return inference.result()
    finally:
        inference.close()


def infer_units(graph: Graph) -> InferenceResult:
    from engine.unit_shapes import infer_units as infer_expanded

    return infer_expanded(graph)


def describe(error: GraphError) -> str:
    """`node 'conv2': message` for the CLI."""
    return f"node '{error.node}': {error.message}" if error.node else error.message


_ = fmt  # re-exported
