"""Section 13: opening a project with 500 runs in its history (issue 15: under 1 s).

500 run folders like a real run's (project.json of the digits CNN example, run.json, metrics.csv of 20
epochs) are written to a temporary folder beside the project file. Listing them
(`engine.history.index.list_runs`) is timed cold (runs/index.sqlite missing: every folder read, the
index written) and warm (the index there: one stat a file), against the baseline of reading every folder
without an index. Then the whole of opening the project in the editor (offscreen): from File > Open
until the Runs list shows all 500 runs, cold and warm. "Cold" means without the index, not with an empty
page cache: the files were just written.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Row
from engine.history.folders import read_summary
from engine.history.index import INDEX, list_runs

SECTION = "13. Run history"
ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 1000.0


def make_runs(folder: Path, count: int, epochs: int = 20) -> None:
    """`count` run folders of `epochs` epochs each in `folder`."""
    project = (ROOT / "resources" / "examples" / "digits_cnn.json").read_text()
    header = "epoch,train_loss,val_loss,val_accuracy,lr,seconds\n"
    for i in range(count):
        run = folder / f"digits_cnn-20260101-{i // 60:02d}{i % 60:02d}00"
        run.mkdir(parents=True)
        (run / "project.json").write_text(project)
        rows = "".join(f"{e},{1 / e:.6g},{1.1 / e:.6g},{1 - 0.5 / e:.6g},0.001,0.5\n" for e in range(1, epochs + 1))
        (run / "metrics.csv").write_text(header + rows)
        (run / "run.json").write_text(json.dumps({
            "format": 1, "status": "finished", "started": f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00+00:00",
            "project": {"name": "digits-cnn", "file": str(folder.parent / "digits_cnn.json")},
            "settings": {"dataset": {"name": "digits"}, "epochs": epochs, "optimizer": {"type": "Adam", "lr": 0.001}},
            "seed": i, "metric": "val_accuracy", "epochs_planned": epochs, "epochs_done": epochs}))


def editor_open_ms(project: Path, count: int, cold: bool) -> float:
    """Milliseconds from opening `project` in a MainWindow (offscreen) until the Runs list holds `count` runs."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    app.processEvents()
    if cold:
        (project.parent / "runs" / INDEX).unlink(missing_ok=True)
    start = time.perf_counter()
    window.open_project(project)
    while window.workbench.runs_panel.list.count() < count and time.perf_counter() - start < 30:
        app.processEvents()
    elapsed = (time.perf_counter() - start) * 1000
    window.close()
    app.processEvents()
    return elapsed


def _ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def run(quick: bool = False) -> list[Row]:
    count, repeats = 500, (3 if quick else 7)
    with tempfile.TemporaryDirectory(prefix="neurocanvas-history-") as tmp:
        runs = Path(tmp) / "runs"
        make_runs(runs, count)
        project = Path(tmp) / "digits_cnn.json"
        shutil.copy(ROOT / "resources" / "examples" / "digits_cnn.json", project)
        folders = [p for p in runs.iterdir() if p.is_dir()]
        scan, cold, warm = [], [], []
        for _ in range(repeats):
            scan.append(_ms(lambda: [read_summary(p) for p in folders]))
            (runs / INDEX).unlink(missing_ok=True)
            cold.append(_ms(lambda: list_runs(runs)))
            warm.append(_ms(lambda: list_runs(runs)))
        assert len(list_runs(runs)) == count
        editor_cold = [editor_open_ms(project, count, cold=True) for _ in range(max(1, repeats // 2))]
        editor_warm = [editor_open_ms(project, count, cold=False) for _ in range(max(1, repeats // 2))]
        shutil.rmtree(runs)
    cold_ms, warm_ms, scan_ms = (statistics.median(v) for v in (cold, warm, scan))
    spread = f"over {repeats} repeats"
    return [
        Row(SECTION, f"list {count} runs, cold (no index)", cold_ms, "ms", "< 1000 ms", cold_ms < GOAL_MS,
            f"{min(cold):.0f}-{max(cold):.0f} {spread}"),
        Row(SECTION, f"list {count} runs, warm (index)", warm_ms, "ms", "< 1000 ms", warm_ms < GOAL_MS,
            f"{min(warm):.0f}-{max(warm):.0f} {spread}"),
        Row(SECTION, "warm index vs reading every folder", scan_ms / warm_ms, "x", "", None,
            note=f"reading every folder without the index: {scan_ms:.0f} ms"),
    ] + [Row(SECTION, f"open the project in the editor, {count} runs listed, {kind}", statistics.median(times), "ms",
             "< 1000 ms", statistics.median(times) < GOAL_MS, f"{min(times):.0f}-{max(times):.0f} over {len(times)}")
         for kind, times in (("cold (no index)", editor_cold), ("warm", editor_warm))]
