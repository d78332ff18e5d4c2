"""Edits the random-edit tests share."""

from __future__ import annotations

from graphs.document import Graph


def remove_node(graph: Graph, node_id: str, undo: bool) -> None:
    """Remove a node; with `undo`, put it back as the editor's undo does: at its place in the node order,
    with its wires (unchecked, as they were)."""
    node, place = graph.node(node_id), graph.index_of(node_id)
    wires = dict.fromkeys(graph.in_edges(node_id) + graph.out_edges(node_id))
    graph.remove_node(node_id)
    if undo:
        graph.add_node(node.type, node.params, node.id, node.position, index=place)
        for wire in wires:
            graph.connect(wire.source, wire.target, wire.source_port, wire.target_port, check=False)
