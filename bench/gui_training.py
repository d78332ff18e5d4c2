"""Section 6: training from the GUI costs (almost) nothing, and the GUI stays responsive meanwhile.

The digits CNN example is trained from the real workbench (offscreen main
window, live curves redrawing, runs list, evaluation afterwards) and by the
headless `Trainer` on the same project and epochs, alternately (ABBA). The
throughput figure is GUI/headless training samples per second (each run's
epochs after the first, harmonic mean). The headless baseline uses the same
torch thread count the workbench chooses (every core but one, see
`gui.workbench.worker.training_threads`); a second row compares against
torch's default thread count, to show what that choice is worth. While the
GUI trains, a 5 ms precise QTimer records how late each tick fires: the
event-loop latency p50/p99 (during the training itself, not the data loading).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Row, percentile, summarise

SECTION = "6. GUI under training"
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "resources" / "examples" / "digits_cnn.json"
THROUGHPUT_GOAL = 0.95
LATENCY_GOAL_MS = 50.0
PROBE_MS = 5


def _throughput(history: list[dict]) -> float:
    """Training samples/s over the epochs after the first (warm-up), as a harmonic mean."""
    rows = history[1:] or history
    return len(rows) / sum(1.0 / row["samples_per_sec"] for row in rows)


class _LatencyProbe:
    """A precise QTimer every PROBE_MS; records how many ms late each tick fired."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(PROBE_MS)
        self.timer.timeout.connect(self._tick)
        self.samples: list[float] = []
        self._last = 0.0

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.samples.append(max(0.0, (now - self._last) * 1000.0 - PROBE_MS))
        self._last = now


class _GuiRunner:
    """A shown main window with the workbench, on the digits CNN; `run(epochs)` trains once from it."""

    def __init__(self, settings_dir: str, runs_dir: Path):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtCore import QSettings

        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
        from gui.app import create_app
        from gui.main_window import MainWindow
        from gui.workbench import install

        self.app = create_app()
        self.window = MainWindow()
        self.workbench = install(self.window)
        self.workbench.runs_root = runs_dir
        self.window.open_example(EXAMPLE)
        self.window.show()
        self.app.processEvents()
        self.latencies: list[float] = []

    def run(self, epochs: int) -> float:
        from PySide6.QtCore import QEventLoop

        bench = self.workbench
        settings = bench.settings.training
        settings.update(epochs=epochs, device="cpu")
        bench.settings.update(settings, "bench settings")
        probe, loop = _LatencyProbe(), QEventLoop()

        def started(_event) -> None:
            probe.start()

        def state_changed(state: str) -> None:
            if state == "idle":
                loop.quit()

        bench.controller.runStarted.connect(started)
        bench.controller.stateChanged.connect(state_changed)
        bench.start()
        loop.exec()
        probe.stop()
        bench.controller.runStarted.disconnect(started)
        bench.controller.stateChanged.disconnect(state_changed)
        self._settle()
        self.latencies += probe.samples
        run = bench.runs_panel.runs[-1]
        if run.result is None or run.result.status != "finished":
            raise RuntimeError(f"the GUI run did not finish: {run.message}")
        return _throughput(run.result.history)

    def _settle(self) -> None:
        """Let the evaluation that follows a run finish, so it doesn't overlap the next measurement."""
        deadline = time.perf_counter() + 60
        while (self.workbench.tasks.busy or self.workbench._evaluating) and time.perf_counter() < deadline:
            self.app.processEvents()
            time.sleep(0.01)
        self.app.processEvents()

    def close(self) -> None:
        self.window.document.undo_stack.setClean()
        self.window.close()


def _headless(epochs: int, threads: int, out_root: Path) -> float:
    from engine.training import Trainer
    from graphs.project import load_project
    from gui.workbench.worker import PROGRESS_INTERVAL

    project = load_project(EXAMPLE)
    result = Trainer(project, device="cpu", epochs=epochs, threads=threads, progress_interval=PROGRESS_INTERVAL,
                     out_dir=Path(tempfile.mkdtemp(dir=out_root)), callback=lambda _event: None).run()
    return _throughput(result.history)


def run(quick: bool = False) -> list[Row]:
    import torch

    from gui.workbench.worker import training_threads

    default_threads = torch.get_num_threads()
    threads = training_threads()
    epochs, rounds = (6, 3) if quick else (15, 5)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        gui = _GuiRunner(str(root / "settings"), root / "runs")
        try:
            gui.run(2)  # warm-up: engine import, data, first compile
            gui.latencies.clear()
            _headless(2, threads, root)
            same, default, gui_speeds, headless_speeds = [], [], [], []
            for i in range(rounds):
                order = ("gui", "headless", "default") if i % 2 == 0 else ("default", "headless", "gui")
                speeds = {}
                for kind in order:
                    if kind == "gui":
                        speeds[kind] = gui.run(epochs)
                    else:
                        speeds[kind] = _headless(epochs, threads if kind == "headless" else default_threads, root)
                same.append(speeds["gui"] / speeds["headless"])
                default.append(speeds["gui"] / speeds["default"])
                gui_speeds.append(speeds["gui"])
                headless_speeds.append(speeds["headless"])
            latencies = gui.latencies
        finally:
            gui.close()
    ratio, spread = summarise(same)
    ratio_default, spread_default = summarise(default)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    speeds = (f"GUI {statistics.median(gui_speeds):,.0f} vs headless {statistics.median(headless_speeds):,.0f} "
              f"samples/s")
    what = f"digits CNN, {epochs} epochs, torch threads {threads}"
    return [
        Row(SECTION, "throughput, GUI vs headless (same threads)", ratio, "x", f">= {THROUGHPUT_GOAL}",
            ratio >= THROUGHPUT_GOAL, spread, f"{what}; {speeds}"),
        Row(SECTION, "throughput, GUI vs headless (torch default threads)", ratio_default, "x", "", None,
            spread_default, f"headless with torch's default {default_threads} threads"),
        Row(SECTION, "event-loop latency p50 while training", p50, "ms", "", None, "",
            f"{len(latencies)} ticks of a {PROBE_MS} ms timer"),
        Row(SECTION, "event-loop latency p99 while training", p99, "ms", f"< {LATENCY_GOAL_MS:.0f} ms",
            p99 < LATENCY_GOAL_MS, "", f"max {max(latencies):.1f} ms"),
    ]


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
