"""Shapes, params and MACs of a graph with units: inferred on its expansion, then told per node of
the model (an instance's outputs, and its params and MACs summed over its layers) and per unit scope.

The editor's `ShapeInference` calls this on every result of a graph with units: it expands and infers
the whole model again (cheap next to a frame at the sizes units are used for; see docs/units.md for
the figures). Errors inside an instance are moved onto the instance (`Expanded.map_error`).
This module imports no torch.
"""

from __future__ import annotations

from engine.ops.base import NodeInfo
from engine.shapes import InferenceResult, infer
from graphs.document import Graph
from graphs.errors import GraphError
from graphs.units import expand


def infer_units(graph: Graph) -> InferenceResult:
    """The one-shot result of a graph with units."""
    expanded = expand(graph)
    return model_result(graph, expanded, infer(expanded.graph))


class LiveUnitsInference:
    """The editor's inference of a graph with units, kept up to date from the document's events.

    The expansion lives in one kept flat graph, observed by a live `ShapeInference`. An edit of the
    model's own layers (a param, a wire between two layers, a layer added or removed) is made on the flat
    graph as it is; any other edit (of an instance, a Repeat, a wire to one, a unit) has the model
    expanded again into the kept graph, which changes only where the expansion changed. Either way the
    live checks then redo only the layers that changed."""

    def __init__(self, graph: Graph):
        from engine.shapes import ShapeInference

        self.graph = graph
        self.flat = Graph(dotted_ids=True)
        self.flat.custom_types = graph.custom_types
        self.inference = ShapeInference(self.flat)
        self._expanded = None  # None: expand again at the next result
        self._handlers = {
            "node_added": self._on_node_added, "node_removed": self._on_node_removed,
            "edge_added": self._on_edge_added, "edge_removed": self._on_edge_removed,
            "params_changed": self._on_params_changed,
            **{name: self._invalidate for name in ("unit_added", "unit_removed", "unit_replaced", "unit_renamed",
                                                   "unit_changed", "training_options_changed")},
        }
        for name, handler in self._handlers.items():
            getattr(graph, name).sub(handler)

    def result(self) -> InferenceResult:
        if self._expanded is None:
            self._expanded = expand(self.graph, into=self.flat)
        return model_result(self.graph, self._expanded, self.inference.result())

    def close(self) -> None:
        for name, handler in self._handlers.items():
            getattr(self.graph, name).unsub(handler)
        self.inference.close()

    def _invalidate(self, *_args) -> None:
        self._expanded = None

    def _mirrored(self, action) -> None:
        """Make an edit of the model's own layers on the flat graph too (expand again if it can't be)."""
        if self._expanded is None:
            return
        try:
            action()
        except GraphError:
            self._expanded = None

    def _layer(self, node_id: str) -> bool:
        return self.graph.has_node(node_id) and self.graph.is_layer(self.graph.node(node_id).type)

    def _on_node_added(self, node) -> None:
        if not self.graph.is_layer(node.type):
            self._invalidate()
            return
        self._mirrored(lambda: self.flat.add_node(node.type, node.params, node.id, node.position, node.trainable,
                                                  node.lr_mult))

    def _on_node_removed(self, node) -> None:
        if not self.graph.is_layer(node.type):
            self._invalidate()
            return
        self._mirrored(lambda: self.flat.remove_node(node.id))

    def _on_edge_added(self, edge) -> None:
        if not (self._layer(edge.source) and self._layer(edge.target)):
            self._invalidate()
            return
        self._mirrored(lambda: self.flat.connect(edge.source, edge.target, edge.source_port, edge.target_port,
                                                 check=False))

    def _on_edge_removed(self, edge) -> None:
        if not (self._layer(edge.source) and self._layer(edge.target)):
            self._invalidate()
            return
        self._mirrored(lambda: self.flat.disconnect(edge))

    def _on_params_changed(self, node_id, _old, new) -> None:
        if not self._layer(node_id):
            self._invalidate()
            return
        self._mirrored(lambda: self.flat.set_params(node_id, new))


def model_result(graph: Graph, expanded, flat: InferenceResult) -> InferenceResult:
    """The result per node of the model, from the result on its expansion."""
    info, inputs = {}, {}
    for node in graph.nodes():
        if graph.is_layer(node.type):
            if node.id in flat.info:
                info[node.id] = flat.info[node.id]
            if node.id in flat.inputs:
                inputs[node.id] = flat.inputs[node.id]
    totals = scope_totals(expanded, flat)
    for node_id in graph.node_ids():
        if node_id in info or graph.is_layer(graph.node(node_id).type):
            continue
        outputs = {}
        for (instance, port), (source, source_port) in expanded.outputs.items():
            spec = flat.info[source].outputs.get(source_port) if instance == node_id and source in flat.info else None
            if spec is not None:
                outputs[port] = spec
        params, macs = totals.get(node_id, (0, 0))
        if outputs:
            info[node_id] = NodeInfo(outputs, params, macs)
    for node_id in graph.node_ids():
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


def scope_totals(expanded, flat: InferenceResult) -> dict[str, tuple[int, int]]:
    """(params, MACs) of every instance and Repeat, by the prefix of its flat ids."""
    totals = {scope.prefix: [0, 0] for scope in expanded.scopes}
    for node_id, node_info in flat.info.items():  # onto the innermost scope holding the layer
        total = totals.get(node_id.rpartition(".")[0])
        if total is not None:
            total[0] += node_info.params
            total[1] += node_info.macs
    for scope in reversed(expanded.scopes):  # inner scopes come after outer ones: add each to its parent
        parent = totals.get(scope.parent) if scope.parent else None
        if parent is not None:
            parent[0] += totals[scope.prefix][0]
            parent[1] += totals[scope.prefix][1]
    return {prefix: (params, macs) for prefix, (params, macs) in totals.items()}
