"""Live node health on the canvas while a run trains.

Each `events.HealthSample` (see `engine.training.health`) updates a small chip hanging off the bottom
edge of every sampled node: a sparkline of its recent health (the dead fraction for ReLU-like nodes,
else the gradient norm on a log scale), coloured by trouble: amber for more than half of its units
dead or a vanishing or exploding gradient norm, red for the first non-finite value. Its tooltip gives
the numbers. The chip is a child item of the node, so it moves with it; `HealthOverlay.clear()`
removes them all (a new run starts, the user hides them).
"""

from __future__ import annotations

import math
from collections import deque

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from graphs.errors import printable

CHIP_W, CHIP_H = 64.0, 14.0
HISTORY = 30
OK, TROUBLE, BROKEN = QColor("#4caf7a"), QColor("#f0a030"), QColor("#e04848")
CHIP_FILL = QColor(24, 26, 30, 235)


def trouble(node, largest_grad: float) -> str | None:
    """What is wrong with one node's health (NodeHealth), in words, or None."""
    from engine.training import advisor  # the advisor's thresholds: one definition of trouble

    if not node.finite:
        return "a non-finite value (NaN or inf)"
    if node.dead_fraction is not None and node.dead_fraction > advisor.DEAD:
        return f"{node.dead_fraction:.0%} of its units are dead"
    grad = node.grad_norm
    if grad is not None and grad > advisor.EXPLODING:
        return f"exploding gradient norm {grad:.3g}"
    if grad is not None and (grad < advisor.VANISHING or (largest_grad > 0 and grad < advisor.VANISHING_RATIO *
                                                          largest_grad)):
        return f"vanishing gradient norm {grad:.3g}"
    return None


class HealthChip(QGraphicsItem):
    """The health of one node: a sparkline and a colour, under the node's face."""

    def __init__(self, parent: QGraphicsItem):
        super().__init__(parent)
        self.values: deque[float] = deque(maxlen=HISTORY)
        self.problem: str | None = None
        self.first_non_finite = False
        self.setZValue(2)
        self.setAcceptHoverEvents(True)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, CHIP_W, CHIP_H).adjusted(-1, -1, 1, 1)

    def place(self) -> None:
        rect = self.parentItem().boundingRect()
        face = self.parentItem()._rect if hasattr(self.parentItem(), "_rect") else rect
        self.setPos(face.width() / 2 - CHIP_W / 2, face.height() + 3)  # under the face: the footer stays readable

    def add(self, node, largest_grad: float, first: bool) -> None:
        if node.dead_fraction is not None:
            value = node.dead_fraction
        elif node.grad_norm is not None and node.grad_norm > 0 and math.isfinite(node.grad_norm):
            value = math.log10(node.grad_norm)
        else:
            value = node.std if math.isfinite(node.std) else 0.0
        self.values.append(value)
        self.problem = trouble(node, largest_grad)
        self.first_non_finite = first
        lines = [f"<b>health of {printable(node.node_id)}</b>", f"activation mean {node.mean:.3g}, std {node.std:.3g}"]
        if node.zero_fraction is not None:
            lines.append(f"zeros {node.zero_fraction:.0%}, dead units {node.dead_fraction:.0%}")
        if node.grad_norm is not None:
            lines.append(f"gradient norm {node.grad_norm:.3g}")
        if self.problem:
            lines.append(f"<span style='color:#f0a030'>trouble: {self.problem}</span>")
        if first:
            lines.append("<span style='color:#e04848'>the first non-finite value appeared here</span>")
        self.setToolTip("<br>".join(lines))
        self.place()
        self.update()

    @property
    def colour(self) -> QColor:
        if self.first_non_finite or (self.problem or "").startswith("a non-finite"):
            return BROKEN
        return TROUBLE if self.problem else OK

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(0, 0, CHIP_W, CHIP_H)
        colour = self.colour
        painter.setPen(QPen(colour, 1.4))
        painter.setBrush(CHIP_FILL)
        painter.drawRoundedRect(rect, CHIP_H / 2, CHIP_H / 2)
        values = [v for v in self.values if math.isfinite(v)]
        if len(values) < 2:
            painter.setBrush(colour)
            painter.drawEllipse(rect.center(), 3, 3)
            return
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        inner = rect.adjusted(6, 3, -6, -3)
        path = QPainterPath()
        for i, v in enumerate(values):
            point = QPointF(inner.left() + inner.width() * i / (len(values) - 1),
                            inner.bottom() - inner.height() * (v - low) / span)
            path.lineTo(point) if i else path.moveTo(point)
        painter.setPen(QPen(colour, 1.3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)


class HealthOverlay:
    """Keeps a `HealthChip` on each sampled node of `scene` (a CanvasScene)."""

    def __init__(self, scene):
        self.scene = scene
        self.samples = 0

    def show_sample(self, sample) -> None:
        grads = [n.grad_norm for n in sample.nodes if n.grad_norm is not None and math.isfinite(n.grad_norm)]
        largest = max(grads, default=0.0)
        for node in sample.nodes:
            item = self.scene.node_item(node.node_id)
            if item is None:  # the graph changed since the run started
                continue
            chip = self.chip(item) or HealthChip(item)
            chip.add(node, largest, node.node_id == sample.first_non_finite)
        self.samples += 1

    @staticmethod
    def chip(item) -> HealthChip | None:
        return next((c for c in item.childItems() if isinstance(c, HealthChip)), None)

    def chips(self) -> dict[str, HealthChip]:
        return {item.node_id: chip for item in self.scene.node_items() if (chip := self.chip(item)) is not None}

    def clear(self) -> None:
        for chip in self.chips().values():
            chip.setParentItem(None)
            if chip.scene() is not None:
                chip.scene().removeItem(chip)
        self.samples = 0
