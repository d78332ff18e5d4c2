"""A uniform grid of node rects, so a wire asks "which nodes meet this area?" in time that grows with
the area, not with the graph.

The scene keeps one, updated node by node as nodes appear, move, resize and vanish (a 10,000-node
graph is never re-sorted because one node moved). Pure geometry over `QRectF`; the keys are the
node items, the answer comes in the order the keys were first put, so routing is deterministic.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF

CELL = 400.0  # about two node widths: a short wire's box meets one or two cells


class RectGrid:
    """key -> rect, found by area."""

    def __init__(self, cell: float = CELL):
        self.cell = cell
        self._rects: dict[object, tuple[QRectF, int]] = {}  # key -> (rect, insertion number)
        self._cells: dict[tuple[int, int], set] = {}
        self._count = 0
        self._bounds: list[int] | None = None  # [min column, min row, max column, max row] ever used

    def __len__(self) -> int:
        return len(self._rects)

    def clear(self) -> None:
        self._rects.clear()
        self._cells.clear()
        self._bounds = None

    def put(self, key, rect: QRectF) -> None:
        """Add `key` at `rect`, or move it there."""
        old = self._rects.get(key)
        if old is not None:
            if old[0] == rect:
                return
            self._unlink(key, old[0])
            number = old[1]
        else:
            self._count += 1
            number = self._count
        rect = QRectF(rect)
        self._rects[key] = (rect, number)
        c1, r1, c2, r2 = self._span(rect)
        cells = self._cells
        for column in range(c1, c2 + 1):
            for row in range(r1, r2 + 1):
                keys = cells.get((column, row))
                if keys is None:
                    cells[(column, row)] = {key}
                else:
                    keys.add(key)
        if self._bounds is None:
            self._bounds = [c1, r1, c2, r2]
        else:
            bounds = self._bounds
            bounds[0], bounds[1] = min(bounds[0], c1), min(bounds[1], r1)
            bounds[2], bounds[3] = max(bounds[2], c2), max(bounds[3], r2)

    def remove(self, key) -> None:
        old = self._rects.pop(key, None)
        if old is not None:
            self._unlink(key, old[0])

    def rect(self, key) -> QRectF | None:
        entry = self._rects.get(key)
        return QRectF(entry[0]) if entry is not None else None

    def query(self, area: QRectF, exclude=()) -> list[tuple[object, QRectF]]:
        """(key, rect) for every rect that meets `area`, less the keys in `exclude`."""
        if self._bounds is None:
            return []
        c1, r1, c2, r2 = self._span(area)
        bounds = self._bounds
        c1, r1, c2, r2 = max(c1, bounds[0]), max(r1, bounds[1]), min(c2, bounds[2]), min(r2, bounds[3])
        found = set()
        cells = self._cells
        for column in range(c1, c2 + 1):
            for row in range(r1, r2 + 1):
                keys = cells.get((column, row))
                if keys:
                    found |= keys
        rects = self._rects
        hits = [(rects[key][1], key, rects[key][0]) for key in found if key not in exclude]
        hits.sort(key=lambda hit: hit[0])
        return [(key, rect) for _, key, rect in hits if rect.intersects(area)]

    def _span(self, rect: QRectF) -> tuple[int, int, int, int]:
        cell = self.cell
        clamp = 1e9  # a query may be "everything between these heights": keep the cell numbers finite
        return (math.floor(max(-clamp, rect.left()) / cell), math.floor(max(-clamp, rect.top()) / cell),
                math.floor(min(clamp, rect.right()) / cell), math.floor(min(clamp, rect.bottom()) / cell))

    def _unlink(self, key, rect: QRectF) -> None:
        c1, r1, c2, r2 = self._span(rect)
        for column in range(c1, c2 + 1):
            for row in range(r1, r2 + 1):
                keys = self._cells.get((column, row))
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._cells[(column, row)]
