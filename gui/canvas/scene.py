"""The canvas scene: node and wire items that mirror the document, and the mouse gestures.

The scene observes the `DocumentController`: items are created and removed in
response to its signals, never by the scene's own decision, and it keeps only
id -> item maps. Every change the user makes goes back through the controller
(a gesture from `gui.canvas.interactions` ends in one controller call).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from contextlib import contextmanager

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QGraphicsScene

from graphs.document import Edge
from gui import theme
from gui.canvas.edge_item import EdgeItem
from gui.canvas.interactions import MoveGesture, NewLinkGesture
from gui.canvas.node_item import NodeItem, PortItem
from gui.document import DocumentController
from gui.units.core import is_repeat
from gui.units.look import unit_line


class CanvasScene(QGraphicsScene):
    """Node items and wire items for the controller's current graph."""

    statusMessage = Signal(str)
    quickAddRequested = Signal(QPointF)  # double-click on empty canvas, at this scene position
    contextMenuRequested = Signal(object, object)  # (item or None, QGraphicsSceneContextMenuEvent)
    nodeDoubleClicked = Signal(str)  # a node's body (not a port) was double-clicked: opens a unit instance

    def __init__(self, controller: DocumentController, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.setBackgroundBrush(theme.CANVAS)
        self._nodes: dict[str, NodeItem] = {}
        self._edges: list[EdgeItem] = []
        self.gesture: NewLinkGesture | None = None
        self._move: MoveGesture | None = None
        self._reroute_timer = QTimer(self)
        self._reroute_timer.setSingleShot(True)
        self._reroute_timer.setInterval(0)
        self._reroute_timer.timeout.connect(self.reroute)
        self._rects: tuple[list[float], list[tuple[QRectF, NodeItem]], float] | None = None
        self._deferred: set[EdgeItem] | None = None  # wires to route at the end of a batch
        controller.projectReset.connect(self._rebuild)
        controller.nodeAdded.connect(self._on_node_added)
        controller.nodeRemoved.connect(self._on_node_removed)
        controller.edgeAdded.connect(self._on_edge_added)
        controller.edgeRemoved.connect(self._on_edge_removed)
        controller.paramsChanged.connect(self._on_node_changed)
        controller.trainingOptionsChanged.connect(self._on_node_changed)  # the frozen badge, the lr multiplier
        controller.nodeMoved.connect(self._on_node_moved)
        controller.resultChanged.connect(self._on_result)
        controller.scopeChanged.connect(self._scope_changed)
        self._rebuild()

    # ---- lookups ---------------------------------------------------------
    def node_item(self, node_id: str) -> NodeItem | None:
        return self._nodes.get(node_id)

    def node_items(self) -> list[NodeItem]:
        return list(self._nodes.values())

    def edge_items(self) -> list[EdgeItem]:
        return list(self._edges)

    def edge_item(self, edge: Edge) -> EdgeItem | None:
        return next((item for item in self._edges if item.edge == edge), None)

    def all_ports(self) -> list[PortItem]:
        return [port for item in self._nodes.values() for port in item.ports()]

    def selected_node_items(self) -> list[NodeItem]:
        return [item for item in self.selectedItems() if isinstance(item, NodeItem)]

    def selected_node_ids(self) -> list[str]:
        order = {node_id: i for i, node_id in enumerate(self._nodes)}
        return sorted((item.node_id for item in self.selected_node_items()), key=order.__getitem__)

    def selected_edges(self) -> list[Edge]:
        return [item.edge for item in self.selectedItems() if isinstance(item, EdgeItem)]

    def select_nodes(self, node_ids) -> None:
        wanted = set(node_ids)
        self.blockSignals(True)
        self.clearSelection()
        for node_id in wanted:
            if node_id in self._nodes:
                self._nodes[node_id].setSelected(True)
        self.blockSignals(False)
        self.selectionChanged.emit()

    def node_sizes(self) -> dict[str, tuple[float, float]]:
        return {node_id: item.size() for node_id, item in self._nodes.items()}

    def nodes_rect(self, items=None):
        """The scene rect covering `items` (default: every node), or None when there are none."""
        items = self.node_items() if items is None else items
        rect = None
        for item in items:
            r = item.sceneBoundingRect()
            rect = r if rect is None else rect.united(r)
        return rect

    def node_rects(self, area: QRectF, exclude=()) -> list[QRectF]:
        """Scene rects of the node bodies that meet `area`. A list sorted by left edge is kept
        until a node moves, resizes, appears or vanishes, so routing every wire of a large
        graph costs one sort, not one scene-index query per wire."""
        if self._rects is None:
            entries = sorted(((item.mapRectToScene(item.rect()), item) for item in self._nodes.values()),
                             key=lambda entry: entry[0].left())
            widest = max((rect.width() for rect, _ in entries), default=0.0)
            self._rects = ([rect.left() for rect, _ in entries], entries, widest)
        lefts, entries, widest = self._rects
        low, high = bisect_left(lefts, area.left() - widest), bisect_right(lefts, area.right())
        return [rect for rect, item in entries[low:high] if item not in exclude and rect.intersects(area)]

    def route(self, edges) -> None:
        """Recompute these wires' paths now, or at the end of the current batch."""
        self._rects = None
        if self._deferred is not None:
            self._deferred.update(edges)
            return
        for item in list(edges):
            item.update_path()

    @contextmanager
    def batch_routing(self):
        """Collect the wires that need routing while many nodes change, route each once at the end."""
        if self._deferred is not None:
            yield
            return
        self._deferred = set()
        try:
            yield
        finally:
            pending, self._deferred = self._deferred, None
            self.route(item for item in pending if item.scene() is self)

    def reroute(self) -> None:
        """Recompute every wire's path (nodes moved, appeared, vanished or changed size)."""
        self._reroute_timer.stop()
        self._rects = None
        for item in self._edges:
            item.update_path()

    def schedule_reroute(self) -> None:
        """Reroute once, after the current batch of document events."""
        if not self._reroute_timer.isActive():
            self._reroute_timer.start()

    def set_edge_visible(self, edge: Edge, visible: bool) -> None:
        item = self.edge_item(edge)
        if item is not None:
            item.setVisible(visible)

    # ---- following the document -------------------------------------------
    def _rebuild(self) -> None:
        self.cancel_gesture()
        for item in self._edges:
            item.detach()
        self._edges.clear()
        self._nodes.clear()
        self.clear()
        with self.batch_routing():
            for node_id in self.controller.scope_graph.node_ids():
                self._on_node_added(node_id)
            for edge in self.controller.scope_graph.edges():
                self._on_edge_added(edge)
        self._reroute_timer.stop()  # every wire was routed once, at the end of the batch

    def _on_node_added(self, node_id: str) -> None:
        node = self.controller.scope_graph.node(node_id)
        item = NodeItem(node)
        item.set_unit_line(unit_line(self.controller.graph, node), is_repeat(node))
        self._nodes[node_id] = item
        self.addItem(item)
        self._rects = None
        self.schedule_reroute()

    def _on_node_removed(self, node_id: str) -> None:
        item = self._nodes.pop(node_id, None)
        if item is not None:
            self.cancel_gesture()
            self.removeItem(item)
            self._rects = None
            self.schedule_reroute()

    def _on_edge_added(self, edge: Edge) -> None:
        source, target = self._nodes.get(edge.source), self._nodes.get(edge.target)
        if source is None or target is None:
            return
        item = EdgeItem(edge, source, target)
        self._edges.append(item)
        self.addItem(item)
        self.route([item])
        self._update_connected(item)

    def _on_edge_removed(self, edge: Edge) -> None:
        item = self.edge_item(edge)
        if item is None:
            return
        self.cancel_gesture()
        self._edges.remove(item)
        item.detach()
        self.removeItem(item)
        self._update_connected(item)

    def _update_connected(self, edge_item: EdgeItem) -> None:
        for node in (edge_item.source, edge_item.target):
            fed = {(e.edge.source_port, True) for e in node.edges if e.source is node}
            fed |= {(e.edge.target_port, False) for e in node.edges if e.target is node}
            for port in node.ports():
                port.connected = (port.name, port.is_output) in fed
                port.update()

    def _on_node_changed(self, node_id: str) -> None:
        item = self._nodes.get(node_id)
        if item is not None:
            node = self.controller.scope_graph.node(node_id)
            item.set_node(node)  # its own wires follow its new size
            item.set_unit_line(unit_line(self.controller.graph, node), is_repeat(node))

    def _on_node_moved(self, node_id: str) -> None:
        item = self._nodes.get(node_id)
        if item is not None:
            item.setPos(*self.controller.scope_graph.node(node_id).position)
            self.schedule_reroute()

    def _scope_changed(self) -> None:
        self._rebuild()
        self._on_result()

    def _on_result(self, _result=None) -> None:
        result = self.controller.scope_result  # inside a unit: keyed by the unit's own node ids
        with self.batch_routing():
            for node_id, item in self._nodes.items():
                item.set_result(result.info.get(node_id), result.inputs.get(node_id, {}), result.errors_for(node_id))
        for item in self._edges:
            info = result.info.get(item.edge.source)
            spec = info.outputs.get(item.edge.source_port) if info is not None else None
            item.set_shape(str(spec) if spec is not None else None)
        self.update()

    def sync_positions(self) -> None:
        """Put every item back where the document says (after a drag that changed nothing)."""
        for node_id, item in self._nodes.items():
            item.setPos(*self.controller.scope_graph.node(node_id).position)

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
        return next((item for item in self.items(pos) if isinstance(item, PortItem)), None)

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
