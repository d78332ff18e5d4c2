"""The line a wire takes from an output port to an input port, clear of every other node.

A wire is the plain curve when that meets no other node. Otherwise it runs level out of its
output, bends once in a gap between nodes and runs level into its input; and when no single bend
is clear, it detours along a horizontal lane above or below the nodes in its way, bending in gaps
at both ends. A wire that runs backwards (from one row of a wrapped layout into a later row) turns
down into the first clear lane below its output, runs back along it (down the left margin to
the lane above its input when that is rows further down) and turns down into its input. The obstacles are node bodies widened by their ports, so a wire never passes
through a port it does not belong to (which looks as if it fed that node). Pure geometry: the
edge item passes the rects of the nodes between its ends.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainterPath, QPainterPathStroker

TURN = 20.0  # half the width of a bend
LANE_GAP = 24.0  # how far from the nodes it passes a detour lane runs
TRIES = 12  # gaps a backward wire tries to turn down in, nearest first
# How far above and below its ends a wire that goes around looks for the nodes in its way, the gaps to bend
# in and the lanes to take: nodes rows away change nothing (and deleting one reroutes none of those wires)
DETOUR_REACH = 600.0
PORT_MARGIN = 9.0  # a node's ports stick out of its body by their radius; keep clear of that too


def wire_path(start: QPointF, end: QPointF) -> QPainterPath:
    """A horizontal-tangent cubic from `start` (an output) to `end` (an input)."""
    dx = max(40.0, abs(end.x() - start.x()) * 0.5)
    path = QPainterPath(start)
    path.cubicTo(QPointF(start.x() + dx, start.y()), QPointF(end.x() - dx, end.y()), end)
    return path


def obstacle(body: QRectF) -> QRectF:
    """The area of a node a foreign wire keeps out of: its body and its ports."""
    return body.adjusted(-PORT_MARGIN, -4, PORT_MARGIN, 4)


def body_area(area: QRectF) -> QRectF:
    """The area in which a node body's `obstacle` could meet `area`."""
    return area.adjusted(-PORT_MARGIN, -4, PORT_MARGIN, 4)


class _Router:
    def __init__(self, start: QPointF, end: QPointF, obstacles: list[QRectF]):
        self.start, self.end, self.obstacles = start, end, obstacles
        # `clear` looks only at the obstacles whose left edge lies within a box's reach: a backward wire in
        # a 10,000-node layout has thousands in its band, and scanning them all took ~100 ms a wire
        self._by_left = sorted(obstacles, key=QRectF.left)
        self._lefts = [r.left() for r in self._by_left]
        self._widest = max((r.width() for r in obstacles), default=0.0)
        self._edges: np.ndarray | None = None  # (left, top, right, bottom) of each obstacle, sorted by top

    def clear(self, left: float, right: float, y1: float, y2: float) -> bool:
        """No obstacle meets the box from `left` to `right` between heights `y1` and `y2`."""
        box = QRectF(QPointF(min(left, right), min(y1, y2)), QPointF(max(left, right), max(y1, y2)))
        box.adjust(0, -1, 0, 1)
        first = bisect_left(self._lefts, box.left() - self._widest)
        last = bisect_right(self._lefts, box.right())
        return not any(box.intersects(r) for r in self._by_left[first:last])

    def leaves(self, x: float, y: float) -> bool:
        """Level out of the output up to a bend at `x`, and the bend to height `y`, are clear."""
        s = self.start
        return self.clear(s.x(), x - TURN, s.y(), s.y()) and self.clear(x - TURN, x + TURN, s.y(), y)

    def arrives(self, x: float, y: float) -> bool:
        """A bend at `x` from height `y` to the input's, and level from there into it, are clear."""
        e = self.end
        return self.clear(x - TURN, x + TURN, y, e.y()) and self.clear(x + TURN, e.x(), e.y(), e.y())

    def bends(self) -> list[float]:
        """Where a bend may sit, left to right: just out of the output, in the gaps beside the
        obstacles, just before the input."""
        low, high = self.start.x() + 2 * TURN, self.end.x() - 2 * TURN
        xs = {low, high}
        for r in self.obstacles:
            xs.update((r.right() + 2 * TURN, r.left() - 2 * TURN))
        return sorted(x for x in xs if low <= x <= high)

    def one_bend(self) -> QPainterPath | None:
        for x in reversed(self.bends()):  # the bend nearest the input keeps the wire level longest
            if self.leaves(x, self.end.y()) and self.arrives(x, self.end.y()):
                path = QPainterPath(self.start)
                _bend(path, x, self.start.y(), self.end.y())
                path.lineTo(self.end)
                return path
        return None

    def detour(self) -> QPainterPath | None:
        s, e = self.start, self.end
        lanes = {r.top() - LANE_GAP for r in self.obstacles} | {r.bottom() + LANE_GAP for r in self.obstacles}
        bends = self.bends()
        for lane in sorted(lanes, key=lambda y: abs(y - s.y()) + abs(y - e.y())):
            out = next((x for x in bends if self.leaves(x, lane)), None)
            into = next((x for x in reversed(bends) if self.arrives(x, lane)), None)
            if out is None or into is None or into - out < 2 * TURN:
                continue
            if self.clear(out + TURN, into - TURN, lane, lane):
                path = QPainterPath(s)
                _bend(path, out, s.y(), lane)
                _bend(path, into, lane, e.y())
                path.lineTo(e)
                return path
        return None


    def backward(self) -> QPainterPath | None:
        """A wire into an earlier column (a wrapped layout's next row): out of the output, down a gap to the
        first clear lane below it, back along that lane (down the left margin to another lane when the input
        is rows further down), then down a gap into the input."""
        s, e = self.start, self.end
        into = e.x() - 2 * TURN
        edges = self._sorted_edges()
        left = min(float(edges[:, 0].min(initial=into)), into) - 2 * TURN
        rights = edges[:, 2]
        gaps = sorted({s.x() + 2 * TURN} | set((rights[rights > s.x()] + 2 * TURN).tolist()))
        turns = ((out, y) for out in gaps[:TRIES] if self.clear(s.x(), out - TURN, s.y(), s.y())
                 for y in self.free_rows(left, out) if y > s.y() and self.clear(out - TURN, out + TURN, s.y(), y))
        out, below = next(turns, (None, None))
        if out is None:
            return None
        above = next((y for y in reversed(self.free_rows(left, out))
                      if y < e.y() and self.clear(into - TURN, into + TURN, y, e.y())), None)
        if above is None or below > above:
            return None
        path = QPainterPath(s)
        path.lineTo(QPointF(out - TURN, s.y()))
        path.cubicTo(QPointF(out + TURN, s.y()), QPointF(out + TURN, below), QPointF(out - TURN, below))
        if above - below > 1:  # rows apart: down the left margin
            path.lineTo(QPointF(left + TURN, below))
            path.cubicTo(QPointF(left - TURN, below), QPointF(left - TURN, above), QPointF(left + TURN, above))
        path.lineTo(QPointF(into - TURN, above))
        path.cubicTo(QPointF(into + TURN, above), QPointF(into - TURN, e.y()), QPointF(into + TURN, e.y()))
        path.lineTo(e)
        return path

    def free_rows(self, x1: float, x2: float) -> list[float]:
        """Heights, top to bottom, at which a level line from `x1` to `x2` meets no obstacle: the middle of
        each free band between the obstacles in that span."""
        edges = self._sorted_edges()
        spans = edges[(edges[:, 2] >= x1) & (edges[:, 0] <= x2)]
        if len(spans) < 2:
            return []
        reach = np.maximum.accumulate(spans[:-1, 3])  # the lowest bottom above each next obstacle's top
        tops = spans[1:, 1]
        free = tops - reach > 2
        return ((reach[free] + tops[free]) / 2).tolist()

    def _sorted_edges(self) -> np.ndarray:
        """The obstacles' edges as one array, sorted by top once: a backward wire in a 10,000-node layout asks
        for the free rows of a dozen spans over thousands of obstacles (~250 ms a wire scanned in Python)."""
        if self._edges is None:
            edges = np.array([r.getCoords() for r in self.obstacles], dtype=float).reshape(-1, 4)
            self._edges = edges[np.argsort(edges[:, 1], kind="stable")]
        return self._edges


def _bend(path: QPainterPath, x: float, y1: float, y2: float) -> None:
    """Level to `x - TURN` at height `y1`, then a smooth bend to height `y2` ending at `x + TURN`."""
    path.lineTo(QPointF(x - TURN, y1))
    path.cubicTo(QPointF(x, y1), QPointF(x, y2), QPointF(x + TURN, y2))


def route(start: QPointF, end: QPointF, obstacles_in: Callable[[QRectF], list[QRectF]]) -> QPainterPath:
    """The wire from `start` to `end` clear of the obstacles (see the module docstring); the plain
    curve when it is clear, or when no route is (a wire running backwards, no room to bend).
    `obstacles_in(area)` gives the obstacles that meet `area`: asked first for the plain curve's
    box only (most wires meet nothing), then, for a wire that must go around, for its span between its ends'
    x, `DETOUR_REACH` above and below them."""
    plain = wire_path(start, end)
    if end.x() < start.x() and end.y() <= start.y():
        return plain  # the way back turns down out of the output and down into the input: none goes up
    if end.x() < start.x():
        # the way back may pass the left margin, but it stays between the two ends' heights
        band = QRectF(QPointF(-1e7, min(start.y(), end.y()) - 1), QPointF(1e7, max(start.y(), end.y()) + 1))
        return _Router(start, end, obstacles_in(band)).backward() or plain
    if end.x() - start.x() < 4 * TURN:
        return plain
    near = obstacles_in(plain.boundingRect().adjusted(-2, -2, 2, 2))  # a level wire has a box of no height
    if not near:
        return plain
    stroker = QPainterPathStroker()
    stroker.setWidth(3)
    stroke = stroker.createStroke(plain)
    if not any(stroke.intersects(r) for r in near):
        return plain
    top, bottom = min(start.y(), end.y()) - DETOUR_REACH, max(start.y(), end.y()) + DETOUR_REACH
    span = QRectF(QPointF(start.x(), top), QPointF(end.x(), bottom))
    router = _Router(start, end, obstacles_in(span))
    return router.one_bend() or router.detour() or plain
