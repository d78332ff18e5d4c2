"""Python's cyclic garbage collector runs only in the GUI thread once background threads run Python.

The collector runs in whichever thread happens to allocate when a threshold
is crossed. In a Qt process that thread may then destroy Qt objects (a
window closed earlier, a pyqtgraph item) that belong to the GUI thread. We saw
it deadlock: the training thread, inside `gc.collect()`, waited on a Qt lock
held by the GUI thread, which waited for the GIL. pyqtgraph documents the same
hazard (`pyqtgraph.util.garbage_collector`). So, from the first background job
on, automatic collection is off and a GUI-thread timer collects instead, with
CPython's own thresholds. Once the engine (torch) is loaded, everything alive
is frozen (`gc.freeze`), so that later full collections skip torch's hundreds
of thousands of long-lived objects and stay short enough not to stall the GUI.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

INTERVAL_MS = 500
_collector: _GuiThreadCollector | None = None
_frozen = False


class _GuiThreadCollector(QObject):
    """Collects generation by generation on a timer in the GUI thread, as CPython would have."""

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.threshold = gc.get_threshold()
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
                if old > self.threshold[2]:
                    gc.collect(2)


def collect_in_gui_thread() -> None:
    """Switch (once per process, from the GUI thread) to collecting garbage in the GUI thread only."""
    global _collector
    app = QCoreApplication.instance()
    if _collector is None and app is not None:
        _collector = _GuiThreadCollector(app)


def freeze_long_lived() -> None:
    """Once (after the engine loaded): collect, then exempt every live object from later collections."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()
