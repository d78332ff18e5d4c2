"""Keeping live plots cheap while a run trains in the same process.

Every millisecond the GUI thread spends in Python (and pyqtgraph paints in
Python) is a millisecond the training thread can't hold the GIL. A naive
setup (autorange, full repaints at 12 Hz) cost the digits CNN more than half
its speed: each repaint took ~45 ms, most of it regenerating and painting
axes whose range had moved. So, while a run is live:

- the canvas measures its own paints (`TimedCanvas`), and the redraw timer's
  interval is set so that redraws use at most `BUDGET` of the time (2%), between
  `MIN_INTERVAL_MS` (the 12 Hz cap) and `MAX_INTERVAL_MS`;
- axes are cached as pixmaps (`cache_axes`) and only repainted when they change;
- ranges are steady: x spans the whole run from the start, and y moves only
  when the data leaves it or fills less than half of it (`steady_range`),
  so the axes rarely change.
"""

from __future__ import annotations

import collections
import math
import statistics
import time

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem

BUDGET = 0.02  # the share of wall time live redraws may take
REDRAW_HZ = 12  # the most redraws a second
MIN_INTERVAL_MS = 1000 // REDRAW_HZ
MAX_INTERVAL_MS = 1000  # the curves move at least once a second


class TimedCanvas(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that knows how long its paints take: the median of the last few, so the
    one-off costly paints (the first layout, a resize) don't slow the redraws down for long."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._recent: collections.deque[float] = collections.deque(maxlen=5)
        self.paints = 0

    @property
    def paint_seconds(self) -> float:
        return statistics.median(self._recent) if self._recent else 0.0

    def paintEvent(self, event) -> None:
        start = time.perf_counter()
        super().paintEvent(event)
        self._recent.append(time.perf_counter() - start)
        self.paints += 1


def redraw_interval_ms(seconds_per_redraw: float) -> int:
    """The redraw timer's interval that keeps redraws within BUDGET of the time (and within the bounds)."""
    return int(min(MAX_INTERVAL_MS, max(MIN_INTERVAL_MS, 1000.0 * seconds_per_redraw / BUDGET)))


def cache_axes(plot: pg.PlotItem) -> None:
    """Paint the plot's axes from a cached pixmap unless they changed."""
    for name in ("left", "bottom"):
        plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def steady_range(view_box: pg.ViewBox, low: float, high: float, log: bool = False) -> bool:
    """Show [low, high] on the y axis, changing the range only when the data leaves it or uses less
    than half of it; True when the range changed. `log`: the axis is logarithmic (values > 0)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return False
    if log:
        low, high = math.log10(max(low, 1e-12)), math.log10(max(high, 1e-12))
    current_low, current_high = view_box.viewRange()[1]
    inside = current_low <= low and high <= current_high
    if inside and (high - low) >= 0.5 * (current_high - current_low):
        return False
    pad = 0.08 * ((high - low) or abs(high) or 1.0)
    view_box.setYRange(low - pad, high + pad, padding=0)
    return True
