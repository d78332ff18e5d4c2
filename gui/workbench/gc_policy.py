"""Python's cyclic garbage collector runs only in the GUI thread once background threads run Python.

The collector runs in whichever thread happens to allocate when a threshold
is crossed. In a Qt process that thread may then destroy Qt objects that
belong to the GUI thread, and we saw a run hang that way: the training
thread, inside a collection, waiting on the GUI thread, which waited for the
GIL. pyqtgraph documents the same hazard (`pyqtgraph.util.garbage_collector`).
So, from the first background job on, automatic collection is off and a
GUI-thread timer collects instead, generation by generation with CPython's
thresholds. Full collections are rate-limited: at most one every
`FULL_INTERVAL_S`, and never more than about 2% of the time, because with
torch loaded one can take a few hundred milliseconds, all of it holding the
GIL (collecting on every tick starved a training thread that was importing
scikit-learn). Once the engine is loaded, everything alive is frozen
(`gc.freeze`), which keeps torch's long-lived objects out of later full
collections and makes them short.
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager

from PySide6.QtCore import QCoreApplication, QObject, QTimer

INTERVAL_MS = 1000
FULL_INTERVAL_S = 10.0
FULL_SHARE = 0.02  # the largest share of the time full collections may take
_collector: _GuiThreadCollector | None = None
_frozen = False


class _GuiThreadCollector(QObject):
    """Collects young generations on a timer in the GUI thread, and the oldest one now and then."""

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.next_full = time.monotonic() + FULL_INTERVAL_S
        gc.collect()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        young, middle, old = gc.get_count()
        if young > self.threshold[0]:
            gc.collect(0)
            if middle > self.threshold[1]:
                gc.collect(1)
        now = time.monotonic()
        if old > self.threshold[2] and now >= self.next_full:
            gc.collect(2)
            took = time.monotonic() - now
            self.next_full = time.monotonic() + max(FULL_INTERVAL_S, took / FULL_SHARE)


def collect_in_gui_thread() -> None:
    """Switch (once per process, from the GUI thread) to collecting garbage in the GUI thread only."""
    global _collector
    app = QCoreApplication.instance()
    if _collector is None and app is not None:
        _collector = _GuiThreadCollector(app)


def collect_young() -> None:
    """Collect the young generations now, in the GUI thread (cheap; before a run starts)."""
    collect_in_gui_thread()
    gc.collect(1)


@contextmanager
def paused():
    """No automatic collection inside the block. Building a model's thousands of items makes objects that all
    live on, and the collections their allocations trigger walk every live object (0.2-0.6 s of a 10,000-node
    model's 1.3-1.8 s scene build). The objects left are collected later, as usual. Once the app collects on
    its timer (automatic collection already off), this changes nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled and _collector is None:  # (unless the app's collector took over meanwhile: it keeps it off)
            gc.enable()


def freeze_long_lived() -> None:
    """Once (after the engine loaded): collect, then exempt every live object from later collections."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def release() -> None:
    """Back to Python's automatic collection with nothing frozen (for a benchmark or a test that applied
    this policy, so that what runs after it in the process runs as it would have)."""
    global _collector, _frozen
    if _collector is not None:
        _collector.timer.stop()
        _collector.deleteLater()
        _collector = None
    if _frozen:
        _frozen = False
        gc.unfreeze()
    gc.enable()
