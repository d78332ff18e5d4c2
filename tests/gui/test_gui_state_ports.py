"""A recurrent layer's state ports on the canvas: drawn, wired by dragging (one undo step), and the wire
shows the state's shape."""

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from graphs.project import Project


def test_dragging_an_encoder_state_to_a_decoder_wires_h_n_to_h0(window, qtbot):
    project = Project(name="seq2seq")
    g = project.graph
    g.add_node("Input", {"shape": [6, 3]}, "x", (0, 0))
    g.add_node("GRU", {"hidden_size": 4, "num_layers": 2}, "encoder", (250, -150))
    g.add_node("GRU", {"hidden_size": 4, "num_layers": 2, "output": "last"}, "decoder", (550, 100))
    g.connect("x", "encoder")
    g.connect("x", "decoder")
    window._set_project(project)
    window.document.flush()
    window._apply_view()
    window.view.set_zoom(0.8)
    window.view.centerOn(window.scene.nodes_rect().center())
    encoder, decoder = window.scene.node_item("encoder"), window.scene.node_item("decoder")
    assert list(encoder.outputs) == ["out", "h_n"] and list(decoder.inputs) == ["in", "h0"]
    start = window.view.mapFromScene(encoder.port("h_n", True).scenePos())
    end = window.view.mapFromScene(decoder.port("h0", False).scenePos())
    viewport = window.view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(viewport, (start + end) / 2)
    assert decoder.port("h0", False).state == "ok"
    QTest.mouseMove(viewport, end)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    edge = window.document.graph.edge_into("decoder", "h0")
    assert (edge.source, edge.source_port) == ("encoder", "h_n")
    qtbot.waitUntil(lambda: window.scene.edge_item(edge).shape_text == "[2, 4]")
    window.document.undo_stack.undo()
    assert window.document.graph.edge_into("decoder", "h0") is None
