"""Mouse gestures on the canvas, each an object with start / move / finish / cancel.

- `NewLinkGesture`: drag from a port to make a wire. Only the ports where the
  wire would be valid light up: the document takes it (free input, no cycle)
  and the node can use the shape and dtype it carries (`wire_check`, judged
  once when the drag starts). The others dim, and hovering one shows why in the
  status bar. A port whose node could not use the tensor still takes the wire
  when it is dropped there (the node then shows the error, to be fixed by
  editing); one the document refuses does not. Dragging from an input that
  already has a wire picks that wire up: drop it on another input to move it,
  or on empty canvas to remove it.
- `MoveGesture`: node items move freely while the mouse drags them (a visual
  change only); on release one MoveNodes command records the new positions.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsPathItem, QToolTip

from graphs.document import Edge
from gui import theme
from gui.canvas.node_item import NodeItem, PortItem
from gui.canvas.routing import wire_path
from gui.canvas.wire_check import MISMATCH, OK, REFUSED, WireCheck


class NewLinkGesture:
    """Dragging a new (or picked-up) wire from one port towards another."""

    def __init__(self, scene, port: PortItem):
        self.scene = scene
        self.controller = scene.controller
        self.replacing: Edge | None = None
        if not port.is_output:
            self.replacing = self.controller.scope_graph.edge_into(port.node_id, port.name)
        if self.replacing is not None:  # pick up the wire: its source end stays, the input end moves
            source = scene.node_item(self.replacing.source)
            self.fixed = source.port(self.replacing.source_port, True) if source else port
        else:
            self.fixed = port
        self.temp = QGraphicsPathItem()
        pen = QPen(theme.ACCENT, 2.2, Qt.PenStyle.DashLine)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        self.temp.setPen(pen)
        self.temp.setZValue(10)
        self.check = WireCheck(self.controller, self.replacing)
        self._verdicts: dict[PortItem, tuple[str, str]] = {}
        self._reason = ""  # shown beside the cursor

    # ---- which ports would accept the wire --------------------------------
    def _edge_to(self, other: PortItem) -> Edge | None:
        if other.is_output == self.fixed.is_output:
            return None
        out, inp = (self.fixed, other) if self.fixed.is_output else (other, self.fixed)
        return Edge(out.node_id, inp.node_id, out.name, inp.name)

    def verdict(self, other: PortItem) -> tuple[str, str]:
        """(OK | MISMATCH | REFUSED, why not) for dropping the wire on `other`."""
        if other not in self._verdicts:
            edge = self._edge_to(other)
            if edge is None:
                what = "an input" if self.fixed.is_output else "an output"
                self._verdicts[other] = (REFUSED, f"drop the wire on {what} port")
            else:
                self._verdicts[other] = self.check.verdict(edge)
        return self._verdicts[other]

    def start(self, pos: QPointF) -> None:
        self.scene.addItem(self.temp)
        if self.replacing is not None:
            self.scene.set_edge_visible(self.replacing, False)
        for port in self.scene.all_ports():
            if port is self.fixed or port.is_output == self.fixed.is_output:
                continue
            port.set_state(self.verdict(port)[0])
        self.move(pos)

    def _target_at(self, pos: QPointF) -> PortItem | None:
        """The port under `pos`; over a node body, its first port that takes the wire (a valid one first)."""
        for item in self.scene.items(pos):
            if isinstance(item, PortItem) and item is not self.fixed:
                return item
        for item in self.scene.items(pos):
            if isinstance(item, NodeItem):
                ports = list((item.outputs if not self.fixed.is_output else item.inputs).values())
                for state in (OK, MISMATCH):
                    taking = [p for p in ports if self.verdict(p)[0] == state]
                    if taking:
                        return taking[0]
                return None
        return None

    def move(self, pos: QPointF) -> None:
        target = self._target_at(pos)
        end = pos
        reason = ""
        if target is not None:
            state, why = self.verdict(target)
            if state != REFUSED:
                end = target.scenePos()
            reason = {MISMATCH: f"Not compatible: {why}", REFUSED: f"Cannot connect: {why}"}.get(state, "")
            if reason:
                self.scene.statusMessage.emit(reason)
        self._show_reason(pos, reason)
        start = self.fixed.scenePos()
        self.temp.setPath(wire_path(start, end) if self.fixed.is_output else wire_path(end, start))

    def _show_reason(self, pos: QPointF, reason: str) -> None:
        """Why the port under the cursor does not light up, beside the cursor as well as in the
        status bar (which a small screen may not show)."""
        if reason == self._reason:
            return
        self._reason = reason
        views = self.scene.views()
        if not reason or not views:
            QToolTip.hideText()
            return
        viewport = views[0].viewport()
        QToolTip.showText(viewport.mapToGlobal(views[0].mapFromScene(pos)) + QPoint(16, 16), reason, viewport)

    def finish(self, pos: QPointF) -> bool:
        """Make the wire if it was dropped on a port; True when the document changed."""
        target = self._target_at(pos)
        self._cleanup()
        if target is None:
            if self.replacing is not None:
                return self.controller.disconnect([self.replacing])
            return False
        edge = self._edge_to(target)
        if edge is None:
            self.scene.statusMessage.emit(f"Cannot connect: {self.verdict(target)[1]}")
            return False
        if self.replacing is not None:
            return self.controller.reconnect(self.replacing, edge)
        return self.controller.connect(edge.source, edge.source_port, edge.target, edge.target_port)

    def cancel(self) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        self._show_reason(QPointF(), "")
        if self.temp.scene() is not None:
            self.scene.removeItem(self.temp)
        if self.replacing is not None:
            self.scene.set_edge_visible(self.replacing, True)
        for port in self.scene.all_ports():
            port.set_state("normal")


class MoveGesture:
    """Remembers where the selected nodes were when the mouse went down."""

    def __init__(self, scene):
        self.scene = scene
        self.start = {item.node_id: item.pos() for item in scene.selected_node_items()}

    def finish(self) -> bool:
        moved = {}
        for item in self.scene.selected_node_items():
            before = self.start.get(item.node_id)
            if before is not None and item.pos() != before:
                moved[item.node_id] = (item.pos().x(), item.pos().y())
        if not moved:
            return False
        return self.scene.controller.move_nodes(moved)
