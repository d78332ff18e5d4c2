"""A wire on the canvas: a bezier curve from an output port to an input port.

It shows the tensor shape it carries in a tooltip and, on hover or selection,
in a small label at its middle. Like node items, it only mirrors the document:
the scene creates and removes it when the document adds or removes the edge.
"""

from __future__ import annotations

import weakref

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from graphs.document import Edge
from gui import theme
from gui.canvas.detail import low_detail
from gui.canvas.routing import BackwardChoice, body_area, obstacle, route_kept, wire_path

# A wire's `reach` before it is routed: everywhere (any change may be what its first route must go around)
UNROUTED = (float("-inf"), float("-inf"), float("inf"), float("inf"))


class ShapeLabel(QGraphicsItem):
    """A small rounded label with a shape such as [16, 8, 8]."""

    def __init__(self, parent: QGraphicsItem):
        super().__init__(parent)
        self.text = ""
        self._font = theme.font(-1.5, mono=True)
        self._rect = QRectF()

    def set_text(self, text: str) -> None:
        self.prepareGeometryChange()
        self.text = text
        width = QFontMetricsF(self._font).horizontalAdvance(text) + 12
        self._rect = QRectF(-width / 2, -10, width, 20)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(theme.NODE_BORDER, 1))
        painter.setBrush(theme.NODE_BODY.darker(115))
        painter.drawRoundedRect(self._rect, 5, 5)
        painter.setPen(theme.NODE_TEXT)
        painter.setFont(self._font)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)


class EdgeItem(QGraphicsPathItem):
    """The drawing of one document edge between two node items."""

    def __init__(self, edge: Edge, source, target, shape_text: str | None = None):
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self._label: ShapeLabel | None = None  # made on first hover: most wires never show one
        self.rebind(edge, source, target, shape_text)

    def rebind(self, edge: Edge, source, target, shape_text: str | None = None) -> None:
        """Draw `edge` between these node items: a new wire, or one the scene kept from a removed edge (putting
        an item back into a scene of 20,000 costs Qt ~2 ms: `CanvasScene._make_edge_item`)."""
        self.edge = edge
        self.source, self.target = source, target  # NodeItems
        self._shape_text: str | None = None
        # Results are held weakly: a wire off screen for the rest of a session would otherwise keep alive the
        # result it last saw (0.7 MB at 10,000 nodes), one result per place edited and looked at
        self._pending = None  # weakref: a newer inference result, taken when the wire is drawn or read (`follow`)
        self._taken = None  # weakref: the result its shape text was last taken from
        self._stroke: QPainterPath | None = None  # shape(), made when first asked for each path
        self.detail: str | None = None  # how it was last drawn: "path", or "line" at low zoom (gui.canvas.detail)
        self.hovered = False
        self._styled = False
        if self._label is not None:
            self._label.setVisible(False)
        source.edges.add(self)
        target.edges.add(self)
        start, end = self._set_ends()  # the plain curve: the scene routes it (`CanvasScene.route`)
        self.reach = UNROUTED
        self._kept: BackwardChoice | None = None  # what its route's choice read, when it runs backwards
        self.setPath(wire_path(start, end))
        self.set_shape(shape_text)

    @property
    def reach(self) -> tuple | None:
        """(left, top, right, bottom) of the area whose node bodies its route read (None: none; UNROUTED)."""
        return self._reach

    @reach.setter
    def reach(self, reach: tuple | None) -> None:
        self._reach = reach
        scene = self.scene()
        if scene is not None:
            scene.reaches.put(self, reach)  # (`CanvasScene`: which wires a node's change may reroute)

    def detach(self) -> None:
        self.source.edges.discard(self)
        self.target.edges.discard(self)

    def endpoints(self) -> tuple[QPointF, QPointF]:
        start = self.source.port_scene_pos(self.edge.source_port, True)  # no port item needed
        end = self.target.port_scene_pos(self.edge.target_port, False)
        return (start if start is not None else self.source.sceneBoundingRect().center(),
                end if end is not None else self.target.sceneBoundingRect().center())

    def _set_ends(self) -> tuple[QPointF, QPointF]:
        """Where its ends are now (kept as `ends`)."""
        start, end = self.ends = self.endpoints()
        return start, end

    def update_path(self) -> None:
        """The plain curve, or a route around the other nodes between its ends (`gui.canvas.routing`). The
        area whose node bodies the router read is kept in `reach`: only a node appearing, moving or vanishing
        there can change the route (`CanvasScene._reroute_dirty`)."""
        start, end = self._set_ends()
        scene = self.scene()
        if scene is None:
            path, self.reach, self._kept = wire_path(start, end), UNROUTED, None
        else:
            ends, looked = (self.source, self.target), []

            def obstacles_in(area: QRectF) -> list[QRectF]:
                area = body_area(area)
                looked.append(area.getCoords())
                return [obstacle(r) for r in scene.node_rects(area, ends)]

            path, self._kept = route_kept(start, end, obstacles_in)
            self.reach = (min(a[0] for a in looked), min(a[1] for a in looked), max(a[2] for a in looked),
                          max(a[3] for a in looked)) if looked else None
        self._stroke = None
        self.setPath(path)
        if self._label is not None:
            self._label.setPos(path.pointAtPercent(0.5))

    def route_holds(self, changed: list[QRectF]) -> bool:
        """Whether routing it again would take the way it takes now, with node bodies having appeared or vanished
        at `changed` (scene rects) and its ends where they were: known for a wire routed backwards without
        routing it (`routing.BackwardChoice`), else False."""
        kept, scene = self._kept, self.scene()
        if kept is None or scene is None or _coords(self.endpoints()) != _coords(self.ends):  # (QPointF's == is fuzzy)
            return False
        band = body_area(kept.band)
        changed = [r for r in changed if r.intersects(band)]  # (as the router's obstacles: another band's change none)
        if not changed:
            return True
        ends = (self.source, self.target)
        current = [obstacle(r) for area in changed for r in scene.node_rects(area, ends) if r.intersects(band)]
        return kept.unchanged_by([obstacle(r) for r in changed], current)

    def set_shape(self, shape_text: str | None) -> None:
        """The shape the wire carries, or None when it is unknown (upstream error, open input)."""
        self._pending = None
        if shape_text == self._shape_text and self._styled:
            return
        self._shape_text = shape_text
        if self._label is not None:
            self._label.set_text(shape_text or "?")
        self._restyle()

    def follow(self, result) -> None:
        """A newer inference `result` may change the shape this wire carries: taken when it is next drawn
        or read (`shape_text`), not now."""
        self._pending = weakref.ref(result)

    @property
    def pending(self):
        """The result given to the wire to take, or, once a newer one replaced it everywhere else, the
        newest its scene has (`Newest`): a wire's shape in that one is the same or newer."""
        if self._pending is None:
            return None
        return self._pending() or self.source.newest_result

    def newer(self):
        """The newer result to show, if any: the one its source node waits to take (the scene marks only
        nodes), or the one given to the wire."""
        result = self.source.pending or self.pending
        return None if result is None or (self._taken is not None and self._taken() is result) else result

    @property
    def stale(self) -> bool:
        return self.newer() is not None

    @property
    def shape_text(self) -> str | None:
        """The shape the wire carries as its label shows it, or None when it is unknown."""
        result = self.newer()
        if result is not None:
            self.set_shape(carried_shape(result, self.edge))
            self._taken = weakref.ref(result)
        return self._shape_text

    def _known(self) -> bool:
        """Whether the wire's shape is known, for its pen: from a newer result without taking it, so that a
        wire drawn while painting changes no geometry (a new pen or label would)."""
        result = self.newer()
        if result is None:
            return bool(self._shape_text)
        info = result.info.get(self.edge.source)
        return info is not None and info.outputs.get(self.edge.source_port) is not None

    def toolTip(self) -> str:  # noqa: N802 (Qt's name) - made when asked (`CanvasScene.helpEvent` shows it)
        ends = f"{self.edge.source}.{self.edge.source_port} → {self.edge.target}.{self.edge.target_port}"
        return f"{ends}\n{self.shape_text if self.shape_text else 'shape unknown'}"

    def _restyle(self) -> None:
        """Colour, width and height from its state; the scene calls it when the selection changes."""
        self._styled = True
        active = self.hovered or self.isSelected()
        self.setPen(_pen(active, bool(self.shape_text)))
        if active or self._label is not None:
            self.label.setVisible(active)
        self.setZValue(3 if active else 0)

    @property
    def label(self) -> ShapeLabel:
        """The shape label at the wire's middle (shown on hover and selection)."""
        if self._label is None:
            self._label = ShapeLabel(self)
            self._label.setVisible(False)
            self._label.set_text(self.shape_text or "?")
            self._label.setPos(self.path().pointAtPercent(0.5))
        return self._label

    def shape(self) -> QPainterPath:
        """The path widened to 12 px for the mouse; Qt also takes the bounding rect from it."""
        if self._stroke is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(12)
            self._stroke = stroker.createStroke(self.path())
        return self._stroke

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if low_detail(option, painter):  # a straight hairline between its ends (`gui.canvas.detail`)
            self.detail = "line"
            painter.setPen(_pen(self.hovered or self.isSelected(), self._known(), hairline=True))
            painter.drawLine(*self.ends)
            return
        self.detail = "path"
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(_pen(self.hovered or self.isSelected(), self._known()))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())

    def hoverEnterEvent(self, event) -> None:
        self.hovered = True
        self._restyle()
        scene = self.scene()
        if scene is not None and hasattr(scene, "statusMessage"):
            scene.hovered_edge = self  # its label shows: the scene keeps it up to date with each result
            scene.statusMessage.emit(self.toolTip().replace("\n", ":  "))
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self.hovered = False
        self._restyle()
        scene = self.scene()
        if getattr(scene, "hovered_edge", None) is self:
            scene.hovered_edge = None
        super().hoverLeaveEvent(event)


def _coords(points) -> list[tuple[float, float]]:
    return [(point.x(), point.y()) for point in points]


_PENS: dict[tuple[bool, bool, bool], QPen] = {}


def _pen(active: bool, known: bool, hairline: bool = False) -> QPen:
    """A wire's pen: the accent and wider while hovered or selected, dashed while its shape is unknown; a
    one-pixel line of the same colour for the zoomed-out drawing. Made once each (a large graph restyles
    thousands of wires when it opens, and paints thousands of lines per frame)."""
    key = (active, known, hairline)
    if key not in _PENS:
        colour = theme.ACCENT if active else (theme.WIRE if known else theme.WIRE_UNKNOWN)
        if hairline:
            pen = QPen(colour, 0)
        else:
            pen = QPen(colour, 3.0 if active else 2.0)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            if not known:
                pen.setStyle(Qt.PenStyle.DashLine)
                pen.setCapStyle(Qt.PenCapStyle.FlatCap)  # a round cap on every dash: 2-3x the time to draw
        _PENS[key] = pen
    return _PENS[key]


def carried_shape(result, edge: Edge) -> str | None:
    """The shape a wire carries in `result`, as its label shows it (None: unknown)."""
    info = result.info.get(edge.source)
    spec = info.outputs.get(edge.source_port) if info is not None else None
    return str(spec) if spec is not None else None
