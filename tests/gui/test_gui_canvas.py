"""The canvas, driven through its real widgets: adding nodes, wiring, moving, deleting, feedback."""

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from gui.canvas.edge_item import EdgeItem
from gui.canvas.view import DROP_OFFSET, NODE_MIME


def vp(window, scene_pos) -> QPoint:
    """Viewport coordinates of a scene point."""
    return window.view.mapFromScene(scene_pos)


def drag(window, start, end, button=Qt.MouseButton.LeftButton, steps=4):
    """Press at scene point `start`, move in steps, release at `end` (real mouse events)."""
    viewport = window.view.viewport()
    a, b = vp(window, start), vp(window, end)
    QTest.mousePress(viewport, button, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        QTest.mouseMove(viewport, a + (b - a) * i / steps)
    QTest.mouseRelease(viewport, button, Qt.KeyboardModifier.NoModifier, b)


def port_pos(window, node_id, port, output):
    return window.scene.node_item(node_id).port(port, output).scenePos()


def spy_add_node(window, monkeypatch):
    calls = []
    original = window.document.add_node

    def add_node(type_name, position=(0.0, 0.0), params=None):
        calls.append((type_name, tuple(position)))
        return original(type_name, position, params)

    monkeypatch.setattr(window.document, "add_node", add_node)
    return calls


# ---- adding nodes: drop, palette double-click, quick add (one code path) ---------
def test_drop_from_palette_adds_node_under_cursor(window, monkeypatch):
    calls = spy_add_node(window, monkeypatch)
    mime = QMimeData()
    mime.setData(NODE_MIME, b"Conv2d")
    pos = QPoint(300, 200)
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    viewport = window.view.viewport()
    enter = QDragEnterEvent(pos, *args)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(pos, *args)
    QApplication.sendEvent(viewport, move)
    assert move.isAccepted()
    QApplication.sendEvent(viewport, QDropEvent(QPointF(pos), *args))
    graph = window.document.graph
    assert graph.node_ids() == ["conv2d_1"]
    expected = window.view.mapToScene(pos) - DROP_OFFSET
    assert graph.node("conv2d_1").position == (round(expected.x()), round(expected.y()))
    assert window.scene.selected_node_ids() == ["conv2d_1"]
    assert window.scene.node_item("conv2d_1") is not None
    assert calls == [("Conv2d", (expected.x(), expected.y()))]
    assert window.document.undo_stack.count() == 1


def test_palette_mime_data_carries_the_type(window):
    item = window.palette.item("LSTM")
    mime = window.palette.tree.mimeData([item])
    assert bytes(mime.data(NODE_MIME)) == b"LSTM"


def test_palette_double_click_adds_at_centre_without_overlap(window, monkeypatch, qtbot):
    calls = spy_add_node(window, monkeypatch)
    tree = window.palette.tree
    for i in range(3):
        if i:
            qtbot.wait(QApplication.doubleClickInterval() + 50)  # three double-clicks, not a triple click
        item = window.palette.item("Linear")
        tree.scrollToItem(item)
        centre = tree.visualItemRect(item).center()
        # a real double-click: the first press lands on the item, the second one is the double-click
        QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
        QTest.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    assert len(calls) == 3
    items = window.scene.node_items()
    assert [i.node_id for i in items] == ["linear_1", "linear_2", "linear_3"]
    rects = [i.sceneBoundingRect() for i in items]
    assert not any(rects[i].intersects(rects[j]) for i in range(3) for j in range(i + 1, 3))
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert rects[0].contains(centre) or (rects[0].center() - centre).manhattanLength() < 120


def test_palette_search_filters(window):
    window.palette.search.setText("pool")
    visible = window.palette.visible_types()
    assert "MaxPool2d" in visible and "AdaptiveAvgPool2d" in visible
    assert "Linear" not in visible
    window.palette.search.setText("")
    assert len(window.palette.visible_types()) > 40


def test_palette_search_matches_names_not_doc_text(window):
    search = window.palette.search
    search.setText("input")
    assert window.palette.visible_types() == ["Input"]  # no loss whose doc mentions its input
    search.setText("Loss")
    losses = window.palette.visible_types()
    assert "CrossEntropyLoss" in losses and "MSELoss" in losses and all(n.endswith("Loss") for n in losses)
    search.setText("activ")  # a category
    assert "ReLU" in window.palette.visible_types()
    added = []
    window.palette.addRequested.connect(added.append)
    search.setText("elu")
    QTest.keyClick(search, Qt.Key.Key_Return)
    assert added == ["ELU"]  # the best match, not the first in the tree (ReLU)


def test_quick_add_with_type_ahead(window, monkeypatch, qtbot):
    calls = spy_add_node(window, monkeypatch)
    scene_pos = QPointF(120, 80)
    window.view.open_quick_add(scene_pos)
    popup = window.view.quick_add
    assert popup.isVisible()
    QTest.keyClicks(popup.search, "maxpool2")
    assert popup.current() == "MaxPool2d"
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    assert not popup.isVisible()
    assert window.document.graph.node_ids() == ["maxpool2d_1"]
    top_left = scene_pos - DROP_OFFSET
    assert window.document.graph.node("maxpool2d_1").position == (round(top_left.x()), round(top_left.y()))
    assert len(calls) == 1


def test_tab_and_double_click_open_quick_add(window, qtbot):
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Tab)
    assert window.view.quick_add.isVisible()
    window.view.quick_add.hide()
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      QPoint(200, 200))
    assert window.view.quick_add.isVisible()
    window.view.quick_add.hide()


# ---- wiring ------------------------------------------------------------------------
def test_drag_wire_between_ports(cnn_window, qtbot):
    w = cnn_window
    relu = w.document.add_node("ReLU", (1000, 300))
    w.document.flush()
    start = port_pos(w, "fc", "out", True)
    end = port_pos(w, relu, "in", False)
    viewport = w.view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(w, start))
    QTest.mouseMove(viewport, vp(w, (start + end) / 2))
    # while dragging, compatible ports light up and the others do not
    assert w.scene.node_item(relu).port("in", False).state == "ok"
    assert w.scene.node_item("conv").port("in", False).state == "refused"  # already fed by x
    QTest.mouseMove(viewport, vp(w, end))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(w, end))
    assert w.document.graph.edge_into(relu, "in").source == "fc"
    assert all(p.state == "normal" for p in w.scene.all_ports())
    qtbot.waitUntil(lambda: w.scene.edge_item(w.document.graph.edge_into(relu, "in")).shape_text == "[10]")


def test_refused_wire_is_not_made_and_status_bar_says_why(cnn_window):
    w = cnn_window
    before = w.document.graph.snapshot()
    drag(w, port_pos(w, "fc", "out", True), port_pos(w, "conv", "in", False))
    assert w.document.graph.snapshot() == before
    assert "already connected to 'x'" in w.statusBar().currentMessage()
    drag(w, port_pos(w, "act", "out", True), port_pos(w, "x", "out", True))  # output to output
    assert w.document.graph.snapshot() == before


def test_cycle_refused_with_message(cnn_window):
    w = cnn_window
    w.document.disconnect([w.document.graph.edge_into("conv", "in")])
    before = w.document.graph.snapshot()
    drag(w, port_pos(w, "fc", "out", True), port_pos(w, "conv", "in", False))
    assert w.document.graph.snapshot() == before
    assert "would make a cycle" in w.statusBar().currentMessage()


def test_drag_wire_off_an_input_removes_it_and_undo_restores(cnn_window):
    w = cnn_window
    edge = w.document.graph.edge_into("act", "in")
    drag(w, port_pos(w, "act", "in", False), QPointF(300, 600))
    assert w.document.graph.edge_into("act", "in") is None
    w.document.undo_stack.undo()
    assert w.document.graph.edge_into("act", "in") == edge
    assert w.scene.edge_item(edge).isVisible()


def test_escape_cancels_a_wire_drag(cnn_window):
    w = cnn_window
    before = w.document.graph.snapshot()
    start = port_pos(w, "fc", "out", True)
    QTest.mousePress(w.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(w, start))
    QTest.mouseMove(w.view.viewport(), vp(w, start + QPointF(80, 80)))
    QTest.keyClick(w.view.viewport(), Qt.Key.Key_Escape)
    assert w.scene.gesture is None
    QTest.mouseRelease(w.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       vp(w, start + QPointF(80, 80)))
    assert w.document.graph.snapshot() == before


# ---- moving, selecting, deleting -----------------------------------------------------
def test_drag_moves_visually_then_one_move_command(cnn_window):
    w = cnn_window
    item = w.scene.node_item("act")
    grab = item.scenePos() + QPointF(40, 8)  # the header
    drag(w, grab, grab + QPointF(100, 60), steps=6)
    stack = w.document.undo_stack
    assert stack.count() == 1 and stack.text(0) == "Move 'act'"
    assert w.document.graph.node("act").position == (500.0, 60.0)
    stack.undo()
    assert item.pos() == QPointF(400, 0)


def test_rubber_band_selects(cnn_window):
    w = cnn_window
    rect = w.scene.nodes_rect([w.scene.node_item(n) for n in ("x", "conv")])
    drag(w, rect.topLeft() - QPointF(20, 40), QPointF(rect.right() + 10, rect.top() + 10))
    assert w.scene.selected_node_ids() == ["x", "conv"]


def test_delete_removes_selection_and_wires_undo_restores(cnn_window):
    w = cnn_window
    before = w.document.graph.snapshot()
    w.scene.select_nodes(["conv"])
    w.view.setFocus()
    QTest.keyClick(w.view, Qt.Key.Key_Delete)
    graph = w.document.graph
    assert not graph.has_node("conv") and w.scene.node_item("conv") is None
    assert not [e for e in graph.edges() if "conv" in (e.source, e.target)]
    assert len(w.scene.edge_items()) == len(graph.edges())
    w.document.undo_stack.undo()
    assert graph.snapshot() == before
    assert len(w.scene.edge_items()) == len(graph.edges())


def test_delete_a_selected_wire(cnn_window):
    w = cnn_window
    edge = w.document.graph.edge_into("flat", "in")
    w.scene.clearSelection()
    w.scene.edge_item(edge).setSelected(True)
    w.act.delete.trigger()
    assert edge not in w.document.graph.edges()
    assert w.document.graph.has_node("flat")


# ---- what the items show ------------------------------------------------------------
def test_node_item_shows_type_id_key_params_shape_and_params(cnn_window):
    item = cnn_window.scene.node_item("conv")
    assert item.type_name == "Conv2d" and item.node_id == "conv"
    assert ("out_channels", "8") in item.key_params and ("kernel_size", "3") in item.key_params
    assert item.shape_text == "[8, 6, 6]"
    assert item.params_count == 80
    assert list(item.inputs) == ["in"] and list(item.outputs) == ["out"]
    loss = cnn_window.scene.node_item("loss")
    assert list(loss.inputs) == ["input", "target"]
    assert loss.port("input", False).pos().x() == 0
    assert item.port("out", True).pos().x() == item.rect().width()


def test_node_sized_to_its_text(window):
    doc = window.document
    node_id = doc.add_node("TransformerEncoderLayer", (0, 0))
    doc.flush()
    item = window.scene.node_item(node_id)
    from PySide6.QtGui import QFontMetricsF

    title = QFontMetricsF(item._title_font).horizontalAdvance("TransformerEncoderLayer")
    assert item.rect().width() > title + QFontMetricsF(item._id_font).horizontalAdvance(node_id)


def test_error_node_is_marked_with_message(cnn_window, qtbot):
    w = cnn_window
    w.document.set_param("conv", "kernel_size", 9)  # bigger than the 8x8 input
    qtbot.waitUntil(lambda: bool(w.scene.node_item("conv").errors))
    item = w.scene.node_item("conv")
    message = w.document.result.errors_for("conv")[0].message
    assert item.errors == [message]
    assert message in item.toolTip().replace("&#x27;", "'")
    assert w.validity.text().startswith("⚠")
    w.scene.select_nodes(["conv"])
    assert message in w.statusBar().currentMessage()
    w.document.undo_stack.undo()
    qtbot.waitUntil(lambda: not w.scene.node_item("conv").errors)
    assert w.validity.text() == "✓ ready"


def test_wire_shows_shape_on_hover(cnn_window):
    edge = cnn_window.document.graph.edge_into("act", "in")
    item = cnn_window.scene.edge_item(edge)
    assert isinstance(item, EdgeItem)
    assert "[8, 6, 6]" in item.toolTip()
    assert not item.label.isVisible()
    item.hovered = True
    item._restyle()
    assert item.label.isVisible() and item.label.text == "[8, 6, 6]"


def test_live_shape_update_after_edit(cnn_window, qtbot):
    w = cnn_window
    w.document.set_param("conv", "out_channels", 4)
    qtbot.waitUntil(lambda: w.scene.node_item("conv").shape_text == "[4, 6, 6]")
    assert w.scene.node_item("fc").shape_text == "[10]"
    assert w.scene.node_item("fc").params_count == 4 * 6 * 6 * 10 + 10


# ---- view -------------------------------------------------------------------------
def test_wheel_zooms_around_the_cursor(cnn_window):
    view = cnn_window.view
    view.set_zoom(1.0)
    pos = QPoint(250, 180)
    before = view.mapToScene(pos)
    QTest.mouseMove(view.viewport(), pos)
    event = QWheelEvent(QPointF(pos), QPointF(view.viewport().mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(view.viewport(), event)
    assert view.zoom > 1.3
    after = view.mapToScene(pos)
    assert (after - before).manhattanLength() < 3


def test_frame_all_and_selected(cnn_window):
    w = cnn_window
    w.view.set_zoom(3.0)
    w.view.setFocus()
    QTest.keyClick(w.view, Qt.Key.Key_F)
    visible = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    assert visible.contains(w.scene.nodes_rect())
    w.scene.select_nodes(["fc"])
    QTest.keyClick(w.view, Qt.Key.Key_F, Qt.KeyboardModifier.ShiftModifier)
    visible = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    assert visible.contains(w.scene.node_item("fc").sceneBoundingRect())
    assert abs(visible.center().x() - w.scene.node_item("fc").sceneBoundingRect().center().x()) < 2


def test_middle_button_pans(cnn_window):
    w = cnn_window
    centre = w.view.mapToScene(w.view.viewport().rect().center())
    drag(w, centre, centre + QPointF(100, 50), button=Qt.MouseButton.MiddleButton)
    moved = w.view.mapToScene(w.view.viewport().rect().center())
    assert (moved - (centre - QPointF(100, 50))).manhattanLength() < 4
    assert w.document.undo_stack.count() == 0


def test_scene_follows_undo_of_add_and_remove(cnn_window):
    w = cnn_window
    node_id = w.document.add_node("GELU", (0, 400))
    assert w.scene.node_item(node_id) is not None
    w.document.undo_stack.undo()
    assert w.scene.node_item(node_id) is None
    w.document.undo_stack.redo()
    assert w.scene.node_item(node_id) is not None
    assert len(w.scene.node_items()) == len(w.document.graph)


def test_space_drag_pans_without_selecting_or_moving(cnn_window):
    w = cnn_window
    w.view.setFocus()
    centre = w.view.mapToScene(w.view.viewport().rect().center())
    QTest.keyPress(w.view, Qt.Key.Key_Space)
    grab = w.scene.node_item("act").scenePos() + QPointF(30, 8)  # starting on a node must not move it
    drag(w, grab, grab + QPointF(-120, 40))
    QTest.keyRelease(w.view, Qt.Key.Key_Space)
    moved = w.view.mapToScene(w.view.viewport().rect().center())
    assert (moved - (centre + QPointF(120, -40))).manhattanLength() < 4
    assert w.document.undo_stack.count() == 0
    assert w.view.dragMode() == w.view.DragMode.RubberBandDrag


def test_hovering_a_wire_shows_its_shape(cnn_window, qtbot):
    w = cnn_window
    w.document.move_nodes({"act": (400, 300)})  # make the conv -> act wire long enough to hover
    edge = w.document.graph.edge_into("act", "in")
    item = w.scene.edge_item(edge)
    w.view.centerOn(item)
    middle = item.path().pointAtPercent(0.5)
    QTest.mouseMove(w.view.viewport(), vp(w, middle) + QPoint(0, 8))
    QTest.mouseMove(w.view.viewport(), vp(w, middle))
    qtbot.waitUntil(lambda: item.hovered)
    assert item.label.isVisible()
    assert "conv.out → act.in:  [8, 6, 6]" == w.statusBar().currentMessage()


def test_skip_wire_detours_above_the_nodes_it_would_cross(window, example, qtbot):
    assert window.open_project(example("residual_cnn"))
    qtbot.wait(10)
    skip = window.scene.edge_item(window.document.graph.edge_into("add", "in1"))
    between = [window.scene.node_item(n).sceneBoundingRect() for n in ("conv2", "bn2", "act2", "conv3", "bn3")]
    assert skip.path().boundingRect().top() < min(r.top() for r in between)
    chain = window.scene.edge_item(window.document.graph.edge_into("conv2", "in"))
    assert chain.path().boundingRect().height() < 1  # neighbours in a row: a straight wire


def test_an_edit_redraws_only_the_nodes_it_changes(cnn_window, monkeypatch, qtbot):
    from gui.canvas.node_item import NodeItem

    w = cnn_window
    relaid = []
    original = NodeItem._relayout
    monkeypatch.setattr(NodeItem, "_relayout", lambda self: (relaid.append(self.node_id), original(self)))
    w.document.set_param("fc", "out_features", 5)
    w.document.flush()
    qtbot.wait(10)
    assert sorted(set(relaid)) == ["fc", "loss"]  # fc's params and shape; the loss's input shape (and error)
