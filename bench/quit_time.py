"""How long the editor takes to quit: from the window's close to the end of the process.

Runs `main.py` (offscreen, a private settings folder) on the digits example in a fresh
process, shows the Data panel (which loads the engine: torch) and closes the window
`--after` seconds later; prints the seconds from the close to the process's end, the
median of `--repeat` runs. A close during the engine's import (`--after 1`) and one
after it (`--after 8`) are the two cases worth comparing.

    .venv/bin/python bench/quit_time.py --after 1 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DRIVER = """
import sys, time
from PySide6.QtCore import QSettings, QTimer
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[2])
from gui import app
from gui.main_window import MainWindow

def drive(window):
    window.workbench.show_dock("data")
    QTimer.singleShot(int(float(sys.argv[1]) * 1000), lambda: (print("CLOSE", time.time(), flush=True),
                                                               window.close()))

show = MainWindow.show
MainWindow.show = lambda self: (show(self), QTimer.singleShot(300, lambda: drive(self)))
app.main(None)
"""


def one_quit(after: float) -> float:
    with tempfile.TemporaryDirectory() as settings:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=settings, OMP_NUM_THREADS="1")
        process = subprocess.Popen([sys.executable, "-c", DRIVER, str(after), settings], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        closed = None
        for line in process.stdout:
            if line.startswith("CLOSE"):
                closed = float(line.split()[1])
        process.wait()
        ended = time.time()
    if closed is None:
        raise SystemExit(f"the editor did not close (exit status {process.returncode})")
    return ended - closed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after", type=float, default=8.0, help="seconds between showing the Data panel and closing")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times = [one_quit(args.after) for _ in range(args.repeat)]
    print(f"quit after {args.after:g} s: median {statistics.median(times):.3f} s "
          f"(runs: {', '.join(f'{t:.3f}' for t in times)})")


if __name__ == "__main__":
    main()
