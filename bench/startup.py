"""Section 5: process start to the first paint of the main window, in a child process.

The child opens the digits CNN example the way `python main.py` does and reports the
wall-clock time of the main window's first paint event; the parent takes the time just
before starting it. A warm-up run first puts torch and Qt in the file cache. The
baseline is a bare PySide6 QMainWindow painted the same way, so the table also shows
what Neurocanvas adds on top of Qt itself."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row

ROOT = Path(__file__).resolve().parents[1]
SECTION = "5. start-up"
GOAL_S = 1.5

_PAINT_PROBE = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QSettings
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[1])

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print(f"painted {time.time():.6f}", flush=True)
            sys.stdout.flush()
            import os
            os._exit(0)
        return False
"""

NEUROCANVAS_CHILD = _PAINT_PROBE + """
from gui.app import create_app
from gui.main_window import MainWindow
app = create_app()
window = MainWindow()
window.open_initial(None)
probe = FirstPaint()
window.installEventFilter(probe)
window.show()
app.exec()
"""

BARE_QT_CHILD = _PAINT_PROBE + """
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
window = QMainWindow()
window.resize(1200, 800)
probe = FirstPaint()
window.installEventFilter(probe)
window.show()
app.exec()
"""


def first_paint_seconds(code: str) -> float:
    with tempfile.TemporaryDirectory(prefix="nc-startup-") as settings:
        env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
        start = time.time()
        run = subprocess.run([sys.executable, "-c", code, settings], cwd=ROOT, capture_output=True, text=True,
                             env=env, timeout=60)
    for line in run.stdout.splitlines():
        if line.startswith("painted "):
            return float(line.split()[1]) - start
    raise RuntimeError(f"child did not paint: {run.stderr[-500:]}")


def run(quick: bool = False) -> list[Row]:
    first_paint_seconds(NEUROCANVAS_CHILD)  # warm the file cache
    repeats = 3 if quick else 7
    ours, bare = [], []
    for _ in range(repeats):
        ours.append(first_paint_seconds(NEUROCANVAS_CHILD))
        bare.append(first_paint_seconds(BARE_QT_CHILD))
    median, bare_median = statistics.median(ours), statistics.median(bare)
    return [
        Row(SECTION, "process start to first paint (digits CNN open)", median, "s", f"< {GOAL_S} s",
            median < GOAL_S, f"{min(ours):.2f}-{max(ours):.2f} s over {repeats} repeats",
            "torch in the file cache; torch is not imported before the first paint"),
        Row(SECTION, "  the same for a bare PySide6 window (baseline)", bare_median, "s", "", None,
            f"{min(bare):.2f}-{max(bare):.2f} s", f"Neurocanvas adds {median - bare_median:.2f} s"),
    ]
