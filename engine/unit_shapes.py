"""Shapes, params and MACs of a graph with units: inferred on its expansion, then told per node of
the model (an instance's outputs, and its params and MACs summed over its layers) and per unit scope.

The editor's `ShapeInference` calls this on every result of a graph with units: `LiveUnitsInference`
keeps the expansion in one flat graph, patched where an edit changes it (`graphs.units.live`), and infers
that graph incrementally (bench section 18 has the figures); the copies of a Repeat with equal params and
inputs share each layer's outcome (`ShapeInference._outcome`), and where an edit changes them all, the copies
alike take their outcomes whole (`engine.copy_replay`, told the copies by `LiveExpansion.copy_chains`). Errors
inside an instance are moved onto the instance (`Expanded.map_error`).
This module imports no torch.
"""

from __future__ import annotations

from itertools import chain
from operator import attrgetter, itemgetter

from engine.ops.base import NodeInfo
from engine.shapes import InferenceResult, infer
from graphs.document import Graph
from graphs.errors import GraphError
from graphs.units import expand
from graphs.units.live import LiveExpansion

_PARAMS, _MACS = attrgetter("params"), attrgetter("macs")
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


def infer_units(graph: Graph) -> InferenceResult:
    """The one-shot result of a graph with units."""
    expanded = expand(graph)
    return model_result(graph, expanded, infer(expanded.graph))


class LiveUnitsInference:
    """The editor's inference of a graph with units, kept up to date from the document's events.

    The expansion lives in one kept flat graph (`graphs.units.live.LiveExpansion`), observed by a live
    `ShapeInference`. An edit of the model's own layers (a param, a wire between two layers, a layer added
    or removed) is made on the flat graph as it is; an edit of an instance's or a Repeat's params or wires,
    or inside a unit, has only the part of the expansion it changes expanded again and patched in; any other edit
    has the whole model expanded again into the kept graph, which changes only where the expansion
    changed. Either way the live checks then redo only the layers that changed, and the totals per
    instance only those of the layers whose result changed (`ScopeTotals`)."""

    def __init__(self, graph: Graph):
        from engine.shapes import ShapeInference

        self.graph = graph
        self.live = LiveExpansion(graph)
        self.flat = self.live.flat
        self.inference = ShapeInference(self.flat)
        self.totals = ScopeTotals()
        self._handlers = {
            "node_added": self._on_node_added, "node_removed": self._on_node_removed,
            "edge_added": self._on_edge_added, "edge_removed": self._on_edge_removed,
            "params_changed": self._on_params_changed, "unit_changed": self.live.unit_changed,
            "training_options_changed": self._on_training_options_changed,
            **{name: self._invalidate for name in ("unit_added", "unit_removed", "unit_replaced", "unit_renamed")},
        }
        for name, handler in self._handlers.items():
            getattr(graph, name).sub(handler)

    def result(self) -> InferenceResult:
        expanded = self.live.update()
        self.inference.follow_copies(self.live.copy_chains())
        return model_result(self.graph, expanded, self.inference.result(), self.totals)

    def close(self) -> None:
        for name, handler in self._handlers.items():
            getattr(self.graph, name).unsub(handler)
        self.inference.close()

    def _invalidate(self, *_args) -> None:
        self.live.invalidate()

    def _mirrored(self, action) -> None:
        """Make an edit of the model's own layers on the flat graph too (expand again if it can't be)."""
        if self.live.expanded is None:
            return
        try:
            action()
        except GraphError:
            self.live.invalidate()

    def _layer(self, node_id: str) -> bool:
        return self.graph.has_node(node_id) and self.graph.is_layer(self.graph.node(node_id).type)

    def _on_node_added(self, node) -> None:
        if not self.graph.is_layer(node.type):
            self._invalidate()
            return

        def add():
            self.flat.add_node(node.type, node.params, node.id, node.position, node.trainable, node.lr_mult)
            self.live.layer_added(node.id)
        self._mirrored(add)

    def _on_node_removed(self, node) -> None:
        if not self.graph.is_layer(node.type):
            self._invalidate()
            return

        def remove():
            self.flat.remove_node(node.id)
            self.live.layer_removed(node.id)
        self._mirrored(remove)

    def _on_edge_added(self, edge) -> None:
        if not (self._layer(edge.source) and self._layer(edge.target)):
            self.live.wire_changed(edge)
            return
        self._mirrored(lambda: self.flat.connect(edge.source, edge.target, edge.source_port, edge.target_port,
                                                 check=False))

    def _on_edge_removed(self, edge) -> None:
        if not (self._layer(edge.source) and self._layer(edge.target)):
            self.live.wire_changed(edge)
            return
        self._mirrored(lambda: self.flat.disconnect(edge))

    def _on_params_changed(self, node_id, old, new) -> None:
        if not self._layer(node_id):
            self.live.instance_changed(node_id, old)
            return
        self._mirrored(lambda: self.flat.set_params(node_id, new))

    def _on_training_options_changed(self, node_id, trainable, lr_mult) -> None:
        if not self._layer(node_id):
            self.live.instance_changed(node_id)
            return
        self._mirrored(lambda: self.flat.set_training_options(node_id, trainable, lr_mult))


def model_result(graph: Graph, expanded, flat: InferenceResult, totals: ScopeTotals | None = None) -> InferenceResult:
    """The result per node of the model, from the result on its expansion (`totals`: kept between results).
    The model's layers are the flat graph's nodes whose ids have no dot; an instance's outputs are those
    of the layers giving them, its params and MACs the sums over its layers."""
    given: dict[str, dict] = {}  # instance -> port -> the spec its flat layer gives
    for (instance, port), (source, source_port) in expanded.outputs.items():
        source_info = flat.info.get(source)
        spec = source_info.outputs.get(source_port) if source_info is not None else None
        if spec is not None:
            given.setdefault(instance, {})[port] = spec
    totals = scope_totals(expanded, flat) if totals is None else totals.update(expanded, flat)
    info, inputs = {}, {}
    node_ids = graph.node_ids()
    for node_id in node_ids:
        if expanded.graph.has_node(node_id):
            if node_id in flat.info:
                info[node_id] = flat.info[node_id]
            if node_id in flat.inputs:
                inputs[node_id] = flat.inputs[node_id]
        elif node_id in given:
            info[node_id] = NodeInfo(given[node_id], *totals.get(node_id, (0, 0)))
    for node_id in node_ids:
        if node_id in inputs:
            continue
        fed = {}
        for edge in graph.in_edges(node_id):
            spec = info[edge.source].outputs.get(edge.source_port) if edge.source in info else None
            if spec is not None:
                fed[edge.target_port] = spec
        inputs[node_id] = fed
    errors = expanded.errors + (expanded.map_errors(flat.errors) if expanded.complete else [])
    return InferenceResult(info, inputs, errors, expanded, flat)


def scope_totals(expanded, flat: InferenceResult) -> dict[str, list[int]]:
    """(params, MACs) of every instance and Repeat, by the prefix of its flat ids."""
    return ScopeTotals().update(expanded, flat)


class ScopeTotals:
    """`scope_totals` kept between results: a layer whose result changed has its params and MACs moved in
    the sums of its scope and the scopes around it, so a result after a one-layer edit costs a pass over
    the layers the inference touched, not a sum over every layer and scope. When most layers changed (every copy
    of a Repeat edited), each scope's layers are summed afresh, once for all the scopes whose layers have the very
    same results (alike copies). The sums are made again when the expansion's scopes change. The dict `update`
    returns is its own: read it at once."""

    def __init__(self):
        self._seen: dict = {}  # flat id -> the NodeInfo counted for it
        self._borrowed = False  # `_seen` is a result's `info` (read only), not a dict of its own
        self._own: dict[str, list[int]] = {}  # scope prefix -> [params, MACs] of the layers directly in it
        self._totals: dict[str, list[int]] = {}  # scope prefix -> [params, MACs] of all the layers in it
        self._parents: dict[str, str] = {}
        self._scopes = None  # the scopes the sums are for
        self._basis = None  # the flat result counted last: the next one's `changed` says what differs from it
        self._members: list[tuple[str, int, int]] = []  # (scope prefix, where its own layers are in `_layers`)
        self._layers: list[str] = []  # the layers, scope after scope (see _recount)
        self._member_ids: set[str] = set()
        self._nesting: tuple = (None, [])  # the scopes, and (a scope, the scopes directly inside it), inner holders first

    def update(self, expanded, flat: InferenceResult) -> dict[str, list[int]]:
        seen, info = self._seen, flat.info
        touched = flat.changed if flat.basis is not None and flat.basis is self._basis else None
        self._basis = flat
        most = touched is not None and len(touched) * 2 > len(info)  # most layers touched: recounted below
        if most:
            changes = ()
        elif touched is not None:  # the layers touched since the result counted last: those whose result changed
            changes = [node_id for node_id in touched if seen.get(node_id) is not info.get(node_id)]
        else:
            # the ids only (a list of tuples for 8,000 changed layers would be garbage the collector walks)
            changes = [node_id for node_id, node_info in info.items() if seen.get(node_id) is not node_info]
            if len(seen) + sum(node_id not in seen for node_id in changes) > len(info):  # layers gone since then
                changes += [node_id for node_id in seen if node_id not in info]
        if most or self._scopes is not expanded.scopes or len(changes) > len(expanded.scopes):
            self._scopes = None  # many changes (or other scopes): add the sums up again, once, below
            if most or len(changes) * 2 > len(info):  # most layers changed: count each scope afresh, not out and in again
                self._recount(info)
                changes = ()
        if changes and self._borrowed:  # the result's own dict until now: counted in a copy of it
            seen = self._seen = dict(seen)
            self._borrowed = False
        for node_id in changes:
            old, new = seen.get(node_id), info.get(node_id)
            if old is not None:
                self._count(node_id, old, -1)
            if new is None:
                del seen[node_id]
            else:
                self._count(node_id, new, 1)
                seen[node_id] = new
        if self._scopes is None:
            self._roll_up(expanded.scopes)
        return self._totals

    def _recount(self, info: dict) -> None:
        """Every scope's own sums afresh: a scope whose layers have the same results as the scope before it's
        (the same NodeInfo objects, as a Repeat's alike copies share them) takes that one's sums."""
        if info.keys() != self._member_ids:
            members = {}
            for node_id in info:
                members.setdefault(node_id.rpartition(".")[0], []).append(node_id)
            self._member_ids, self._layers = set(info), list(chain.from_iterable(members.values()))
            self._members, start = [], 0
            for prefix, layers in members.items():
                self._members.append((prefix, start, start + len(layers)))
                start += len(layers)
        results = list(map(info.__getitem__, self._layers))
        own, before, found = {}, None, None
        for prefix, start, end in self._members:  # the copies of a Repeat one after the other
            layers = results[start:end]
            if layers != before:  # (the same NodeInfo objects compare at once)
                before, found = layers, (sum(map(_PARAMS, layers)), sum(map(_MACS, layers)))
            own[prefix] = [*found]
        self._own, self._seen, self._borrowed = own, info, True

    def _count(self, node_id: str, node_info, sign: int) -> None:
        prefix = node_id.rpartition(".")[0]
        params, macs = sign * node_info.params, sign * node_info.macs
        own = self._own.setdefault(prefix, [0, 0])
        own[0] += params
        own[1] += macs
        while self._scopes is not None and prefix in self._totals:  # the scope and those around it
            total = self._totals[prefix]
            total[0] += params
            total[1] += macs
            prefix = self._parents[prefix]

    def _roll_up(self, scopes) -> None:
        """Each scope's own sums plus those of the scopes inside it."""
        if self._nesting[0] is not scopes:
            self._parents = {scope.prefix: scope.parent for scope in scopes}
            places = {scope.prefix: i for i, scope in enumerate(scopes)}
            inside: dict[str, list[str]] = {}  # a scope -> the scopes directly inside it
            for scope in scopes:
                if scope.parent in self._parents:
                    inside.setdefault(scope.parent, []).append(scope.prefix)
            # inner scopes come after outer ones: the innermost holders first, so that each adds up finished sums
            self._nesting = scopes, sorted(inside.items(), key=lambda item: -places[item[0]])
        own, zero = self._own, (0, 0)
        totals = {prefix: [*own.get(prefix, zero)] for prefix in self._parents}
        for holder, prefixes in self._nesting[1]:
            inner = list(map(totals.__getitem__, prefixes))
            total = totals[holder]
            total[0] += sum(map(_FIRST, inner))
            total[1] += sum(map(_SECOND, inner))
        self._totals, self._scopes = totals, scopes
