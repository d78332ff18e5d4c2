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
        self.kept: BackwardChoice | None = None  # what a backward route's choice read (`backward`)

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
        is rows further down), then down a gap into the input. What its choice read is kept in `kept`."""
        s, e = self.start, self.end
        into = e.x() - 2 * TURN
        edges = self._sorted_edges()
        left = min(float(edges[:, 0].min(initial=into)), into) - 2 * TURN
        rights = edges[:, 2]
        gaps = sorted({s.x() + 2 * TURN} | set((rights[rights > s.x()] + 2 * TURN).tolist()))
        tried = [s.x() + 2 * TURN, s.y()]  # the furthest gap and the lowest row tried on the way down

        def turns():
            for out in gaps[:TRIES]:
                tried[0] = out
                if self.clear(s.x(), out - TURN, s.y(), s.y()):
                    for y in self.free_rows(left, out):
                        if y > s.y():
                            tried[1] = max(tried[1], y)
                            if self.clear(out - TURN, out + TURN, s.y(), y):
                                yield out, y

        out, below = next(turns(), (None, None))
        if out is None:
            return None
        above = next((y for y in reversed(self.free_rows(left, out))
                      if y < e.y() and self.clear(into - TURN, into + TURN, y, e.y())), None)
        if above is None or below > above:
            return None
        self.kept = BackwardChoice(edges, left, gaps[0], tried[0], (s.x(), s.y() - 1, tried[0] + TURN, tried[1] + 1),
                                   (into - TURN, above - 1, into + TURN, e.y() + 1))
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
    return route_kept(start, end, obstacles_in)[0]


def route_kept(start: QPointF, end: QPointF, obstacles_in: Callable[[QRectF], list[QRectF]]
               ) -> tuple[QPainterPath, BackwardChoice | None]:
    """`route`, and for a wire routed backwards what its choice read (`BackwardChoice`: which node changes
    leave that route as it is), else None."""
    plain = wire_path(start, end)
    if end.x() < start.x() and end.y() <= start.y():
        return plain, None  # the way back turns down out of the output and down into the input: none goes up
    if end.x() < start.x():
        # the way back may pass the left margin, but it stays between the two ends' heights
        band = QRectF(QPointF(-1e7, min(start.y(), end.y()) - 1), QPointF(1e7, max(start.y(), end.y()) + 1))
        router = _Router(start, end, obstacles_in(band))
        path = router.backward()
        if path is None:
            return plain, None
        router.kept.band = band
        return path, router.kept
    if end.x() - start.x() < 4 * TURN:
        return plain, None
    near = obstacles_in(plain.boundingRect().adjusted(-2, -2, 2, 2))  # a level wire has a box of no height
    if not near:
        return plain, None
    stroker = QPainterPathStroker()
    stroker.setWidth(3)
    stroke = stroker.createStroke(plain)
    if not any(stroke.intersects(r) for r in near):
        return plain, None
    top, bottom = min(start.y(), end.y()) - DETOUR_REACH, max(start.y(), end.y()) + DETOUR_REACH
    span = QRectF(QPointF(start.x(), top), QPointF(end.x(), bottom))
    router = _Router(start, end, obstacles_in(span))
    return router.one_bend() or router.detour() or plain, None


class BackwardChoice:
    """What a backward route's choice read, so that a node appearing or vanishing in its band (a wrapped layout's
    whole row: any delete there) is seen to leave it as it is without routing it again (~1 ms a wire at 10,000
    nodes). The choice stays when no changed obstacle is the leftmost (the margin), gives a gap at or before the
    one taken, meets a box a clear-check looked at, or opens or closes a free row (its height is covered by the
    other obstacles of the span, whatever changed taken out)."""

    def __init__(self, edges: np.ndarray, left: float, first_gap: float, last_gap: float, way_down: tuple,
                 way_in: tuple):
        self.edges, self.left, self.first_gap, self.last_gap = edges, left, first_gap, last_gap
        self.boxes = (way_down, way_in)  # every box a clear-check looked at lies in one of these
        self.start_x = way_down[0]
        self.band: QRectF | None = None  # the area it asked for the obstacles of (`route_kept`)

    def unchanged_by(self, changed: list[QRectF], current: list[QRectF]) -> bool:
        """Whether routing it again, with the `changed` obstacles (those of the node bodies that appeared or
        vanished) added or taken away, takes the same way; errs on the side of False. When it does, the
        obstacles it keeps become those of now: the changed ones out, the `current` ones (the obstacles in the
        band that meet a changed one) in."""
        changed = [r.getCoords() for r in changed]
        for x1, y1, x2, y2 in changed:
            if x1 <= self.left + 2 * TURN:  # it may be (or have been) the leftmost: the margin moves
                return False
            if x2 > self.start_x and x2 + 2 * TURN <= self.last_gap:  # a gap at or before the one taken
                return False
            if any(x1 <= box[2] and box[0] <= x2 and y1 <= box[3] and box[1] <= y2 for box in self.boxes):
                return False
        edges = self.edges
        kept = np.ones(len(edges), dtype=bool)
        for c in changed:
            kept &= ~np.all(np.abs(edges - c) < 1e-6, axis=1)  # whatever changed, taken out
        edges = edges[kept]
        others = edges[(edges[:, 2] >= self.left) & (edges[:, 0] <= self.first_gap)]  # in every span free rows read
        if not all(x2 < self.left or x1 > self.last_gap or _covered(others, y1, y2) for x1, y1, x2, y2 in changed):
            return False
        for row in {r.getCoords() for r in current}:
            if not np.all(edges == row, axis=1).any():  # (an obstacle that met a change but did not change was kept)
                edges = np.insert(edges, np.searchsorted(edges[:, 1], row[1], side="right"), row, axis=0)
        self.edges = edges
        return True


def _covered(spans: np.ndarray, top: float, bottom: float) -> bool:
    """Whether the heights from `top` to `bottom` lie within the union of the spans' heights (sorted by top)."""
    meeting = spans[(spans[:, 3] >= top) & (spans[:, 1] <= bottom)]
    reach = top
    for span_top, span_bottom in zip(meeting[:, 1].tolist(), meeting[:, 3].tolist()):
        if span_top > reach:
            return False
        reach = max(reach, span_bottom)
        if reach >= bottom:
            return True
    return reach >= bottom
