"""The canvas view: zoom around the cursor, pan, rubber-band selection, framing, drops, quick add.

- Wheel zooms around the cursor; middle-drag or Space+drag pans.
- Left-drag on empty canvas draws a rubber band.
- A palette drag (mime type `NODE_MIME`) dropped here adds that node under the cursor.
- `add_node_at` is the one code path for drop, palette double-click and quick add.
- Framing: a project opens framed to fit (`fit`), and until the user zooms or pans by hand the
  view stays framed (`auto_fit`): when it changes size (a dock appears as a run starts, the window
  is resized or maximised) it frames the whole graph again, so no node ends up out of sight. Once
  the user has zoomed or panned, a resize keeps the centre of what they look at and their zoom:
  the view no longer moves under them. F (frame all) or opening a project frames it again.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QCursor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsView

from gui import theme
from gui.canvas import detail
from gui.canvas.quick_add import QuickAddPopup
from gui.canvas.scene import CanvasScene

NODE_MIME = "application/x-neurocanvas-node-type"
MIN_ZOOM, MAX_ZOOM = 0.15, 3.0
FIT_MAX_ZOOM = 1.0  # framing never magnifies: a small graph shows at its actual size
GRID = 20
DROP_OFFSET = QPointF(40, 13)  # the cursor lands on the node's header, near its left edge
NEW_NODE_SIZE = (170.0, 100.0)


class CanvasView(QGraphicsView):
    """Shows a `CanvasScene`; adds nodes through the scene's controller."""

    nodeAdded = Signal(str)  # a node was added from this view (drop, quick add, palette)

    def __init__(self, scene: CanvasScene, parent=None):
        super().__init__(scene, parent)
        self.setObjectName("canvas")
        self.controller = scene.controller
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)  # the grid: drawn again on a scroll or zoom only
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSceneRect(QRectF(-50_000, -50_000, 100_000, 100_000))
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._space = False
        self._pan_from: QPointF | None = None
        self.auto_fit = True  # reframe the whole graph on resize, until the user zooms or pans
        self.quick_add = QuickAddPopup(self, units=lambda: list(self.controller.graph.units))
        self._quick_add_pos = QPointF()
        self.quick_add.chosen.connect(lambda name: self.add_node_at(name, self._quick_add_pos))
        scene.quickAddRequested.connect(self.open_quick_add)

    # ---- adding nodes ------------------------------------------------------
    def add_node_at(self, type_name: str, scene_pos: QPointF, exact: bool = False) -> str:
        """Add a node so the cursor at `scene_pos` lands on its header (or its top-left if `exact`);
        select it. The one code path for drop, palette double-click and quick add."""
        top_left = scene_pos if exact else scene_pos - DROP_OFFSET
        node_id = self.controller.add_node(type_name, (top_left.x(), top_left.y()))
        if not node_id:  # refused (a unit inside itself): the controller said why
            return ""
        self.scene().select_nodes([node_id])
        self.setFocus()
        self.nodeAdded.emit(node_id)
        return node_id

    def free_position(self, around: QPointF | None = None) -> QPointF:
        """A top-left near `around` (default: the view centre) where a new node overlaps nothing."""
        centre = around if around is not None else self.mapToScene(self.viewport().rect().center())
        w, h = NEW_NODE_SIZE
        pos = QPointF(centre.x() - w / 2, centre.y() - h / 2)
        rects = [item.sceneBoundingRect().adjusted(-10, -10, 10, 10) for item in self.scene().node_items()]
        for _ in range(200):
            candidate = QRectF(pos, QPointF(pos.x() + w, pos.y() + h))
            if not any(candidate.intersects(r) for r in rects):
                break
            pos += QPointF(30, 30)
        return pos

    def add_node_centre(self, type_name: str) -> str:
        """Palette double-click: the view centre, shifted until it overlaps no node."""
        return self.add_node_at(type_name, self.free_position(), exact=True)

    def open_quick_add(self, scene_pos: QPointF | None = None) -> None:
        if scene_pos is None:
            local = self.viewport().mapFromGlobal(QCursor.pos())
            inside = self.viewport().rect().contains(local)
            scene_pos = self.mapToScene(local if inside else self.viewport().rect().center())
        self._quick_add_pos = QPointF(scene_pos)
        self.quick_add.open_at(self.viewport().mapToGlobal(self.mapFromScene(scene_pos)),
                               self.scene().controller.graph.custom_types)  # and the project's custom layers

    # ---- drag and drop from the palette -----------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(NODE_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(NODE_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        if not event.mimeData().hasFormat(NODE_MIME):
            super().dropEvent(event)
            return
        type_name = bytes(event.mimeData().data(NODE_MIME)).decode("utf-8")
        self.add_node_at(type_name, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()

    # ---- zoom and framing ---------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def _scale_to(self, zoom: float) -> None:
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        self.scale(zoom / self.zoom, zoom / self.zoom)

    def set_zoom(self, zoom: float) -> None:
        """Zoom by hand (the zoom actions): the view stops following resizes."""
        self.auto_fit = False
        self._scale_to(zoom)

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.zoom * factor)

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(math.pow(1.0015, delta))
        event.accept()

    def frame_rect(self, rect: QRectF | None, max_zoom: float = FIT_MAX_ZOOM) -> None:
        if rect is None or rect.isEmpty():
            return
        self.fitInView(rect.adjusted(-60, -60, 60, 60), Qt.AspectRatioMode.KeepAspectRatio)
        self._scale_to(min(self.zoom, max_zoom))
        self.centerOn(rect.center())

    def fit(self) -> None:
        """Frame the whole graph (an empty one at actual size around the origin), and keep it framed
        as the view changes size until the user zooms or pans."""
        rect = self.scene().nodes_rect()
        if rect is None:
            self.resetTransform()
            self.centerOn(QPointF(0, 0))
        else:
            self.frame_rect(rect)
        self.auto_fit = True

    def frame_all(self) -> None:
        self.fit()

    def frame_selected(self) -> None:
        items = self.scene().selected_node_items()
        if not items:
            self.fit()
            return
        self.frame_rect(self.scene().nodes_rect(items), max_zoom=1.25)
        self.auto_fit = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.auto_fit and event.oldSize().isValid() and event.size() != event.oldSize():
            self.fit()

    def view_state(self) -> dict:
        centre = self.mapToScene(self.viewport().rect().center())
        return {"zoom": round(self.zoom, 4), "center": [round(centre.x(), 1), round(centre.y(), 1)]}

    def restore_view_state(self, state) -> bool:
        try:
            zoom = float(state["zoom"])
            x, y = (float(v) for v in state["center"])
        except (KeyError, TypeError, ValueError):
            return False
        self.set_zoom(zoom)
        self.centerOn(QPointF(x, y))
        return True

    def shows_any_node(self) -> bool:
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        return any(visible.intersects(item.sceneBoundingRect()) for item in self.scene().node_items())

    # ---- panning ------------------------------------------------------------
    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat() and self.scene().gesture is None:
            self._space = True
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            self.auto_fit = False
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            if self._space:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # ---- drawing ------------------------------------------------------------
    def paintEvent(self, event) -> None:
        """At a zoom that draws text, the node items about to be drawn first take the newest inference
        (`CanvasScene.sync_area`): after an edit, only what is on screen is brought up to date."""
        if self.zoom >= detail.TEXT_SCALE:
            self.scene().sync_area(self.mapToScene(event.rect()).boundingRect())
        super().paintEvent(event)

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, theme.CANVAS)
        step = GRID if self.zoom >= 0.5 else GRID * 5
        left, top = math.floor(rect.left() / step) * step, math.floor(rect.top() / step) * step
        lines: dict[bool, list[QLineF]] = {True: [], False: []}  # major?: lines, drawn in two calls
        x = left
        while x < rect.right():
            lines[round(x / step) % 5 == 0].append(QLineF(x, rect.top(), x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            lines[round(y / step) % 5 == 0].append(QLineF(rect.left(), y, rect.right(), y))
            y += step
        for major, colour in ((False, theme.GRID_MINOR), (True, theme.GRID_MAJOR)):
            painter.setPen(QPen(colour, 0))
            painter.drawLines(lines[major])

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.scene().has_nodes():  # (not a list of 10,000 items on every frame)
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(theme.HINT_TEXT)
        painter.setFont(theme.font(2))
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                         "Drag a layer from the palette, or press Tab to search for one.\n"
                         "Drag from a port to another port to wire them.")
        painter.restore()
