"""A run comparison drawn on the canvas: the graph diff from run A to run B as a colour overlay on the
nodes by id. Added nodes get a green outline, nodes with changed params an amber one (the tooltip lists
the changes), and removed nodes appear as grey dashed ghosts where run A had them, with their id and type.

The overlay is decoration only: its items are children of the node items (so they move with them) or
loose ghost items, never part of the document, and `clear()` takes every one away. It holds no state of
the document and is cleared when another project opens.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsSimpleTextItem

from graphs.errors import printable

ADDED, CHANGED, REMOVED = "#4cc26a", "#f0a020", "#9aa0a6"
MARGIN = 6.0
GHOST_SIZE = (150.0, 60.0)


def _value(value) -> str:
    return printable(str(value))


class DiffOverlay:
    """The overlay on one CanvasScene; `show(diff, graph_a)` draws it, `clear()` removes it."""

    def __init__(self, scene):
        self.scene = scene
        self.items: list[QGraphicsItem] = []
        self.marked: dict[str, str] = {}  # node id -> "added" | "changed" (nodes on the canvas)
        self.ghosts: list[str] = []  # removed node ids drawn as ghosts

    @property
    def active(self) -> bool:
        return bool(self.items)

    def show(self, diff, graph_a) -> None:
        """Draw `diff` (a graphs.diff.GraphDiff from `graph_a`) over the canvas's nodes with the same ids."""
        self.clear()
        for node_id in diff.added:
            self._outline(node_id, ADDED, "added in run B")
        for node_id, params in diff.changed.items():
            lines = [f"{printable(name)}: {_value(a)} → {_value(b)}" for name, (a, b) in params.items()]
            self._outline(node_id, CHANGED, "changed in run B:\n" + "\n".join(lines))
        for node_id in diff.removed:
            node = graph_a.node(node_id)
            self._ghost(node_id, node.type, node.position)

    def _outline(self, node_id: str, colour: str, tooltip: str) -> None:
        item = self.scene.node_item(node_id)
        if item is None:  # not on the canvas (the canvas shows neither run's graph exactly)
            return
        frame = QGraphicsRectItem(item.boundingRect().adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN), item)
        frame.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent)
        frame.setPen(QPen(QColor(colour), 4))
        fill = QColor(colour)
        fill.setAlpha(60)
        frame.setBrush(QBrush(fill))
        frame.setToolTip(tooltip)
        caption = QGraphicsSimpleTextItem(tooltip.splitlines()[-1] if colour == CHANGED and tooltip.count("\n") == 1
                                          else tooltip.splitlines()[0].replace(":", ""), frame)
        caption.setBrush(QBrush(QColor(colour)))
        caption.setPos(frame.rect().left(), frame.rect().top() - caption.boundingRect().height() - 2)
        self.items.append(frame)
        self.marked[node_id] = "added" if colour == ADDED else "changed"

    def _ghost(self, node_id: str, type_name: str, position) -> None:
        if self.scene.node_item(node_id) is not None:  # a node of that id is on the canvas: mark it instead
            self._outline(node_id, REMOVED, "removed in run B")
            self.ghosts.append(node_id)
            return
        ghost = QGraphicsRectItem(QRectF(0, 0, *GHOST_SIZE))
        ghost.setPos(*position)
        pen = QPen(QColor(REMOVED), 2, Qt.PenStyle.DashLine)
        ghost.setPen(pen)
        fill = QColor(REMOVED)
        fill.setAlpha(40)
        ghost.setBrush(QBrush(fill))
        ghost.setZValue(-1)
        ghost.setToolTip(f"{printable(node_id)} ({printable(type_name)}): removed in run B")
        label = QGraphicsSimpleTextItem(f"removed: {printable(node_id)}\n{printable(type_name)}", ghost)
        label.setBrush(QBrush(QColor(REMOVED)))
        label.setPos(8, 8)
        self.scene.addItem(ghost)
        self.items.append(ghost)
        self.ghosts.append(node_id)

    def clear(self) -> None:
        for item in self.items:
            if not shiboken6.isValid(item):  # went with its node (deleted, or another project opened)
                continue
            if item.parentItem() is not None:
                item.setParentItem(None)
            if item.scene() is not None:
                item.scene().removeItem(item)
        self.items.clear()
        self.marked.clear()
        self.ghosts.clear()
