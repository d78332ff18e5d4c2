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
from graphs.catalogue import CATALOGUE
from graphs.document import Graph
from graphs.units import expand


def infer_units(graph: Graph) -> InferenceResult:
    expanded = expand(graph)
    flat = infer(expanded.graph)
    info, inputs = {}, {}
    for node in graph.nodes():
        if node.type in CATALOGUE:
            if node.id in flat.info:
                info[node.id] = flat.info[node.id]
            if node.id in flat.inputs:
                inputs[node.id] = flat.inputs[node.id]
    totals = scope_totals(expanded, flat)
    for node_id in graph.node_ids():
        if node_id in info or graph.node(node_id).type in CATALOGUE:
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
    errors = expanded.errors + expanded.map_errors(flat.errors)
    return InferenceResult(info, inputs, errors, expanded, flat)


def scope_totals(expanded, flat: InferenceResult) -> dict[str, tuple[int, int]]:
    """(params, MACs) of every instance and Repeat, by the prefix of its flat ids."""
    totals = {scope.prefix: [0, 0] for scope in expanded.scopes}
    for node_id, node_info in flat.info.items():
        parts = node_id.split(".")
        for end in range(1, len(parts)):
            total = totals.get(".".join(parts[:end]))
            if total is not None:
                total[0] += node_info.params
                total[1] += node_info.macs
    return {prefix: (params, macs) for prefix, (params, macs) in totals.items()}
