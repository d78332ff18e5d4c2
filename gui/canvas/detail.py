"""Level of detail: how much a canvas item draws at the view's current scale.

Below `TEXT_SCALE` a node's text would be a few pixels high, so node items draw as plain boxes in
their category colour (the accent colour when selected, the error colour in error), ports are not drawn and
wires are straight lines. Every item asks `low_detail` with the painter it is given, so it follows
the zoom of whichever view (or `QGraphicsScene.render`) paints it.
"""

from __future__ import annotations

from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QStyleOptionGraphicsItem

TEXT_SCALE = 0.4  # item pixels per scene unit below which text is not drawn (9-pt text under 5 px)


def scale_of(option: QStyleOptionGraphicsItem, painter: QPainter) -> float:
    """How many device pixels one item unit covers as `painter` paints."""
    return option.levelOfDetailFromTransform(painter.worldTransform())


def low_detail(option: QStyleOptionGraphicsItem, painter: QPainter) -> bool:
    """Whether to draw the plain version (boxes, straight wires, no ports, no text)."""
    return scale_of(option, painter) < TEXT_SCALE
