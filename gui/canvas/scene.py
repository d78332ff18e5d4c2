"""The canvas scene: node and wire items that mirror the document (its mouse gestures: `gui.canvas.scene_input`).

The scene observes the `DocumentController`: items are created and removed in
response to its signals, never by the scene's own decision, and it keeps only
id -> item maps. Every change the user makes goes back through the controller
(a gesture from `gui.canvas.interactions` ends in one controller call).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from contextlib import contextmanager

from PySide6.QtCore import QPointF, QRectF, QTimer, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QGraphicsScene, QToolTip

from graphs.document import Edge
from gui import theme
from gui.canvas.edge_item import EdgeItem
from gui.canvas.interactions import MoveGesture, NewLinkGesture
from gui.canvas.node_item import Newest, NodeItem, PortItem
from gui.canvas.reach_index import ReachIndex
from gui.canvas.scene_input import SceneInput
from gui.canvas.spatial import RectGrid
from gui.document import DocumentController
from gui.result_changes import changed_nodes
from gui.units.core import is_repeat
from gui.units.look import switch_of, unit_line

LARGE_BATCH = 400  # wires: a bigger batch is routed in slices while the event loop runs, visible ones first
SLICE_S = 0.008  # seconds of routing per slice, so scrolling and zooming stay smooth meanwhile
GRAVE_SLICE = 500  # removed items freed at a time
SPARE_WIRES = 32  # removed wires kept hidden in the scene for the next wires made (`_make_edge_item`)
RETIRE_AFTER_MS = 2000  # removed node items leave the scene together once edits pause this long


class CanvasScene(SceneInput, QGraphicsScene):
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
        self._edges: dict[Edge, EdgeItem] = {}
        self.gesture: NewLinkGesture | None = None
        self._move: MoveGesture | None = None
        self._reroute_timer = QTimer(self)
        self._reroute_timer.setSingleShot(True)
        self._reroute_timer.setInterval(0)
        self._reroute_timer.timeout.connect(self._reroute_dirty)
        self._index = RectGrid()  # node item -> its body's scene rect, kept node by node
        self.reaches = ReachIndex()  # wire item -> its `reach`, kept as each wire is routed
        self._dirty: list[QRectF] = []  # where node bodies appeared, moved or vanished since the last reroute
        self._deferred: set[EdgeItem] | None = None  # wires to route at the end of a batch
        self._pending: OrderedDict[EdgeItem, None] = OrderedDict()  # wires drawn plain until a slice routes them
        self._newest = Newest()  # the inference the items are to show, and which of them wait to (`sync_area`)
        self._unshown: list = []  # items made since the last inference, without a result to show
        self._slice_timer = QTimer(self)
        self._slice_timer.setSingleShot(True)
        self._slice_timer.setInterval(0)
        self._slice_timer.timeout.connect(self._route_slice)
        self._prioritise = False
        self._graveyard: list = []  # the Python side of items a rebuild removed, freed in slices (`_route_slice`)
        self._spare_edges: list[EdgeItem] = []  # removed wires, hidden, for the next wires made
        # Removed node items stay in the scene, hidden, until edits pause: taking one item out of a scene of
        # 20,000 makes Qt renumber and re-sort them all on the next addItem or paint (~1.5 ms an edit)
        self._retired: list[NodeItem] = []
        self._retire_timer = QTimer(self)
        self._retire_timer.setSingleShot(True)
        self._retire_timer.setInterval(RETIRE_AFTER_MS)
        self._retire_timer.timeout.connect(self._remove_retired)
        self._shown_result = None  # the inference result the items show
        self._selected_edges: set[EdgeItem] = set()
        self.hovered_edge: EdgeItem | None = None  # the wire under the mouse (`EdgeItem.hoverEnterEvent`)
        self.selectionChanged.connect(self._restyle_selected_edges)
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
        controller.unitsChanged.connect(self._on_units_changed)  # an optional layer's card names its switch
        self._rebuild()

    # ---- lookups ---------------------------------------------------------
    def node_item(self, node_id: str) -> NodeItem | None:
        return self._nodes.get(node_id)

    def node_items(self) -> list[NodeItem]:
        return list(self._nodes.values())

    def has_nodes(self) -> bool:
        return bool(self._nodes)

    def edge_items(self) -> list[EdgeItem]:
        return list(self._edges.values())

    def edge_item(self, edge: Edge) -> EdgeItem | None:
        return self._edges.get(edge)

    def all_ports(self) -> list[PortItem]:
        """Every port item made so far (a node makes its port items when first asked: `NodeItem.ports`)."""
        return [port for item in self._nodes.values() if item.ports_made() for port in item.ports()]

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
        """Scene rects of the node bodies that meet `area`, from a grid index kept node by node
        (`gui.canvas.spatial`), so routing a wire costs what its neighbourhood holds."""
        return [rect for _, rect in self._index.query(area, exclude)]

    def node_geometry_changed(self, item: NodeItem) -> None:
        """A node item moved or changed size: index it anew, reroute its own wires now and, once the
        event loop turns (after a drag: when it ends), the other wires whose way it may block or free."""
        if item.scene() is not self or self._nodes.get(item.node_id) is not item:
            self.route(item.edges)
            return
        old, new = self._index.rect(item), item.mapRectToScene(item.rect())
        if old != new:
            self._index.put(item, new)
            self._dirty += [rect for rect in (old, new) if rect is not None]
            if self._move is None:
                self.schedule_reroute()
        self.route(item.edges)

    def route(self, edges) -> None:
        """Recompute these wires' paths now, or at the end of the current batch; a large batch, or what
        is left of a batch after one slice's time, in slices while the event loop runs (the wires in view
        first), drawn as plain curves until then."""
        if self._deferred is not None:
            self._deferred.update(edges)
            return
        edges = [item for item in edges if item.scene() is self]
        if len(edges) > LARGE_BATCH:
            self._queue(edges)
            return
        deadline = time.perf_counter() + SLICE_S
        for done, item in enumerate(edges):
            if time.perf_counter() > deadline:  # long wires in a big graph: one took ~7 ms at 10,000 nodes
                self._queue(edges[done:])
                return
            self._pending.pop(item, None)
            item.update_path()

    def _queue(self, edges) -> None:
        """Route these wires in slices while the event loop runs (those in view first)."""
        for item in edges:
            self._pending[item] = None
        self._prioritise = True  # at the first slice, when the view shows what it will show
        self._slice_timer.start()

    def routing_pending(self) -> int:
        """How many wires still wait for their route (drawn as plain curves meanwhile)."""
        return len(self._pending)

    def _prioritise_visible(self) -> None:
        """Move the pending wires of the nodes in view to the front of the queue."""
        for node in self.nodes_in_view():
            for item in node.edges:
                if item in self._pending:
                    self._pending.move_to_end(item, last=False)

    def _route_slice(self) -> None:
        deadline = time.perf_counter() + SLICE_S
        if self._prioritise:
            self._prioritise = False
            self._prioritise_visible()
        while self._pending and time.perf_counter() < deadline:
            item, _ = self._pending.popitem(last=False)
            if item.scene() is self:
                item.update_path()
        while self._graveyard and time.perf_counter() < deadline:
            del self._graveyard[-GRAVE_SLICE:]
        if self._pending or self._graveyard:
            self._slice_timer.start()

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
            self.route(pending)

    def reroute(self) -> None:
        """Recompute every wire's path now (nodes moved, appeared, vanished or changed size)."""
        self._reroute_timer.stop()
        self._slice_timer.stop()
        self._dirty.clear()
        self._pending.clear()
        self._reindex()
        for item in self._edges.values():
            item.update_path()

    def schedule_reroute(self) -> None:
        """Reroute the wires near the changes, once, after the current batch of document events."""
        if not self._reroute_timer.isActive():
            self._reroute_timer.start()

    def _reroute_dirty(self) -> None:
        """Route again every wire whose router looked where a node body appeared, moved or vanished
        (`EdgeItem.reach`: a plain wire's own box, a wire that goes around the whole span between its ends),
        but those that know the change leaves their way as it is (`EdgeItem.route_holds`)."""
        rects, self._dirty = self._dirty, []
        if not rects:
            return
        affected = self.reaches.meeting([rect.getCoords() for rect in rects])
        self.route([item for item in affected if not item.route_holds(rects)])  # (a backward wire may know)

    def _reindex(self) -> None:
        self._index.clear()
        for item in self._nodes.values():
            self._index.put(item, item.mapRectToScene(item.rect()))

    def set_edge_visible(self, edge: Edge, visible: bool) -> None:
        item = self.edge_item(edge)
        if item is not None:
            item.setVisible(visible)

    # ---- following the document -------------------------------------------
    def _rebuild(self) -> None:
        self.cancel_gesture()
        for item in self._edges.values():
            item.detach()
        self._pending.clear()
        self._newest.ids.clear()
        self._unshown.clear()
        self._dirty.clear()
        self._index.clear()
        self.reaches.clear()
        self._shown_result = None
        self._selected_edges = set()
        self.hovered_edge = None
        # Qt deletes the items; their Python objects, kept here, are freed later in slices: freeing them
        # inside clear() took twice as long as both steps apart, and all of it before the first paint
        self._graveyard += [*self._nodes.values(), *self._edges.values(), *self._spare_edges, *self._retired]
        self._nodes.clear()
        self._edges.clear()
        self._spare_edges.clear()
        self._retired.clear()
        self._retire_timer.stop()
        self.clear()
        if self._graveyard:
            self._slice_timer.start()
        result = self.controller.scope_result
        graph = self.controller.scope_graph
        with self.batch_routing():
            for node in graph.nodes():  # each made at its final size, showing `result`, and indexed once
                item = self._make_node_item(node, (result.info.get(node.id), result.inputs.get(node.id, {}),
                                                   result.errors_for(node.id)))
                self._index.put(item, item.mapRectToScene(item.rect()))
            for edge in graph.edges():
                item = self._make_edge_item(edge, result)
                if item is not None:
                    self._deferred.add(item)
        self._shown_result = self._newest.result = result  # every item and wire shows it already
        self._reroute_timer.stop()  # every wire was routed (or queued) once, at the end of the batch

    def _on_node_added(self, node_id: str) -> None:
        item = self._make_node_item(self.controller.scope_graph.node(node_id))
        self._unshown.append(item)  # an edit added it: the next inference fills it
        self.node_geometry_changed(item)

    def _make_node_item(self, node, result: tuple | None = None) -> NodeItem:
        item = NodeItem(node, result, unit_line(self.controller.graph, node), is_repeat(node), self._newest)
        self._nodes[node.id] = item
        self.addItem(item)
        return item

    def _on_node_removed(self, node_id: str) -> None:
        item = self._nodes.pop(node_id, None)
        if item is not None:
            self.cancel_gesture()
            self._newest.ids.discard(node_id)
            old = self._index.rect(item)
            self._index.remove(item)
            item.setSelected(False)
            item.setVisible(False)
            self._retired.append(item)
            self._retire_timer.start()
            if old is not None:
                self._dirty.append(old)
            self.schedule_reroute()

    def _remove_retired(self) -> None:
        """Take the removed node items out of the scene, all at once (one renumbering for them all)."""
        retired, self._retired = self._retired, []
        for item in retired:
            self.removeItem(item)

    def _on_edge_added(self, edge: Edge) -> None:
        item = self._make_edge_item(edge)
        if item is not None:
            self.route([item])
            self._update_connected(item)

    def _make_edge_item(self, edge: Edge, result=None) -> EdgeItem | None:
        source, target = self._nodes.get(edge.source), self._nodes.get(edge.target)
        if source is None or target is None:
            return None
        if self._spare_edges:  # taken out of the scene and put back in, Qt numbers all 20,000 items again (~2 ms)
            item = self._spare_edges.pop()
            item.rebind(edge, source, target)  # (in the scene: its reach is filed as it is set)
            item.setVisible(True)
        else:
            item = EdgeItem(edge, source, target)
            self.addItem(item)
            self.reaches.put(item, item.reach)  # (set before it was in the scene)
        if result is not None:  # its shape, when it is first drawn or read
            item.follow(result)
        else:  # an edit added it: the next inference (its target changes) gives its shape
            self._unshown.append(item)
        self._edges[edge] = item
        return item

    def _on_edge_removed(self, edge: Edge) -> None:
        item = self._edges.pop(edge, None)
        if item is None:
            return
        self.cancel_gesture()
        self._pending.pop(item, None)
        if self._deferred is not None:  # (kept as a spare it stays in the scene: the batch's end must not route it)
            self._deferred.discard(item)
        self._selected_edges.discard(item)
        if self.hovered_edge is item:
            self.hovered_edge = None
        item.detach()
        self.reaches.remove(item)
        self._update_connected(item)
        if len(self._spare_edges) < SPARE_WIRES:  # kept, hidden, for the next wire made
            item.setSelected(False)
            item.setVisible(False)
            self._spare_edges.append(item)
        else:
            self.removeItem(item)

    def _update_connected(self, edge_item: EdgeItem) -> None:
        for node in (edge_item.source, edge_item.target):
            self._update_ports(node)

    @staticmethod
    def _update_ports(node: NodeItem) -> None:
        """Fill the ports that have a wire (a node without port items yet draws them from its wires)."""
        if not node.ports_made():
            node.update()
            return
        fed = node.wired_ports()
        for port in node.ports():
            connected = (port.name, port.is_output) in fed
            if connected != port.connected:
                port.connected = connected
                port.update()

    def _on_node_changed(self, node_id: str) -> None:
        item = self._nodes.get(node_id)
        if item is not None:
            node = self.controller.scope_graph.node(node_id)
            item.set_node(node)  # its own wires follow its new size
            item.set_unit_line(unit_line(self.controller.graph, node), is_repeat(node))

    def _on_units_changed(self) -> None:
        graph = self.controller.scope_graph
        for node_id, item in list(self._nodes.items()):
            if graph.has_node(node_id) and item.optional != switch_of(graph.node(node_id)):
                self._on_node_changed(node_id)

    def _on_node_moved(self, node_id: str) -> None:
        item = self._nodes.get(node_id)
        if item is not None:
            item.setPos(*self.controller.scope_graph.node(node_id).position)
            item.moved()
            self.schedule_reroute()

    def _scope_changed(self) -> None:
        self._rebuild()

    def _restyle_selected_edges(self) -> None:
        selected = {item for item in self.selectedItems() if isinstance(item, EdgeItem)}
        for item in selected ^ self._selected_edges:
            item._restyle()
        self._selected_edges = selected

    def _on_result(self, _result=None) -> None:
        """Give a new inference to the items whose part of it changed (`gui.result_changes`: by identity,
        since inference keeps a node's outcome objects while its inputs stay the same), with their
        wires: their ids join the scene's `Newest`, in one set union. They show it when drawn with text
        (the view syncs what it shows: `sync_area`) or read, so one edit that changes 2,000 nodes of a
        10,000-node graph costs what is on screen. Inside a unit the result is keyed by the unit's own
        node ids."""
        result = self.controller.scope_result
        previous, self._shown_result = self._shown_result, result
        if result is previous:
            return
        changed = changed_nodes(previous, result)
        newest, nodes = self._newest, self._nodes
        newest.result = result
        if changed is None:
            newest.ids.update(nodes.keys())
            shows_change = bool(nodes)
        else:  # not those gone (`difference` with a dict runs in C: twice as fast as `&` with its keys)
            gone = changed.difference(nodes)
            newest.ids.update(changed)
            newest.ids.difference_update(gone)
            shows_change = len(gone) < len(changed)
        unshown, self._unshown = self._unshown, []
        for item in unshown:
            if item.scene() is self:
                if isinstance(item, NodeItem):
                    newest.ids.add(item.node_id)
                else:  # its target changed too: it takes its shape when drawn or read (`EdgeItem.newer`)
                    item.follow(result)
        for edge in [*self._selected_edges, self.hovered_edge]:  # their labels show
            if edge is not None:
                edge.shape_text  # noqa: B018 (reading it takes the result)
        if self.hovered_edge is not None and QToolTip.isVisible() and self.views():  # its tooltip shows too
            QToolTip.showText(QCursor.pos(), self.hovered_edge.toolTip(), self.views()[0].viewport())
        if shows_change or unshown:
            for view in self.views():
                view.viewport().update()

    def sync_area(self, area: QRectF) -> None:
        """Show the newest inference on the node items in `area` (a view calls it before it paints at a
        zoom that draws text), so a node that grows does so before it is drawn."""
        ids = self._newest.ids
        if ids:
            for item in [item for item, _ in self._index.query(area) if item.node_id in ids]:
                item.sync()

    def stale_count(self) -> int:
        """How many node items have a newer inference to show when they are next drawn or read."""
        return len(self._newest.ids)

    def nodes_in_view(self) -> set[NodeItem]:
        """The node items that meet any view's visible area (every node when no view shows the scene)."""
        if not self.views():
            return set(self._nodes.values())
        found = set()
        for view in self.views():
            area = view.mapToScene(view.viewport().rect()).boundingRect()
            found.update(node for node, _ in self._index.query(area))
        return found

    def updates_pending(self) -> int:
        """How many wires wait for their route, places wait for the wires near them to be rerouted, and
        removed items wait to be freed (node items take a newer inference when drawn: `stale_count`)."""
        return len(self._pending) + len(self._dirty) + len(self._graveyard)

    def sync_positions(self) -> None:
        """Put every item back where the document says (after a drag that changed nothing)."""
        for node_id, item in self._nodes.items():
            item.setPos(*self.controller.scope_graph.node(node_id).position)
            item.moved()
