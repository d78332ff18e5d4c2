"""While a wire is dragged, only the ports it would be valid on light up: free, no cycle, and a
shape and dtype the node can use; the others say why."""

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolTip

from graphs.document import Edge
from gui.canvas import wire_check
from gui.canvas.wire_check import MISMATCH, OK, REFUSED, WireCheck
from gui.document import DocumentController
from tests.gui.test_gui_canvas import drag, port_pos, vp


def verdict(controller, source, target, target_port="in", replacing=None):
    return WireCheck(controller, replacing).verdict(Edge(source, target, "out", target_port))


def test_flatten_into_conv_is_a_mismatch_that_says_why(cnn_project):
    c = DocumentController(cnn_project)  # x [1, 8, 8] -> conv -> act -> flat [288] -> fc -> loss <- y
    c.add_node("Conv2d", (0, 400), {"out_channels": 4, "kernel_size": 3})
    c.add_node("Linear", (0, 600), {"out_features": 4})
    state, why = verdict(c, "flat", "conv2d_1")
    assert state == MISMATCH
    assert why.startswith("Conv2d 'conv2d_1' expects input [C, H, W], got [288]")
    assert verdict(c, "flat", "linear_1") == (OK, "")
    assert verdict(c, "x", "conv2d_1") == (OK, "")
    assert verdict(c, "flat", "conv")[0] == REFUSED  # fed by x already: the document's rule comes first


def test_dtype_counts(cnn_project):
    c = DocumentController(cnn_project)
    c.add_node("Embedding", (0, 400), {"num_embeddings": 10, "embedding_dim": 4})
    c.add_node("Input", (0, 600), {"shape": [5], "dtype": "int64"})
    state, why = verdict(c, "x", "embedding_1")
    assert state == MISMATCH and "needs int64 indices, got float32" in why
    assert verdict(c, "input_1", "embedding_1") == (OK, "")


def test_a_node_with_other_inputs_open_judges_only_the_dragged_port(cnn_project):
    c = DocumentController(cnn_project)
    c.add_node("NLLLoss", (0, 400))
    c.add_node("CrossEntropyLoss", (0, 600))
    # the other input is not wired yet: what it will get is not known, so it does not count
    assert verdict(c, "fc", "nllloss_1", "input") == (OK, "")
    assert verdict(c, "y", "crossentropyloss_1", "target") == (OK, "")
    state, why = verdict(c, "y", "crossentropyloss_1", "input")  # class indices are no scores
    assert state == MISMATCH and "floating-point" in why


def test_a_target_of_the_wrong_shape_is_a_mismatch_once_the_input_is_wired(cnn_project):
    c = DocumentController(cnn_project)
    c.add_node("CrossEntropyLoss", (0, 400))
    c.add_node("Target", (0, 600), {"shape": [3], "dtype": "int64"})
    c.connect("fc", "out", "crossentropyloss_1", "input")
    state, why = verdict(c, "target_1", "crossentropyloss_1", "target")
    assert state == MISMATCH and "must have shape [] for input [10], got [3]" in why
    assert verdict(c, "y", "crossentropyloss_1", "target") == (OK, "")


def test_unknown_shapes_and_existing_errors_do_not_count_against_a_wire(cnn_project):
    c = DocumentController(cnn_project)
    c.add_node("Input", (0, 400), {"shape": None})  # no shape yet: what it carries is unknown
    c.add_node("Conv2d", (0, 600), {"out_channels": 4, "kernel_size": 3})
    assert verdict(c, "input_1", "conv2d_1") == (OK, "")
    c.set_param("conv", "groups", 3)  # wrong whatever it is fed; its wire is not to blame
    c.flush()
    assert "groups=3" in c.result.errors_for("conv")[0].message
    wire = c.graph.edge_into("conv", "in")
    assert verdict(c, "x", "conv", replacing=wire) == (OK, "")


def test_moving_a_wire_is_judged_without_it(cnn_project):
    c = DocumentController(cnn_project)
    c.add_node("Conv2d", (0, 400), {"out_channels": 4, "kernel_size": 3})
    moving = c.graph.edge_into("flat", "in")  # act [8, 6, 6] -> flat, picked up by its input end
    assert verdict(c, "act", "conv2d_1", replacing=moving) == (OK, "")
    assert verdict(c, "act", "flat", replacing=moving) == (OK, "")


def test_drag_lights_only_valid_ports_and_hover_says_why(cnn_window, monkeypatch):
    w = cnn_window
    conv = w.document.add_node("Conv2d", (600, 250), {"out_channels": 4, "kernel_size": 3})
    linear = w.document.add_node("Linear", (850, 250), {"out_features": 4})
    w.document.flush()
    calls = []
    real = wire_check.infer_node
    monkeypatch.setattr(wire_check, "infer_node", lambda *a: calls.append(a[0]) or real(*a))
    viewport = w.view.viewport()
    start, end = port_pos(w, "flat", "out", True), port_pos(w, conv, "in", False)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(w, start))
    for i in range(1, 11):
        QTest.mouseMove(viewport, vp(w, start + (end - start) * i / 10))
    assert w.scene.node_item(conv).port("in", False).state == MISMATCH
    assert w.scene.node_item(linear).port("in", False).state == OK
    assert w.scene.node_item("conv").port("in", False).state == REFUSED
    message = w.statusBar().currentMessage()
    assert message.startswith(f"Not compatible: Conv2d '{conv}' expects input [C, H, W], got [288]")
    assert QToolTip.text() == message  # beside the cursor too
    assert len(calls) == len(set(calls))  # once per port, when the drag started, not per mouse move
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(w, end))
    # the document takes the wire (to be fixed by editing) and the node shows the error
    assert w.document.graph.edge_into(conv, "in").source == "flat"
    assert "expects input [C, H, W]" in w.document.result.errors_for(conv)[0].message


def test_dropping_on_a_body_picks_a_fitting_input_first(cnn_window):
    w = cnn_window
    add = w.document.add_node("Concat", (600, 300), {"inputs": 2})
    w.document.flush()
    w.document.connect("flat", "out", add, "in0")  # [288]: in1 must be rank 1 too
    w.document.flush()
    body = w.scene.node_item(add).sceneBoundingRect().center() + QPointF(0, 20)
    drag(w, port_pos(w, "fc", "out", True), body)
    assert w.document.graph.edge_into(add, "in1").source == "fc"
