"""Level of detail: at a readable zoom nodes draw their full face (text, ports, routed wires); zoomed out
below `gui.canvas.detail.TEXT_SCALE` they draw as plain boxes without text, wires as straight lines and
ports not at all, and errors and the selection still show. What was drawn is read from the items' `detail`
flag and from the pixels."""

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from gui import theme
from gui.canvas.detail import TEXT_SCALE
from gui.canvas.node_item import NodeItem


def paint_at(window, zoom: float) -> None:
    window.view.set_zoom(zoom)
    window.view.centerOn(window.scene.nodes_rect().center())
    window.view.viewport().repaint()


def render(scene, area: QRectF, scale: float) -> QImage:
    """`area` of the scene drawn at `scale` pixels per scene unit."""
    image = QImage(max(1, round(area.width() * scale)), max(1, round(area.height() * scale)),
                   QImage.Format.Format_ARGB32)
    image.fill(QColor("black"))
    painter = QPainter(image)
    scene.render(painter, QRectF(image.rect()), area)
    painter.end()
    return image


def colours(image: QImage, margin: int = 2) -> set[int]:
    return {image.pixel(x, y) for x in range(margin, image.width() - margin)
            for y in range(margin, image.height() - margin)}


def test_full_detail_at_a_readable_zoom(cnn_window):
    paint_at(cnn_window, 1.0)
    nodes, edges = cnn_window.scene.node_items(), cnn_window.scene.edge_items()
    assert {node.detail for node in nodes} == {"full"}
    assert {edge.detail for edge in edges} == {"path"}


def test_boxes_and_lines_when_zoomed_out(cnn_window):
    paint_at(cnn_window, TEXT_SCALE * 0.6)
    assert {node.detail for node in cnn_window.scene.node_items()} == {"box"}
    assert {edge.detail for edge in cnn_window.scene.edge_items()} == {"line"}
    paint_at(cnn_window, TEXT_SCALE * 1.5)  # and back when zoomed in again
    assert {node.detail for node in cnn_window.scene.node_items()} == {"full"}


def test_a_zoomed_out_node_is_one_colour_without_text(cnn_window):
    """The box is its category's colour all over (no text, no ports); at full size the same node shows text."""
    scene = cnn_window.scene
    conv = scene.node_item("conv")
    area = conv.mapRectToScene(conv.rect())
    small = render(scene, area, TEXT_SCALE * 0.5)
    assert colours(small, margin=1) == {theme.category_colour(conv.category).rgba()}
    assert len(colours(render(scene, area, 1.0))) > 3  # text, header, body


def test_errors_and_selection_still_show_when_zoomed_out(cnn_window):
    scene, document = cnn_window.scene, cnn_window.document
    document.disconnect([document.graph.edge_into("fc", "in")])  # fc loses its input: an error
    document.flush()
    fc, act = scene.node_item("fc"), scene.node_item("act")
    assert fc.errors
    scene.select_nodes(["act"])
    scale = TEXT_SCALE * 0.5
    assert colours(render(scene, fc.mapRectToScene(fc.rect()), scale), 1) == {theme.ERROR.rgba()}
    assert colours(render(scene, act.mapRectToScene(act.rect()), scale), 1) == {theme.ACCENT.rgba()}


def test_a_node_item_with_its_own_face_keeps_the_level_of_detail(cnn_window):
    """A subclass (such as a collapsed unit) draws its own face in `paint_detail`; zoomed out it is a box."""

    class Custom(NodeItem):
        def paint_detail(self, painter, option, widget=None):
            self.custom_drawn = True
            painter.fillRect(self.rect(), Qt.GlobalColor.magenta)

    node = cnn_window.document.graph.node("conv")
    item = Custom(node)
    item.custom_drawn = False
    cnn_window.scene.addItem(item)
    try:
        area = item.mapRectToScene(item.rect())
        render(cnn_window.scene, area, TEXT_SCALE * 0.5)
        assert item.detail == "box" and not item.custom_drawn
        render(cnn_window.scene, area, 1.0)
        assert item.detail == "full" and item.custom_drawn
    finally:
        cnn_window.scene.removeItem(item)
