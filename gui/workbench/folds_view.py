"""A cross-validation run in the workbench: the worker's trainer, and one curve per fold in the live plot.

`make_trainer` gives the worker a `CrossValidation` when the project asks for
folds, else a `Trainer`; both run, stop, pause and resume alike, and the
cross-validation's result is told as one run (`as_run_result`). `FoldCurves`
keeps each finished fold's curves in the plot, dashed and labelled
"fold N", while the next fold's curve grows as the run's live one; the run's
own series becomes that of the fold in progress.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

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
    """The finished folds of the current cross-validation run, overlaid on the live plot."""

    def __init__(self, workbench):
        super().__init__(workbench)
        self.workbench = workbench
        self.folds: list[tuple[str, RunSeries, str, str]] = []  # (key, series, colour, name) per finished fold

    def reset(self) -> None:
        """A new run starts: no fold curves (those of an earlier cross-validation leave the plot)."""
        if self.folds:
            self.folds = []
            self.workbench.show_fold_overlays()

    def overlays(self) -> list[tuple[str, RunSeries, str, str]]:
        return list(self.folds)

    def fold_started(self, event) -> None:
        """Keep the fold just finished as an overlay and give the run a fresh series for this one."""
        run = self.workbench.current_run
        if run is None:
            return
        if event.fold > 1:
            number = event.fold - 1
            self.folds.append((f"run-{run.number}-fold-{number}", run.series, FOLD_COLOURS[(number - 1) % len(
                FOLD_COLOURS)], f"fold {number}"))
            series = RunSeries()
            series.metric = run.series.metric
            run.series = series
        self.workbench.show_fold_overlays()
        self.workbench.window.show_message(f"Run {run.number}: fold {event.fold} of {event.folds}")
