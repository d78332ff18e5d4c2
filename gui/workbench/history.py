"""The open project's run history in the Runs list: listed when a project opens (through runs/index.sqlite,
off the GUI thread), each run's curves and settings read from its folder when it is first looked at,
and deleting a run.

A run from the history is a `RunRecord` like a run of this session, with `summary` set (an
`engine.history.folders.RunSummary`) and a `StoredResult` standing in for the `RunResult`, so selecting,
overlaying, evaluating, exporting and comparing treat both alike. Opening another project (Ctrl+N, Open)
replaces the list: the history follows the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QFile, QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from engine.history.folders import METRICS, PROJECT, RECORD, Damaged, project_file, read_json, read_metrics
from graphs.errors import printable
from gui.workbench.series import RunSeries


@dataclass
class StoredResult:
    """What a finished run's `RunResult` says, as far as the editor uses it, read back from its folder."""

    status: str
    message: str
    out_dir: Path
    metric: str = "val_accuracy"
    weights: Path | None = None
    weights_from: str | None = None
    best_epoch: int | None = None
    best_metrics: dict | None = None
    history: list[dict] = field(default_factory=list)


def started_at(summary) -> datetime:
    """The summary's start time in local time (naive, like a session run's)."""
    try:
        return datetime.fromisoformat(summary.started).astimezone().replace(tzinfo=None)
    except ValueError:
        return datetime.now()


def make_record(panel, summary):
    """A RunRecord for the run `summary` describes; its curves and settings load on first look (`fill`)."""
    run = panel.new_record({}, None)
    run.summary, run.started_at = summary, started_at(summary)
    run.status, run.message = summary.status, summary.damaged or summary.message
    folder = Path(summary.folder)
    weights = folder / "weights.safetensors"
    run.result = StoredResult(summary.status, run.message, folder, summary.metric or "val_accuracy",
                              weights if summary.status != "damaged" and weights.exists() else None, "saved")
    if summary.metric:
        run.series.metric = summary.metric
    return run


def fill(run) -> None:
    """Read the run's settings (run.json) and curves (metrics.csv) once; a damaged file marks it damaged."""
    if run.summary is None or getattr(run, "_filled", False) or run.status == "damaged":
        return
    run._filled = True
    folder = Path(run.summary.folder)
    try:
        record = read_json(folder / RECORD, RECORD) if (folder / RECORD).exists() else {}
        record = record if isinstance(record, dict) else {}
        settings = record.get("settings")
        if settings is None:  # a run from before run records: its project as trained has them
            project = read_json(project_file(folder), PROJECT)
            settings = project.get("training") if isinstance(project, dict) else None
        rows = read_metrics(folder / METRICS)
    except (OSError, Damaged) as error:
        run.status, run.message = "damaged", printable(str(error))
        return
    run.settings = settings if isinstance(settings, dict) else {}
    try:
        folds = fold_series(folder, run.series.metric)
    except (OSError, Damaged) as error:
        run.status, run.message = "damaged", printable(str(error))
        return
    if folds:  # a cross-validation: one curve per fold, the last as the run's own
        run.fold_series = folds[:-1]
        rows = rows or folds[-1][2]
    batches = record.get("batches_per_epoch") or 1
    run.series.set_batches_per_epoch(batches)
    run.series.total_steps = batches * (record.get("epochs_planned") or len(rows))
    for row in rows:
        run.series.add_epoch(row)
    result = run.result
    result.history = rows
    result.weights_from = record.get("weights_from") or "saved"
    result.best_epoch, result.best_metrics = record.get("best_epoch"), record.get("best")


def fold_series(folder: Path, metric: str) -> list[tuple[str, RunSeries, list[dict]]]:
    """A cross-validation's folds, in order: ("fold N", its curves, its metrics.csv rows); none for other runs."""
    found = []
    for path in folder.glob("fold-*/metrics.csv"):
        number = path.parent.name.removeprefix("fold-")
        if number.isdigit():
            found.append((int(number), path))
    folds = []
    for number, path in sorted(found):
        rows = read_metrics(path)
        series = RunSeries(metric=metric)
        for row in rows:
            series.add_epoch(row)
        folds.append((f"fold {number}", series, rows))
    return folds


def run_folder(run) -> Path | None:
    """The folder a run writes or wrote (None before a session run has one)."""
    if run.result is not None and getattr(run.result, "out_dir", None):
        return Path(run.result.out_dir)
    if run.started is not None:
        return Path(run.started.out_dir)
    return None


class RunHistory(QObject):
    """The Runs list's history, comparison and deletion for one window's workbench: lists the open
    project's runs when a project opens (off the GUI thread), fills a run when it is first looked at,
    and answers the list's Compare and Delete."""

    message = Signal(str)  # for the status bar

    def __init__(self, workbench):
        super().__init__(workbench)
        from gui.canvas.diff_overlay import DiffOverlay

        self.workbench, self.panel, self.tasks = workbench, workbench.runs_panel, workbench.tasks
        self.overlay = DiffOverlay(workbench.window.scene)
        self.dialog = None
        self._token = None
        self.clear_action = QAction("Clear Canvas Overlay", self.panel.list)
        self.clear_action.setEnabled(False)
        self.clear_action.triggered.connect(self.clear_overlay)
        self.panel.list.addAction(self.clear_action)
        # connected before the workbench's own slots: a run is filled before it is shown
        self.panel.currentChanged.connect(lambda run: run is not None and fill(run))
        self.panel.overlaysChanged.connect(lambda runs: [fill(run) for run in runs])
        self.panel.compareRequested.connect(self.compare)
        self.panel.deleteRequested.connect(self.delete)
        workbench.document.projectReset.connect(self.project_opened)
        self.message.connect(workbench.window.show_message)
        self.load(workbench.document.project.path)

    def project_opened(self) -> None:
        self.clear_overlay()
        workbench = self.workbench
        self.load(workbench.document.project.path, keep=workbench.current_run if workbench.controller.active else None)

    def load(self, project_path: Path | None, keep=None) -> None:
        """Forget the list (but `keep`, a run still training) and list `project_path`'s runs."""
        from engine.history.index import runs_of

        if self._token is not None:
            self.tasks.cancel(self._token)
        self.panel.clear(keep)
        if project_path is None:
            return
        self._token = self.tasks.submit(lambda: runs_of(project_path), self._listed, self._failed)

    def _listed(self, summaries) -> None:
        self._token = None
        known = {str(run_folder(run)) for run in self.panel.runs if run_folder(run) is not None}
        self.panel.add_history([make_record(self.panel, s) for s in reversed(summaries) if s.folder not in known])
        if summaries:
            damaged = sum(s.status == "damaged" for s in summaries)
            self.message.emit(f"{len(summaries)} run(s) in this project's history"
                              + (f", {damaged} damaged (in red)" if damaged else ""))

    def _failed(self, error: BaseException) -> None:
        self._token = None
        self.message.emit(f"The run history could not be read: {printable(str(error))}")

    # ---- compare ---------------------------------------------------------------------
    def compare(self, run_a, run_b) -> None:
        """Open the comparison of two runs (a dialog says why where one has no folder or can't be read)."""
        from engine.custom_layers.trust import same_code_loader
        from engine.errors import UserError
        from engine.history.compare import compare_runs
        from gui.workbench.compare import CompareDialog

        window = self.workbench.window
        folders = [run_folder(run) for run in (run_a, run_b)]
        missing = [run for run, folder in zip((run_a, run_b), folders) if folder is None]
        if missing:
            QMessageBox.warning(window, "Compare runs", f"Run {missing[0].number} has no run folder yet.")
            return
        try:
            # a run's copy of the open project's custom layers runs when it is the very code trusted on opening
            comparison = compare_runs(*folders, same_code_loader(self.workbench.document.graph.custom_types))
        except UserError as error:
            QMessageBox.warning(window, "Compare runs", str(error))
            return
        for run in (run_a, run_b):
            fill(run)
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = CompareDialog(comparison, run_a, run_b, window)
        self.dialog.showOnCanvas.connect(lambda: self.show_overlay(comparison))
        self.dialog.clearCanvas.connect(self.clear_overlay)
        self.dialog.show()

    def show_overlay(self, comparison) -> None:
        self.overlay.show(comparison.graph, comparison.a.project.graph)
        self.clear_action.setEnabled(True)
        self.message.emit("Run comparison on the canvas: added green, changed amber, removed grey "
                          "(Runs list > right-click > Clear Canvas Overlay)")

    def clear_overlay(self) -> None:
        self.overlay.clear()
        self.clear_action.setEnabled(False)

    # ---- delete ------------------------------------------------------------------------
    def delete(self, run) -> None:
        workbench = self.workbench
        if run is workbench.current_run and workbench.controller.active:
            QMessageBox.information(workbench.window, "Delete run", "Stop the run before deleting it.")
            return
        if delete_run_dialog(workbench.window, run):
            self.panel.remove(run)
            self.message.emit(f"Run {run.number} deleted")


def delete_run_dialog(parent, run) -> bool:
    """Ask, then move the run's folder to the desktop's trash, or where there is none delete only the files
    the run wrote; True when the run is gone from disk."""
    from engine.history.delete import delete_run

    folder = run_folder(run)
    if folder is None:
        return False
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(
        parent, "Delete run",
        f"Delete run {run.number} ({printable(folder.name)})?\n\nIts folder goes to the trash (where the desktop "
        "has none, only the files the run wrote are deleted). This can't be undone from the editor.",
        buttons.Yes | buttons.No, buttons.No)
    if answer != buttons.Yes:
        return False
    if not folder.exists() or QFile.moveToTrash(str(folder)):
        return True
    try:
        left = delete_run(folder)
    except OSError as error:
        QMessageBox.warning(parent, "Delete run", f"Run {run.number} could not be deleted: "
                                                  f"{printable(error.strerror or str(error))}")
        return False
    if left:
        QMessageBox.information(parent, "Delete run", f"The run's files are deleted; {printable(folder.name)} "
                                                      f"keeps {len(left)} file(s) it did not write.")
    return True
