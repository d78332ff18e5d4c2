"""The canvas scene's mouse and keyboard input: starting a wire from a port, moving nodes, tooltips made when
shown, double-clicks (quick add on empty canvas, opening an instance) and the context menu.

A mixin of `CanvasScene` (it uses the scene's items, its `gesture` and `_move` and its signals); every change a
gesture makes goes back through the document controller (`gui.canvas.interactions`).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QToolTip

from gui.canvas.edge_item import EdgeItem
from gui.canvas.interactions import MoveGesture, NewLinkGesture
from gui.canvas.node_item import NodeItem, PortItem


class SceneInput:
    """Gestures and events of the canvas scene (mixed into `CanvasScene`, before `QGraphicsScene`)."""

    # ---- hover feedback ----------------------------------------------------
    def node_hovered(self, item: NodeItem) -> None:
        if item.errors:
            self.statusMessage.emit(f"{item.node_id}: {item.errors[0]}")

    # ---- gestures ----------------------------------------------------------
    def start_link(self, port: PortItem, pos: QPointF | None = None) -> NewLinkGesture:
        self.cancel_gesture()
        self.gesture = NewLinkGesture(self, port)
        self.gesture.start(pos if pos is not None else port.scenePos())
        return self.gesture

    def cancel_gesture(self) -> None:
        if self.gesture is not None:
            gesture, self.gesture = self.gesture, None
            gesture.cancel()

    def _port_at(self, pos: QPointF) -> PortItem | None:
        self._make_ports_at(pos)
        return next((item for item in self.items(pos) if isinstance(item, PortItem)), None)

    def _make_ports_at(self, pos: QPointF) -> None:
        """Make the port items of the nodes whose outline (ports included) holds `pos`, so a press there
        finds a port even where no hover came first."""
        for item in self.items(pos, Qt.ItemSelectionMode.IntersectsItemBoundingRect):
            if isinstance(item, NodeItem):
                item.ports()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            port = self._port_at(event.scenePos())
            if port is not None:
                self.start_link(port, event.scenePos())
                event.accept()
                return
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self.selected_node_items():
            self._move = MoveGesture(self)

    def mouseMoveEvent(self, event) -> None:
        if self.gesture is not None:
            self.gesture.move(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)
        if self._move is not None:  # Qt moved the selected items: their wires follow
            for item in self.selected_node_items():
                item.moved()

    def helpEvent(self, event) -> None:
        """Tooltips of canvas items are made when shown (`toolTip()` methods), not kept on every item."""
        for item in self.items(event.scenePos()):
            text = item.toolTip()
            if text:
                QToolTip.showText(event.screenPos(), text, event.widget())
                event.setAccepted(True)
                return
        QToolTip.hideText()
        event.setAccepted(False)

    def mouseReleaseEvent(self, event) -> None:
        if self.gesture is not None and event.button() == Qt.MouseButton.LeftButton:
            gesture, self.gesture = self.gesture, None
            gesture.finish(event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if self._move is not None and event.button() == Qt.MouseButton.LeftButton:
            move, self._move = self._move, None
            if not move.finish():
                self.sync_positions()

    def mouseDoubleClickEvent(self, event) -> None:
        self._make_ports_at(event.scenePos())
        if event.button() == Qt.MouseButton.LeftButton and not any(
                isinstance(item, (NodeItem, PortItem, EdgeItem)) for item in self.items(event.scenePos())):
            self.quickAddRequested.emit(event.scenePos())
            event.accept()
            return
        hit = next((i for i in self.items(event.scenePos()) if isinstance(i, (NodeItem, PortItem, EdgeItem))), None)
        if event.button() == Qt.MouseButton.LeftButton and isinstance(hit, NodeItem):
            self.nodeDoubleClicked.emit(hit.node_id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.gesture is not None:
            self.cancel_gesture()
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event) -> None:
        item = next((i for i in self.items(event.scenePos()) if isinstance(i, (NodeItem, EdgeItem))), None)
        if item is not None and not item.isSelected():
            self.clearSelection()
            item.setSelected(True)
        self.contextMenuRequested.emit(item, event)
        event.accept()

