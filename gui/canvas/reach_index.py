"""The wires a node body appearing, moving or vanishing in an area may reroute, found without a walk over
every wire of the model (12,500 at 10,000 nodes).

Each wire keeps in `EdgeItem.reach` the area whose node bodies its router read; this index files those areas
in a grid of cells. A reach over many cells (a wire that goes around a long span, or one not routed yet:
everywhere) is kept aside and checked each time: there are few.
"""

from __future__ import annotations

import math

CELL = 400.0  # about two node widths, as the grid of node rects (`gui.canvas.spatial`)
MAX_CELLS = 64  # a reach over more cells than this is kept aside


def meets(reach, area) -> bool:
    """Whether two (left, top, right, bottom) boxes meet, edges included."""
    return area[2] >= reach[0] and area[0] <= reach[2] and area[3] >= reach[1] and area[1] <= reach[3]


class ReachIndex:
    """wire item -> its reach, found by area."""

    def __init__(self, cell: float = CELL):
        self.cell = cell
        self._reaches: dict[object, tuple] = {}  # item -> (reach, its cell span, or None when kept aside)
        self._cells: dict[tuple[int, int], dict[object, None]] = {}
        self._wide: dict[object, None] = {}

    def __len__(self) -> int:
        return len(self._reaches)

    def clear(self) -> None:
        self._reaches.clear()
        self._cells.clear()
        self._wide.clear()

    def put(self, item, reach) -> None:
        """File `item` at `reach`; None: its route read no node body, so no node can change it."""
        self.remove(item)
        if reach is None:
            return
        span = self._span(reach)
        self._reaches[item] = (reach, span)
        if span is None:
            self._wide[item] = None
            return
        cells = self._cells
        for column in range(span[0], span[2] + 1):
            for row in range(span[1], span[3] + 1):
                cells.setdefault((column, row), {})[item] = None

    def remove(self, item) -> None:
        entry = self._reaches.pop(item, None)
        if entry is None:
            return
        span = entry[1]
        if span is None:
            del self._wide[item]
            return
        cells = self._cells
        for column in range(span[0], span[2] + 1):
            for row in range(span[1], span[3] + 1):
                items = cells[(column, row)]
                del items[item]
                if not items:
                    del cells[(column, row)]

    def meeting(self, areas) -> list:
        """The items whose reach meets any of `areas` ((left, top, right, bottom) each, edges included)."""
        candidates = dict(self._wide)
        for area in areas:
            span = self._span(area)
            if span is None:  # (a node rect never is: no cap on what is asked)
                candidates = self._reaches
                break
            for column in range(span[0], span[2] + 1):
                for row in range(span[1], span[3] + 1):
                    candidates.update(self._cells.get((column, row), ()))
        reaches = self._reaches
        return [item for item in candidates if any(meets(reaches[item][0], area) for area in areas)]

    def _span(self, box) -> tuple[int, int, int, int] | None:
        """The cells a box covers, or None past MAX_CELLS (or unbounded)."""
        if not all(math.isfinite(v) for v in box):
            return None
        cell = self.cell
        c1, r1, c2, r2 = (math.floor(box[0] / cell), math.floor(box[1] / cell), math.floor(box[2] / cell),
                          math.floor(box[3] / cell))
        if (c2 - c1 + 1) * (r2 - r1 + 1) > MAX_CELLS:
            return None
        return c1, r1, c2, r2
