"""The canvas's build path: a freshly opened scene makes no port items until they are asked for, yet
looks and behaves as one that made them all: the same pixels, wires ending at the same points, a
wire drag that starts with a press on a port nobody hovered, connected ports filled as the wires
say (also after edits made while the ports were not made), and a scene built from a result shows
that result without a second pass."""

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QStyleOptionGraphicsItem

from tests.gui.test_gui_canvas import vp


def render(item) -> QImage:
    """The item (and its children) drawn at zoom 1, as the view would draw them."""
    bounds = item.boundingRect()
    image = QImage(int(bounds.width()) + 2, int(bounds.height()) + 2, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.translate(-bounds.left() + 1, -bounds.top() + 1)
    option = QStyleOptionGraphicsItem()
    item.paint(painter, option)
    for child in item.childItems():
        painter.save()
        painter.translate(child.pos())
        child.paint(painter, option)
        painter.restore()
    painter.end()
    return image


def test_an_opened_scene_makes_no_port_items_until_asked(cnn_window):
    scene = cnn_window.scene
    made = [item.node_id for item in scene.node_items() if item.ports_made()]
    assert made == [] and scene.all_ports() == []
    fc = scene.node_item("fc")
    assert list(fc.inputs) == ["in"] and list(fc.outputs) == ["out"]  # asked: made, in port order
    assert fc.ports_made() and {p.name for p in scene.all_ports()} == {"in", "out"}
    assert fc.port("out", True).scenePos() == fc.port_scene_pos("out", True)


def test_a_node_without_port_items_draws_what_it_draws_with_them(cnn_window):
    for node_id in ("conv", "loss"):  # one wired on both sides, one with two inputs and no output wire
        item = cnn_window.scene.node_item(node_id)
        before = render(item)
        item.ports()
        assert item.childItems()
        assert render(item) == before, node_id


def test_wires_end_where_the_port_items_sit(cnn_window):
    scene = cnn_window.scene
    for edge_item in scene.edge_items():
        start, end = edge_item.endpoints()
        edge = edge_item.edge
        assert start == scene.node_item(edge.source).port(edge.source_port, True).scenePos()
        assert end == scene.node_item(edge.target).port(edge.target_port, False).scenePos()


def test_a_press_on_a_port_never_hovered_starts_a_wire(cnn_window, qtbot):
    w = cnn_window
    relu = w.document.add_node("ReLU", (1000, 300))
    w.document.flush()
    fc, target = w.scene.node_item("fc"), w.scene.node_item(relu)
    assert not fc.ports_made() and not target.ports_made()
    start, end = fc.port_scene_pos("out", True), target.port_scene_pos("in", False)
    viewport = w.view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(w, start))
    QTest.mouseMove(viewport, vp(w, (start + end) / 2))
    assert w.scene.gesture is not None
    QTest.mouseMove(viewport, vp(w, end))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(w, end))
    assert w.document.graph.edge_into(relu, "in").source == "fc"
    assert target.port("in", False).connected


def test_ports_made_after_edits_show_the_wires_as_they_are_now(cnn_window):
    w = cnn_window
    doc, scene = w.document, w.scene
    edge = doc.graph.in_edges("fc")[0]
    doc.disconnect([edge])
    doc.flush()
    fc = scene.node_item("fc")
    assert not fc.ports_made()
    assert not fc.port("in", False).connected and fc.port("out", True).connected
    doc.undo_stack.undo()
    doc.flush()
    assert fc.port("in", False).connected


def test_a_scene_built_from_a_result_shows_it_without_a_second_pass(cnn_window):
    scene = cnn_window.scene
    scene._rebuild()
    cnn_window.document.resultChanged.emit(cnn_window.document.result)
    assert scene.stale_count() == 0  # the items were made showing the result: nothing left to show
    assert not any(item.stale for item in scene.node_items())
    result = cnn_window.document.result
    fc = scene.node_item("fc")
    assert fc.shape_text == "[10]" and not fc.shows_nothing()
    edge = cnn_window.document.graph.in_edges("fc")[0]
    assert scene.edge_item(edge).shape_text == str(result.info[edge.source].outputs[edge.source_port])


def test_a_node_in_view_is_drawn_with_its_port_circles(cnn_window):
    w = cnn_window
    item = w.scene.node_item("conv")
    centre = w.view.mapFromScene(item.port_scene_pos("in", False))
    image = w.view.viewport().grab(QRectF(centre.x() - 3, centre.y() - 3, 6, 6).toRect()).toImage()
    body = w.view.viewport().grab(QRectF(vp(w, item.sceneBoundingRect().center() + QPointF(0, 40)).x(),
                                         vp(w, item.sceneBoundingRect().center() + QPointF(0, 40)).y(),
                                         2, 2).toRect()).toImage()
    assert not item.ports_made()
    assert image.pixelColor(3, 3) != body.pixelColor(0, 0)  # a filled port circle, not the body under it


def test_items_of_the_project_before_are_gone_at_once_and_freed_after(cnn_window, cnn_project, qtbot):
    import weakref

    scene = cnn_window.scene
    old = [weakref.ref(item) for item in scene.node_items()]
    count = len(scene.items())
    cnn_window._set_project(cnn_project)  # the same graph again: the same number of items, all new
    assert len(scene.items()) == count and not {id(i) for i in scene.node_items()} & {id(r()) for r in old}
    qtbot.waitUntil(lambda: scene.updates_pending() == 0)
    assert all(ref() is None for ref in old)  # the Python side of the removed items was freed too
