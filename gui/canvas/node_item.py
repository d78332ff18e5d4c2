"""A node on the canvas: header in its category colour, id, key params, ports, output shape, params.

Items hold no model state of their own: `set_node` and `set_result` copy what
the document and the latest inference say, and the item sizes itself to its
text so nothing is clipped. Ports are child items (`PortItem`) so a wire drag
can start on them, made when first asked for (`ports()`, `port()`, `inputs`,
`outputs`, a hover, a press near them): until then the node draws its port
circles itself, so opening a 10,000-node model does not make, index and later
destroy tens of thousands of items nobody touches. Inputs sit on the left edge, outputs on the right, in rows
right under the header (at the same height on every node, so a chain of nodes
in a row is joined by straight wires), then the key params, then a footer with
the output shape and the parameter count.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from graphs.catalogue import CATALOGUE
from graphs.document import Node
from graphs.families.units import STRUCTURE
from gui import formatting, theme
from gui.canvas.detail import low_detail
from gui.canvas.node_face import (
    ALIGN_LEFT,
    ALIGN_RIGHT,
    BADGE_R,
    BORDER_PEN,
    BOXES,
    ERROR_PEN,
    FACES,
    FOOTER_H,
    FROZEN,
    FROZEN_VEIL,
    HEADER_H,
    ID_COLOUR,
    LIGHTBULB_BG,
    LIGHTBULB_DX,
    LINE_H,
    MIN_WIDTH,
    PAD,
    PORT_R,
    RADIUS,
    ROW_H,
    RULE_PEN,
    SELECTED_PEN,
    Text,
    box_of,
    face_key,
    face_of,
    face_paths,
    own_type,
    remember,
)
from gui.fix_menu import paint_lightbulb
from gui.units.look import switch_of

_FLAGS = QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable


class PortItem(QGraphicsItem):
    """One port: a small circle on a node's edge. Wire drags start and end here."""

    HIT_R = 9.0

    def __init__(self, parent: NodeItem, name: str, is_output: bool):
        super().__init__(parent)
        self.name, self.is_output = name, is_output
        self.state = "normal"  # normal, or while a wire is dragged: ok | mismatch | refused (gui.canvas.wire_check)
        self.connected = False
        self.hovered = False
        self.setAcceptHoverEvents(True)
        self.setZValue(2)

    def toolTip(self) -> str:  # noqa: N802 (Qt's name) - made when asked: a large graph has tens of thousands
        specs = self.node_item.port_specs(self.is_output)
        spec = specs.get(self.name)
        if self.is_output:
            return f"output '{self.name}': {formatting.shape(spec.shape) if spec else 'shape unknown'}"
        return f"input '{self.name}': {formatting.shape(spec.shape) if spec else 'not connected / unknown'}"

    @property
    def node_item(self) -> NodeItem:
        return self.parentItem()

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:
        return _PORT_BOUNDS  # Qt asks for it on every paint: made once (callers only read it)

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        if low_detail(option, painter) and self.state == "normal":  # a dot of a pixel or two: not drawn
            return
        paint_port(painter, QPointF(0, 0), self.state, self.connected, self.hovered)

    def hoverEnterEvent(self, event) -> None:
        self.hovered = True
        self.setCursor(Qt.CursorShape.CrossCursor)  # set here, not on each of tens of thousands of ports up front
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self.hovered = False
        self.update()
        super().hoverLeaveEvent(event)


_PORT_PEN, _PORT_FILL, _PORT_HOLE = QPen(theme.PORT, 1.6), QBrush(theme.PORT), QBrush(theme.NODE_BODY)
_PORT_BOUNDS = QRectF(-PortItem.HIT_R, -PortItem.HIT_R, 2 * PortItem.HIT_R, 2 * PortItem.HIT_R)


def paint_port(painter: QPainter, centre: QPointF, state: str, connected: bool, hovered: bool = False) -> None:
    """A port's circle: filled when wired (or hovered, or taking a dragged wire), coloured by its drag state."""
    colour = {"ok": theme.OK, "mismatch": theme.PORT_MISMATCH, "refused": theme.WIRE_UNKNOWN}.get(state, theme.PORT)
    radius = PORT_R + (2 if state == "ok" or hovered else 0)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(colour, 1.6))
    filled = connected or state == "ok" or hovered
    painter.setBrush(QBrush(colour) if filled else QBrush(theme.NODE_BODY))
    painter.drawEllipse(centre, radius, radius)


class Newest:
    """The newest inference result a scene's node items are to show, and the ids of the nodes whose items
    have not taken it yet, shared by all of them: a result that changes 2,000 nodes marks them with one set
    union, and each item takes it when drawn with its text or read (`NodeItem.pending`)."""

    __slots__ = ("result", "ids")

    def __init__(self):
        self.result = None
        self.ids: set[str] = set()


class NodeItem(QGraphicsItem):
    """The drawing of one document node. Its position is the node's top-left corner."""

    def __init__(self, node: Node, result: tuple | None = None, unit_line: str | None = None, stacked: bool = False,
                 newest: Newest | None = None):
        """`result`: (info, input specs, errors) as `set_result` takes them, and `unit_line` and `stacked` as
        `set_unit_line` takes them, when already known (a project being opened), so the item is laid out
        once, at its final size. `newest`: its scene's newest result, shared by all its items."""
        super().__init__()
        self.node_id = node.id
        self._newest = newest
        self.setFlags(_FLAGS)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.edges: set = set()  # EdgeItems attached to this node
        self._port_names: tuple[list[str], list[str]] = ([], [])  # input and output port names, in order
        self._inputs: dict[str, PortItem] | None = None  # the port items, once made (`_make_ports`)
        self._outputs: dict[str, PortItem] | None = None
        self._errors: list[str] = []
        self.fixable = False  # a suggested fix exists for an error here (gui.fix_menu): the lightbulb badge
        self.fix_menu_requested = None  # called with the screen position when the lightbulb is clicked
        self._shape_text = "…"
        self._params_count: int | None = None
        self.unit_line = unit_line  # an instance's or a Repeat's summary (gui.units.look)
        self.stacked = stacked  # a Repeat draws as a stack of cards
        self._specs: tuple[dict, dict] = ({}, {})  # the latest result's input and output specs, for the tooltips
        self._shown = None  # what set_result last showed
        self._laid_out_ports: tuple | None = None  # the port names the last layout placed
        self.detail: str | None = None  # how it was last drawn: "full", or "box" at low zoom (gui.canvas.detail)
        self._rect = QRectF(0, 0, MIN_WIDTH, 80)
        self._bounds = _bounds(self._rect)
        self._title_font = Text.font("title")
        self._id_font = Text.font("small")
        self._body_font = Text.font("body")
        self._mono_font = Text.font("mono")
        self._take_node(node)
        if result is not None:
            self._take_result(*result)
        self._relayout()

    # ---- what the document and the inference say ---------------------
    def set_node(self, node: Node) -> None:
        before = self.pos()
        self._take_node(node)
        self._shown = None
        self._relayout()
        if self.pos() != before:
            self.moved()

    def _take_node(self, node: Node) -> None:
        self.type_name = node.type
        spec = CATALOGUE.get(node.type) or STRUCTURE.get(node.type) or own_type(node)  # a layer, a unit's port or a Repeat, or a custom layer
        self.category = spec.category if spec else ""
        self._colour = theme.category_colour(self.category)  # parsed once, not on every paint
        self.doc = spec.doc if spec else ""
        key = face_key(node, spec)
        face = FACES.get(key) if key is not None else None
        if face is None:
            face = face_of(node, spec)
            if key is not None:
                remember(FACES, key, face)
        in_ports, out_ports, key_params = face
        self.key_params = list(key_params)
        self.optional = switch_of(node)  # an optional layer of a unit: the param that switches it on
        if self.optional:
            self.key_params.append(("optional", f"if {self.optional}"))
        if node.shares:  # the weights live in another node: say which, on the face
            self.key_params.append(("shares", node.shares))
        self.frozen = not node.trainable  # drawn dimmed with a snowflake badge
        if node.lr_mult != 1.0:
            self.key_params.append(("lr_mult", f"×{node.lr_mult:g}"))
        self._port_names = (list(in_ports), list(out_ports))
        if self._inputs is not None:
            self._sync_ports(self._inputs, in_ports, False)
            self._sync_ports(self._outputs, out_ports, True)
        self.setPos(*node.position)

    def set_unit_line(self, line: str | None, stacked: bool = False) -> None:
        """Show an instance's summary line under the header (None: a plain node)."""
        if (line, stacked) != (self.unit_line, self.stacked):
            self.unit_line, self.stacked = line, stacked
            self._relayout()

    @property
    def inputs(self) -> dict[str, PortItem]:
        """Input port name -> its item (made now if not yet)."""
        self._make_ports()
        return self._inputs

    @property
    def outputs(self) -> dict[str, PortItem]:
        """Output port name -> its item (made now if not yet)."""
        self._make_ports()
        return self._outputs

    def ports_made(self) -> bool:
        return self._inputs is not None

    def _make_ports(self) -> None:
        if self._inputs is not None:
            return
        self._inputs, self._outputs = {}, {}
        fed = self.wired_ports()
        for ports, names, is_output in ((self._inputs, self._port_names[0], False),
                                        (self._outputs, self._port_names[1], True)):
            for i, name in enumerate(names):
                port = ports[name] = PortItem(self, name, is_output)
                port.connected = (name, is_output) in fed
                port.setPos(self._rect.width() if is_output else 0.0, self._row_y(i))

    def wired_ports(self) -> set[tuple[str, bool]]:
        """(port name, is output) of each of its ports that has a wire."""
        fed = {(e.edge.source_port, True) for e in self.edges if e.source is self}
        return fed | {(e.edge.target_port, False) for e in self.edges if e.target is self}

    def port_scene_pos(self, name: str, is_output: bool) -> QPointF | None:
        """Where a port sits in the scene (its item need not be made), or None when the node has no such port."""
        names = self._port_names[is_output]
        if name not in names:
            return None
        pos = self.pos()  # a top-level item, never transformed
        return QPointF(pos.x() + (self._rect.width() if is_output else 0.0), pos.y() + self._row_y(names.index(name)))

    def _sync_ports(self, ports: dict, names: list[str], is_output: bool) -> None:
        for name in [n for n in ports if n not in names]:
            item = ports.pop(name)
            item.setParentItem(None)
            if item.scene() is not None:
                item.scene().removeItem(item)
        for name in names:
            if name not in ports:
                ports[name] = PortItem(self, name, is_output)
        ordered = {name: ports[name] for name in names}
        ports.clear()
        ports.update(ordered)

    def set_result(self, info, inputs: dict, errors: list) -> None:
        """Show an inference result: `info` (NodeInfo or None), input specs, GraphErrors for this node.
        Nothing is redrawn when what the node shows did not change."""
        self._drop_pending()
        if self._take_result(info, inputs, errors):
            self._relayout()

    @property
    def pending(self):
        """The newer inference result this item waits to show (its scene's `Newest`: taken when the item is
        next drawn with its text, `sync`, or read; an edit that changes 2,000 nodes costs what is on screen)."""
        newest = self._newest
        return newest.result if newest is not None and self.node_id in newest.ids else None

    @property
    def newest_result(self):
        """The newest inference result its scene has (None outside a scene's `Newest`)."""
        return self._newest.result if self._newest is not None else None

    def _drop_pending(self) -> None:
        if self._newest is not None:
            self._newest.ids.discard(self.node_id)

    @property
    def stale(self) -> bool:
        """A newer result waits to be shown (`pending`)."""
        return self.pending is not None

    def sync(self, resize: bool = True) -> None:
        """Take the newer result it waits to show (`pending`), if any; its new size at once, or (`resize` False, while
        painting) once the event loop turns."""
        result = self.pending
        if result is None:
            return
        self._drop_pending()
        for edge in self.edges:  # the wires out of it carry its new shapes, when they are drawn or read
            if edge.source is self:
                edge.follow(result)
        node_id = self.node_id
        if self._take_result(result.info.get(node_id), result.inputs.get(node_id, {}), result.errors_for(node_id)):
            self._relayout() if resize else self._relayout(resize=False)

    @property
    def errors(self) -> list[str]:
        """The messages of this node's errors in the latest result."""
        self.sync()
        return self._errors

    @property
    def shape_text(self) -> str:
        self.sync()
        return self._shape_text

    @property
    def params_count(self) -> int | None:
        self.sync()
        return self._params_count

    def has_errors(self) -> bool:
        """Whether the latest result has errors here, without taking the rest of it (the low-zoom box)."""
        result = self.pending
        if result is not None:
            return self.node_id in result.errors_by_node
        return bool(self._errors)

    def shows_nothing(self) -> bool:
        """No inference result shown since it was made or its node changed."""
        return self._shown is None and self.pending is None

    def _take_result(self, info, inputs: dict, errors: list) -> bool:
        """Keep what `set_result` shows; whether it changed."""
        outputs = dict(info.outputs) if info is not None else {}
        state = (tuple(e.message for e in errors), tuple(outputs.items()), tuple(inputs.items()),
                 info.params if info is not None else None)
        if state == self._shown:
            return False
        self._shown = state
        self._errors = [e.message for e in errors]
        if info is not None:
            shapes = [formatting.shape(spec.shape) for spec in outputs.values()]
            self._shape_text = "  ".join(shapes) if shapes else "–"
            self._params_count = info.params
        else:
            self._shape_text, self._params_count = "?", None
        self._specs = (dict(inputs), outputs)
        return True

    def toolTip(self) -> str:  # noqa: N802 (Qt's name) - made when asked (`CanvasScene.helpEvent` shows it)
        tip = [f"<b>{self.type_name}</b> '{self.node_id}'", self.doc]
        tip += [f"<span style='color:{theme.ERROR.name()}'>⚠ {_escape(m)}</span>" for m in self.errors]
        return "<br>".join(t for t in tip if t)

    def port_specs(self, outputs: bool) -> dict:
        """Port name -> the tensor spec the latest inference gave it (inputs or outputs)."""
        self.sync()
        return self._specs[1 if outputs else 0]

    # ---- geometry ------------------------------------------------------
    def _params_text(self) -> str:
        if self._params_count is None:
            return ""
        return f"{formatting.count(self._params_count)} params"

    def _relayout(self, resize: bool = True) -> None:
        """Size the item to its text; with `resize` False (while painting, when Qt must not see the
        geometry change) a new size waits for the event loop's next turn."""
        ports = (tuple(self._port_names[0]), tuple(self._port_names[1]))
        key = (tuple(self.key_params), ports, self._shape_text, self._params_text(), self.unit_line)
        box = BOXES.get(key)
        if box is None:
            box = box_of(*key)
            remember(BOXES, key, box)
        widest, height, self._ports_top, self._params_top = box
        title = Text.width("title", self.type_name) + 18 + Text.width("small", self.node_id)
        rect = QRectF(0, 0, round(max(MIN_WIDTH, max(widest, title) + 2 * PAD)), round(height))
        if rect == self._rect and ports == self._laid_out_ports:  # same size, same ports: only the text changed
            self.update()
            return
        if not resize:
            QTimer.singleShot(0, lambda: shiboken6.isValid(self) and self._relayout())  # unless removed meanwhile
            return
        self._laid_out_ports = ports
        self.prepareGeometryChange()
        self._rect = rect
        self._bounds = _bounds(rect)
        if self._inputs is not None:
            for i, port in enumerate(self._inputs.values()):
                port.setPos(0, self._row_y(i))
            for i, port in enumerate(self._outputs.values()):
                port.setPos(rect.width(), self._row_y(i))
        self._route_wires()
        self.update()

    def moved(self) -> None:
        """Its position changed (a drag, the document): its wires follow. The scene calls this; no
        itemChange override, which Qt would call from Python for every change of every item."""
        self._route_wires()

    def _route_wires(self) -> None:
        scene = self.scene()
        if scene is not None and hasattr(scene, "node_geometry_changed"):
            scene.node_geometry_changed(self)
        else:
            for edge in list(self.edges):
                edge.update_path()

    def _row_y(self, i: int) -> float:
        return self._ports_top + (i + 0.5) * ROW_H

    def rect(self) -> QRectF:
        return QRectF(self._rect)

    def size(self) -> tuple[float, float]:
        return self._rect.width(), self._rect.height()

    def boundingRect(self) -> QRectF:
        return self._bounds  # Qt asks for it for every item it paints, every frame: made when the size changes

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self._rect, RADIUS, RADIUS)
        if self._errors and self.fixable:  # the lightbulb sticks out above the node: clickable all over
            badge = QPainterPath()
            badge.addEllipse(self._lightbulb_centre(), BADGE_R + 2, BADGE_R + 2)
            return path.united(badge)
        return path

    def port(self, name: str, is_output: bool) -> PortItem | None:
        return (self.outputs if is_output else self.inputs).get(name)

    def ports(self) -> list[PortItem]:
        return [*self.inputs.values(), *self.outputs.values()]

    # ---- drawing -------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        """The full face, or at low zoom a plain box (`gui.canvas.detail`). Items that draw another face
        (a collapsed unit) override `paint_detail` and keep the level of detail."""
        if low_detail(option, painter):
            self.detail = "box"
            self.paint_box(painter)
        else:
            self.detail = "full"
            if self.pending is not None:  # the view syncs what it shows before painting; another painter may not
                self.sync(resize=False)
            self.paint_detail(painter, option, widget)

    def paint_box(self, painter: QPainter) -> None:
        """The low-zoom face: a box in its category colour, no text; the accent colour when selected, the
        error colour when it has an error, so both still stand out in a view of the whole graph."""
        if self.isSelected():
            colour = theme.ACCENT
        else:
            colour = theme.ERROR if self.has_errors() else self._colour
        painter.fillRect(self._rect, colour)

    def paint_detail(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self._rect
        if self.stacked:  # a Repeat: two cards peek out behind it
            edge = QColor(theme.NODE_MUTED)
            edge.setAlpha(150)
            painter.setPen(QPen(edge, 1.2))
            for shift in (8.0, 4.0):
                painter.setBrush(theme.NODE_BODY.lighter(100 + 2 * round(shift)))
                painter.drawRoundedRect(rect.translated(shift, -shift), RADIUS, RADIUS)
        body, header = face_paths(rect.width(), rect.height())
        painter.fillPath(body, theme.NODE_BODY)
        painter.fillPath(header, theme.category_colour("Units") if self.unit_line else self._colour)

        text_w = rect.width() - 2 * PAD
        painter.setPen(theme.NODE_TEXT)
        painter.setFont(self._title_font)
        painter.drawText(QRectF(PAD, 0, text_w, HEADER_H), ALIGN_LEFT, self.type_name)
        painter.setFont(self._id_font)
        painter.setPen(ID_COLOUR)
        painter.drawText(QRectF(PAD, 0, text_w, HEADER_H), ALIGN_RIGHT, self.node_id)

        if self.unit_line:
            painter.setFont(self._id_font)
            painter.setPen(theme.NODE_MUTED)
            painter.drawText(QRectF(PAD, HEADER_H, text_w, LINE_H + 2), ALIGN_LEFT, self.unit_line)
        y = self._params_top
        painter.setFont(self._body_font)
        for name, value in self.key_params:
            line = QRectF(PAD, y, text_w, LINE_H)
            painter.setPen(theme.NODE_MUTED)
            painter.drawText(line, ALIGN_LEFT, name)
            painter.setPen(theme.NODE_TEXT)
            painter.drawText(line, ALIGN_RIGHT, value)
            y += LINE_H

        painter.setFont(self._id_font)
        painter.setPen(theme.NODE_MUTED)
        for ports, align in ((self._port_names[0], ALIGN_LEFT), (self._port_names[1], ALIGN_RIGHT)):
            for i, name in enumerate(ports):
                painter.drawText(QRectF(PAD, self._row_y(i) - ROW_H / 2, text_w, ROW_H), align, name)

        footer = QRectF(PAD, rect.height() - FOOTER_H, text_w, FOOTER_H)
        painter.setPen(RULE_PEN)
        painter.drawLine(QPointF(1, footer.top()), QPointF(rect.width() - 1, footer.top()))
        painter.setFont(self._mono_font)
        painter.setPen(theme.ERROR if self._errors else theme.NODE_TEXT)
        painter.drawText(footer, ALIGN_LEFT, self._shape_text)
        painter.setFont(self._id_font)
        painter.setPen(theme.NODE_MUTED)
        painter.drawText(footer, ALIGN_RIGHT, self._params_text())

        painter.setPen(SELECTED_PEN if self.isSelected() else ERROR_PEN if self._errors else BORDER_PEN)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, RADIUS, RADIUS)
        if self.frozen:
            painter.fillPath(body, FROZEN_VEIL)
            self._paint_badge(painter, QPointF(1, 1), FROZEN, "❄")
        if self._errors:
            self._paint_badge(painter, QPointF(rect.width() - 1, 1))
        if self._errors and self.fixable:
            self._paint_badge(painter, self._lightbulb_centre(), LIGHTBULB_BG, "")
            paint_lightbulb(painter, self._lightbulb_centre(), BADGE_R * 0.8, QColor("#2b2b2b"))
        if self._inputs is None:  # no port items yet: their circles, as they would draw them
            self._paint_ports(painter)

    def _paint_ports(self, painter: QPainter) -> None:
        """The circles of ports in their normal state (`paint_port`), one pen for all: a view at 100% paints
        a few hundred nodes a frame."""
        fed = self.wired_ports()
        painter.setPen(_PORT_PEN)
        for names, is_output in ((self._port_names[0], False), (self._port_names[1], True)):
            x = self._rect.width() if is_output else 0.0
            for i, name in enumerate(names):
                painter.setBrush(_PORT_FILL if (name, is_output) in fed else _PORT_HOLE)
                painter.drawEllipse(QPointF(x, self._row_y(i)), PORT_R, PORT_R)

    def _paint_badge(self, painter: QPainter, centre: QPointF, colour: QColor = theme.ERROR, text: str = "!") -> None:
        painter.setPen(QPen(theme.NODE_BORDER, 1.5))
        painter.setBrush(colour)
        painter.drawEllipse(centre, BADGE_R, BADGE_R)
        painter.setPen(QColor("white"))
        painter.setFont(Text.font("badge"))
        painter.drawText(QRectF(centre.x() - BADGE_R, centre.y() - BADGE_R, 2 * BADGE_R, 2 * BADGE_R),
                         Qt.AlignmentFlag.AlignCenter, text)

    def set_fixable(self, fixable: bool) -> None:
        if fixable != self.fixable:
            self.fixable = fixable
            self.update()

    def _lightbulb_centre(self) -> QPointF:
        return QPointF(self._rect.width() - 1 + LIGHTBULB_DX, 1)  # right of the error badge: the id stays readable

    def on_lightbulb(self, pos: QPointF) -> bool:
        """Whether item position `pos` is on the lightbulb badge (shown only when a fix exists)."""
        delta = pos - self._lightbulb_centre()
        return bool(self.errors and self.fixable) and delta.x() ** 2 + delta.y() ** 2 <= (BADGE_R + 2) ** 2

    # ---- reactions -----------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if (event.button() == Qt.MouseButton.LeftButton and self.fix_menu_requested is not None
                and self.on_lightbulb(event.pos())):
            event.accept()
            self.fix_menu_requested(event.screenPos())
            return
        super().mousePressEvent(event)

    def hoverEnterEvent(self, event) -> None:
        self._make_ports()  # the pointer may go on to one: it hovers, shows its tooltip and starts a wire drag
        scene = self.scene()
        if scene is not None and hasattr(scene, "node_hovered"):
            scene.node_hovered(self)
        super().hoverEnterEvent(event)


def _bounds(rect: QRectF) -> QRectF:
    """A node's bounding rect: its face, the port circles at its sides and the badges at its corners."""
    return rect.adjusted(-PORT_R - BADGE_R, -BADGE_R - 2, PORT_R + BADGE_R + LIGHTBULB_DX, 3)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
