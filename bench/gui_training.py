"""Section 6: training from the GUI costs (almost) nothing, and the GUI stays responsive meanwhile.

The digits CNN example is trained from the real workbench (offscreen main
window, live curves redrawing, runs list, evaluation afterwards) and by the
headless `Trainer` on the same project and epochs, alternately (ABBA). The
throughput figure is the median over rounds of GUI/headless training samples
per second (each run's median epoch after the first). On a shared machine
runs vary a lot, so the same measurement between two headless runs is
reported too: the noise floor any ratio here should be read against. The headless baseline uses the same
torch threads the workbench chooses ("auto", as `train`: every core but one, and every core where the
run's steps time clearly faster so; see `gui.workbench.worker.training_threads`); a second row compares
against torch's default thread count, to show what that choice is worth. While the
GUI trains, a 5 ms precise QTimer records how late each tick fires: the
event-loop latency p50/p99 (during the training itself, not the data loading),
in runs of their own, since the probe's wake-ups cost the trainer a little.
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
    """Training samples/s of a run: the median over its epochs after the first (warm-up); the median
    shrugs off the epochs that other processes on a shared machine slowed down."""
    rows = history[1:] or history
    return statistics.median(row["samples_per_sec"] for row in rows)


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
        self.gui_cpu: list[float] = []  # the GUI thread's CPU time / wall time, during each run's training

    def run(self, epochs: int, probe_latency: bool = False) -> float:
        """Train once from the GUI; returns training samples/s. With `probe_latency`, the 5 ms timer runs
        meanwhile (kept out of throughput runs: its 200 wake-ups a second cost the trainer a little)."""
        from PySide6.QtCore import QEventLoop

        bench = self.workbench
        settings = bench.settings.training
        settings.update(epochs=epochs, device="cpu")
        bench.settings.update(settings, "bench settings")
        probe, loop = _LatencyProbe(), QEventLoop()
        clock = {}

        def started(_event) -> None:
            clock.update(cpu=time.thread_time(), wall=time.perf_counter())
            if probe_latency:
                probe.start()

        def state_changed(state: str) -> None:
            if state == "idle":
                loop.quit()

        bench.controller.runStarted.connect(started)
        bench.controller.stateChanged.connect(state_changed)
        bench.start()
        loop.exec()
        probe.stop()
        self.gui_cpu.append((time.thread_time() - clock["cpu"]) / (time.perf_counter() - clock["wall"]))
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


def _headless(epochs: int, threads: int | str, out_root: Path) -> float:
    """The same training without Qt, in a plain thread (as the GUI's run is): on this machine a run in
    the main thread was about 20% slower than in any other thread, whatever the GUI does."""
    import threading

    from engine.training import Trainer
    from graphs.project import load_project
    from gui.workbench.worker import PROGRESS_INTERVAL

    project = load_project(EXAMPLE)
    trainer = Trainer(project, device="cpu", epochs=epochs, threads=threads, progress_interval=PROGRESS_INTERVAL,
                      out_dir=Path(tempfile.mkdtemp(dir=out_root)), callback=lambda _event: None)
    results = []
    thread = threading.Thread(target=lambda: results.append(trainer.run()), name="bench-headless")
    thread.start()
    thread.join()
    return _throughput(results[0].history)


def _alternate(candidate, baseline, rounds: int) -> tuple[list[float], list[float], list[float]]:
    """candidate/baseline speed ratios over ABBA-ordered rounds, with a pause between runs (so that one
    run's spinning OpenMP threads don't slow the next); also each side's speeds."""
    ratios, candidates, baselines = [], [], []
    for i in range(rounds):
        first, second = (candidate, baseline) if i % 2 == 0 else (baseline, candidate)
        speeds = {}
        for fn in (first, second):
            time.sleep(0.3)
            speeds[fn] = fn()
        ratios.append(speeds[candidate] / speeds[baseline])
        candidates.append(speeds[candidate])
        baselines.append(speeds[baseline])
    return ratios, candidates, baselines


def run(quick: bool = False) -> list[Row]:

    from engine.training.devices import usable_cores
    from gui.workbench.worker import training_threads

    default_threads = usable_cores()  # torch's own default (one per core), whatever sections before set
    threads = training_threads()
    epochs, rounds = (20, 4) if quick else (30, 12)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        gui = _GuiRunner(str(root / "settings"), root / "runs")
        try:
            gui.run(2)  # warm-up: engine import, data, first compile
            gui.gui_cpu.clear()
            _headless(2, threads, root)
            gui_run = lambda: gui.run(epochs)  # noqa: E731
            same_run = lambda: _headless(epochs, threads, root)  # noqa: E731
            again_run = lambda: _headless(epochs, threads, root)  # noqa: E731
            default_run = lambda: _headless(epochs, default_threads, root)  # noqa: E731
            same, gui_speeds, headless_speeds = _alternate(gui_run, same_run, rounds)
            noise, _, _ = _alternate(again_run, same_run, max(4, rounds // 2))
            default, _, _ = _alternate(gui_run, default_run, max(3, rounds // 4))
            gui_cpu = statistics.median(gui.gui_cpu)
            for _ in range(1 if quick else 2):
                gui.run(epochs, probe_latency=True)
            latencies = gui.latencies
        finally:
            gui.close()
    ratio, spread = summarise(same)
    ratio_noise, spread_noise = summarise(noise)
    ratio_default, spread_default = summarise(default)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    speeds = (f"median speeds GUI {statistics.median(gui_speeds):,.0f} vs headless "
              f"{statistics.median(headless_speeds):,.0f} samples/s; the GUI thread used {gui_cpu:.1%} of a core")
    what = f"digits CNN, {epochs} epochs a run, torch threads {threads}"
    return [
        Row(SECTION, "throughput, GUI vs headless (same threads)", ratio, "x", f">= {THROUGHPUT_GOAL}",
            ratio >= THROUGHPUT_GOAL, spread, f"{what}; {speeds}"),
        Row(SECTION, "throughput, headless vs headless (noise floor)", ratio_noise, "x", "", None, spread_noise,
            "the same measurement with no GUI on either side: how far this machine's noise moves a ratio"),
        Row(SECTION, "throughput, GUI vs headless (torch default threads)", ratio_default, "x", "", None,
            spread_default, f"headless with torch's default {default_threads} threads"),
        Row(SECTION, "event-loop latency p50 while training", p50, "ms", "", None, "",
            f"{len(latencies)} ticks of a {PROBE_MS} ms timer, in separate GUI runs"),
        Row(SECTION, "event-loop latency p99 while training", p99, "ms", f"< {LATENCY_GOAL_MS:.0f} ms",
            p99 < LATENCY_GOAL_MS, "", f"max {max(latencies):.1f} ms"),
    ]
