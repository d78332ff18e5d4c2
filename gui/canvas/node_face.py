"""What a node's face shows and how big it is: its fonts and a memo of text widths, its ports and key
params worked out once per layer type and params, and its box worked out once per what it shows but the
title (a 10,000-node model repeats a few kinds of layer many times). `gui.canvas.node_item` draws it."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainterPath, QPen

from graphs.catalogue import CATALOGUE
from graphs.document import Node
from graphs.unit_registry import is_ref
from gui import formatting, theme

PAD = 10.0
HEADER_H = 26.0
LINE_H = 17.0
ROW_H = 20.0
FOOTER_H = 24.0
MIN_WIDTH = 150.0
RADIUS = 6.0
PORT_R = 5.0
BADGE_R = 9.0
FROZEN = QColor("#6cb8e8")  # the snowflake badge of a frozen node (trainable false)
FROZEN_VEIL = QColor(12, 16, 22, 110)  # dims a frozen node's body
LIGHTBULB_BG = QColor("#e8b931")  # the badge beside the error badge when a fix is suggested
LIGHTBULB_DX = 2.2 * BADGE_R  # how far right of the error badge it sits


class Text:
    """The node fonts, created once, and a memo of text widths (node faces repeat a lot of text)."""

    fonts: dict | None = None
    widths: dict = {}

    @classmethod
    def font(cls, name: str):
        if cls.fonts is None:
            cls.fonts = {"title": theme.font(0.5, bold=True), "small": theme.font(-1), "body": theme.font(-1),
                         "mono": theme.font(-1.5, mono=True), "badge": theme.font(0, bold=True)}
            cls.metrics = {key: QFontMetricsF(f) for key, f in cls.fonts.items()}
        return cls.fonts[name]

    @classmethod
    def width(cls, name: str, text: str) -> float:
        key = (name, text)
        if key not in cls.widths:
            cls.font(name)
            if len(cls.widths) > 20000:
                cls.widths.clear()
            cls.widths[key] = cls.metrics[name].horizontalAdvance(text)
        return cls.widths[key]


FACES: dict = {}  # face_key -> face_of: a model repeats a few kinds of layer many times
BOXES: dict = {}  # box_of's arguments -> box_of
MEMO_SIZE = 4096


def remember(memo: dict, key, value) -> None:
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    memo[key] = value


def face_key(node: Node, spec):
    """What a catalogue layer's ports and key params depend on: its type and params. None for a node
    whose face depends on its graph too (a unit's instance or port, a custom layer, a param linked to
    a unit param)."""
    if spec is None or CATALOGUE.get(node.type) is not spec or any(isinstance(v, dict) for v in node.params.values()):
        return None
    return node.type, repr(node.params)


def face_of(node: Node, spec) -> tuple[list[str], list[str], tuple]:
    """(input port names, output port names, key params as (name, text)) of a node."""
    try:
        resolved = node.resolved_params()
        if spec is not None:  # a layer: its ports from the params already resolved
            in_ports, out_ports = spec.input_ports(resolved), spec.output_ports(resolved)
        else:  # a unit instance: its ports come from the unit, through its graph
            in_ports, out_ports = node.input_ports(), node.output_ports()
    except Exception:  # an unknown type or bad params from a file: draw what we can
        resolved, in_ports, out_ports = dict(node.params), [], ["out"]
    key_params = tuple((name, f"= {node.params[name]['ref']}" if is_ref(node.params.get(name))  # a unit param
                        else formatting.param_value(spec.param(name), resolved.get(name)))
                       for name in (spec.key_params if spec else ()))
    return list(in_ports), list(out_ports), key_params


def box_of(key_params: tuple, ports: tuple, shape_text: str, params_text: str, unit_line: str | None):
    """(the widest line but the title, height, ports' top, key params' top) of a node face: nodes that
    differ only in type and id share it."""
    w = Text.width
    widths = [w("body", f"{name}  {value}") + 8 for name, value in key_params]
    in_w = max((w("small", n) for n in ports[0]), default=0)
    out_w = max((w("small", n) for n in ports[1]), default=0)
    widths.append(in_w + out_w + 40)
    widths.append(w("mono", shape_text) + 14 + w("small", params_text))
    if unit_line:
        widths.append(w("small", unit_line) + 8)
    ports_top = HEADER_H + 2 + (LINE_H if unit_line else 0)
    params_top = ports_top + max(len(ports[0]), len(ports[1]), 1) * ROW_H + 2
    params_h = (len(key_params) * LINE_H + 4) if key_params else 0
    return max(widths), params_top + params_h + FOOTER_H, ports_top, params_top


def own_type(node: Node):
    """The type of a node outside the catalogue (a project's custom layer), or None when it is unknown."""
    try:
        return node.spec
    except Exception:  # an unknown type from a file: drawn without one
        return None


# a face's pens, colours, alignments and paths: made once, not on each paint (a view at 100% paints dozens)
ALIGN_LEFT = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
ALIGN_RIGHT = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
ID_COLOUR = QColor(255, 255, 255, 190)
RULE_PEN, BORDER_PEN = QPen(theme.NODE_BORDER, 1), QPen(theme.NODE_BORDER, 1.2)
SELECTED_PEN, ERROR_PEN = QPen(theme.ACCENT, 2.2), QPen(theme.ERROR, 2.0)
FACE_PATHS: dict[tuple[float, float], tuple[QPainterPath, QPainterPath]] = {}


def face_paths(width: float, height: float) -> tuple[QPainterPath, QPainterPath]:
    """A face's rounded body and its header (the body's top), for each size once: the header is a path
    intersection, slow to make on every paint."""
    paths = FACE_PATHS.get((width, height))
    if paths is None:
        body = QPainterPath()
        body.addRoundedRect(QRectF(0, 0, width, height), RADIUS, RADIUS)
        header = QPainterPath()
        header.addRect(QRectF(0, 0, width, HEADER_H))
        paths = (body, header.intersected(body))
        remember(FACE_PATHS, (width, height), paths)
    return paths
