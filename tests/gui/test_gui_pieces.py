"""A node with one output port per piece (Split, Chunk) on the canvas: its ports follow its params, wires
start from any of them, and a port that still feeds a wire cannot be removed."""

import pytest

from graphs.errors import GraphError


def test_chunk_shows_one_output_port_per_piece_and_keeps_a_wired_one(window, qtbot):
    doc = window.document
    x = doc.add_node("Input", (0, 0), {"shape": [6, 2]})
    parts = doc.add_node("Chunk", (300, 0), {"chunks": 3})
    exp = doc.add_node("Exp", (600, 0))
    assert doc.connect(x, "out", parts, "in")
    assert doc.connect(parts, "out2", exp, "in")
    doc.flush()
    item = window.scene.node_item(parts)
    assert list(item.outputs) == ["out0", "out1", "out2"]
    assert len({item.port(p, True).scenePos().y() for p in item.outputs}) == 3  # stacked, not on top of each other
    qtbot.waitUntil(lambda: window.scene.edge_item(doc.graph.edge_into(exp, "in")).shape_text == "[2, 2]")
    with pytest.raises(GraphError, match="disconnect output port 'out2'"):
        doc.set_param(parts, "chunks", 2)
    assert doc.graph.node(parts).params["chunks"] == 3
    assert doc.disconnect([doc.graph.edge_into(exp, "in")])
    assert doc.set_param(parts, "chunks", 2)
    doc.flush()
    assert list(window.scene.node_item(parts).outputs) == ["out0", "out1"]
    doc.undo_stack.undo()
    doc.flush()
    assert list(window.scene.node_item(parts).outputs) == ["out0", "out1", "out2"]
