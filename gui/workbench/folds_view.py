"""A cross-validation run in the workbench: the worker's trainer, and one curve per fold in the plot.

`make_trainer` gives the worker a `CrossValidation` when the project asks for
folds, else a `Trainer`; both run, stop, pause and resume alike, and the
cross-validation's result is told as one run (`as_run_result`). `FoldCurves`
keeps each finished fold's series: while the cross-validation's run is the one
shown, they are overlaid dashed and labelled "fold N", and the run's own series
is that of its fold in progress (its last fold, once it ended). So the Runs list
shows a cross-validation as one run with K curves.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from gui.workbench.history import fill
from gui.workbench.series import RunSeries

FOLD_COLOURS = ("#8ecae6", "#ffb703", "#fb8500", "#90be6d", "#f28482", "#b5838d", "#a3c4f3", "#cdb4db")


def make_trainer(project, callback, options: dict):
    """A `CrossValidation` when the project's training settings have "folds", else a `Trainer`."""
    from engine.training import Trainer

    if project.training.get("folds") is None:
        return Trainer(project, callback=callback, **options)
    from engine.training.folds import CrossValidation

    return CrossValidation(project, callback=callback, **options)


class FoldCurves(QObject):
    """The finished folds of each cross-validation run of the session, by run number."""

    def __init__(self, workbench):
        super().__init__(workbench)
        self.workbench = workbench
        self.folds: dict[int, list[tuple[str, RunSeries, str, str]]] = {}  # run number -> (key, series, colour, name)
        workbench.runs_panel.currentChanged.connect(self._run_selected)

    def overlays(self) -> list[tuple[str, RunSeries, str, str]]:
        """The finished folds of the run shown, for the plot's overlays."""
        run = self.workbench.runs_panel.current()
        if run is None:
            return []
        if getattr(run, "summary", None) is not None:  # a run of the project's history: read it first
            fill(run)
        stored = getattr(run, "fold_series", None)  # a cross-validation from the project's history
        if stored and run.number not in self.folds:
            self.folds[run.number] = [(f"run-{run.number}-{name.replace(' ', '-')}", series,
                                       FOLD_COLOURS[i % len(FOLD_COLOURS)], name)
                                      for i, (name, series, _rows) in enumerate(stored)]
        return list(self.folds.get(run.number, ()))

    def fold_started(self, event) -> None:
        """Keep the fold just finished and give the run a fresh series for this one."""
        run = self.workbench.current_run
        if run is None:
            return
        if event.fold > 1:
            number = event.fold - 1
            colour = FOLD_COLOURS[(number - 1) % len(FOLD_COLOURS)]
            self.folds.setdefault(run.number, []).append(
                (f"run-{run.number}-fold-{number}", run.series, colour, f"fold {number}"))
            series = RunSeries()
            series.metric = run.series.metric
            run.series = series
        self.workbench.show_fold_overlays()
        self.workbench.window.show_message(f"Run {run.number}: fold {event.fold} of {event.folds}")

    def _run_selected(self, _run) -> None:
        self.workbench.show_fold_overlays()
