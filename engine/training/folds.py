"""K-fold cross-validation: `"folds": K` in the training settings, `train --folds K`.

`CrossValidation(project).run()` loads the data once with no validation split,
splits it into K folds with a seeded shuffle (scikit-learn's `StratifiedKFold`
for classification, so every fold keeps the class balance; `KFold` for
regression), and trains K models with `Trainer`, each validating on its own fold
(the fold split replaces `val_split`). Every fold starts from the same seeded
initial weights (or the same `init_from`). The run folder holds `fold-N/` per
fold (a complete run folder each: `metrics.csv`, weights, `project.json`) and
`folds.json`: each fold's metrics (those of the weights the fold kept: the best
epoch's with early stopping, else the last epoch's) and their mean and sample
standard deviation (n - 1). No Qt here.
"""

from __future__ import annotations

import json
import statistics
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from engine.custom_layers.export import with_code_beside
from engine.data import Dataset, TensorSplit
from engine.data.builtin import SKLEARN_SETS
from engine.data_shapes import load_training_data
from engine.errors import UserError
from engine.training import events
from engine.training.config import TrainingConfig
from engine.training.events import FoldStarted  # defined there, torch-free, for the GUI
from engine.training.run_folder import check_run_dir, make_run_dir
from engine.training.trainer import Trainer
from graphs.project import Project, atomic_write, save_project

FOLDS_FILE = "folds.json"


@dataclass
class CrossValidationResult:
    """How a cross-validation ended: each fold's metrics, their mean and standard deviation."""

    status: events.RunState  # finished, or the first fold's that did not finish (stopped, failed)
    message: str
    metric: str  # "val_accuracy" or "val_mae"
    out_dir: Path
    folds: list[dict] = field(default_factory=list)  # one row per finished fold (see fold_row)
    mean: dict = field(default_factory=dict)  # val_loss and the metric, over the finished folds
    std: dict = field(default_factory=dict)
    runs: list[events.RunResult] = field(default_factory=list)

    def __post_init__(self):
        self.status = events.RunState(self.status)

    def as_run_result(self) -> events.RunResult:
        """The last fold's RunResult, told as the whole cross-validation's (its status, message and folder),
        for callers that show one run (the GUI's Runs list). It names no weights: each fold's are in its
        folder, and the project's own validation split would overlap the folds' training samples."""
        if not self.runs:  # stopped before the first fold trained
            return events.RunResult(self.status, self.message, metric=self.metric or "val_accuracy",
                                    out_dir=self.out_dir)
        last = self.runs[-1]
        return replace(last, status=self.status if self.status != "finished" else last.status,
                       message=self.message, out_dir=self.out_dir, weights=None, weights_from=None)


def fold_indices(y: torch.Tensor, task: str, folds: int, seed: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], bool]:
    """(train, validation) sample indices of each fold, and whether they are stratified by class."""
    from sklearn.model_selection import KFold, StratifiedKFold  # slow import, only when asked for

    n = len(y)
    if folds > n:
        raise UserError(f"{folds} folds need at least {folds} samples; the data has {n}")
    labels = y.cpu().numpy()
    stratified = task == "classification" and labels.ndim == 1
    random_state = seed % 2**32
    if stratified:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        with warnings.catch_warnings():  # a class smaller than K: said in the run's notes instead
            warnings.simplefilter("ignore", UserWarning)
            return list(splitter.split(np.zeros(n), labels)), True
    return list(KFold(n_splits=folds, shuffle=True, random_state=random_state).split(np.zeros(n))), False


def fold_dataset(dataset: Dataset, train_index: np.ndarray, val_index: np.ndarray) -> Dataset:
    """`dataset` (all samples in its training split) with the fold's samples as training and validation."""
    x, y = dataset.train.x, dataset.train.y
    train, val = torch.as_tensor(train_index), torch.as_tensor(val_index)
    return replace(dataset, train=TensorSplit(x[train], y[train]), val=TensorSplit(x[val], y[val]))


def fold_row(fold: int, result: events.RunResult, train_samples: int, val_samples: int) -> dict:
    """A fold's line in folds.json: the metrics of the weights it kept."""
    row = result.best_metrics if result.weights_from == "best" else (result.history[-1] if result.history else {})
    return {"fold": fold, "status": result.status, "folder": f"fold-{fold}", "train_samples": train_samples,
            "val_samples": val_samples, "epoch": row.get("epoch"), "train_loss": row.get("train_loss"),
            "val_loss": row.get("val_loss"), result.metric: row.get(result.metric)}


def summary_statistics(rows: list[dict], names: list[str]) -> tuple[dict, dict]:
    """(mean, sample standard deviation) of each of `names` over `rows`; the deviation of one fold is 0."""
    mean, std = {}, {}
    for name in names:
        values = [row[name] for row in rows if row.get(name) is not None]
        if values:
            mean[name] = statistics.fmean(values)
            std[name] = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


class CrossValidation:
    """Trains one project K times, once per fold; see the module docstring.

    `folds` overrides the project's setting; the other options are `Trainer`'s and apply to every fold.
    Events of every fold reach `callback`, each fold's preceded by a `FoldStarted`."""

    def __init__(self, project: Project, *, folds: int | None = None, out_dir: str | Path | None = None,
                 callback: Callable | None = None, **trainer_options):
        self.project = project
        self.config = TrainingConfig.from_dict(project.training, folds=folds, epochs=trainer_options.get("epochs"),
                                               device=trainer_options.get("device"))
        if self.config.folds is None:
            raise UserError('cross-validation needs "folds": a whole number from 2')
        self.out_dir_setting = Path(out_dir) if out_dir is not None else None
        if self.out_dir_setting is not None:
            check_run_dir(self.out_dir_setting)
        self.callback = callback
        self.trainer_options = trainer_options
        self.dataset: Dataset | None = None
        self.trainer: Trainer | None = None  # the fold training now
        self._stop = threading.Event()
        self._paused = False

    @property
    def base_dir(self) -> Path:
        return self.project.path.parent if self.project.path else Path.cwd()

    def stop(self) -> None:
        """Stop the fold in progress after its current batch, and train no further fold."""
        self._stop.set()
        if self.trainer is not None:
            self.trainer.stop()

    def pause(self) -> None:
        """Pause the fold in progress (and the next one, if it is starting) until `resume`."""
        self._paused = True
        if self.trainer is not None:
            self.trainer.pause()

    def resume(self) -> None:
        self._paused = False
        if self.trainer is not None:
            self.trainer.resume()

    def prepare(self) -> None:
        """Load every sample once, unsplit (a UserError for data that can't be cross-validated)."""
        if self.dataset is not None:
            return
        dataset = load_training_data(replace(self.config, val_split=0.0), self.base_dir)
        if dataset.streaming:
            raise UserError("cross-validation needs the data in memory; an image folder read with \"stream\": true "
                            "can't be split into folds (drop \"stream\", or train without \"folds\")")
        self.dataset = dataset

    def run(self) -> CrossValidationResult:
        self.prepare()
        config, dataset = self.config, self.dataset
        splits, stratified = fold_indices(dataset.train.y, dataset.task, config.folds, config.seed)
        out_dir = make_run_dir(self.out_dir_setting, self.project, self.base_dir)
        notes = self._notes(stratified)
        result = CrossValidationResult("finished", "", "", out_dir)
        for fold, (train_index, val_index) in enumerate(splits, start=1):
            if self._stop.is_set():
                result.status, result.message = events.RunState.STOPPED, f"stopped by request before fold {fold}"
                break
            self._emit(FoldStarted(fold, config.folds, len(train_index), len(val_index)))
            fold_notes = (f"fold {fold} of {config.folds}", *(notes if fold == 1 else ()))
            self.trainer = Trainer(self.project, dataset=fold_dataset(dataset, train_index, val_index),
                                   out_dir=out_dir / f"fold-{fold}", callback=self.callback, notes=fold_notes,
                                   **self.trainer_options)
            if self._stop.is_set():
                self.trainer.stop()
            elif self._paused:
                self.trainer.pause()
            run = self.trainer.run()
            result.runs.append(run)
            if fold == 1:  # the project as trained, at the top as in any run folder (fold-N/ holds it too)
                save_project(with_code_beside(self.trainer.trained_project(), out_dir), out_dir / "project.json")
            result.metric = run.metric
            if run.status in ("finished", "early_stopped"):
                result.folds.append(fold_row(fold, run, len(train_index), len(val_index)))
            else:
                result.status, result.message = run.status, f"fold {fold}: {run.message}"
            self._write(result, config.folds, stratified)
            if result.status != "finished":
                break
        result.mean, result.std = summary_statistics(result.folds, ["val_loss", result.metric])
        if result.status == "finished":
            result.message = f"{config.folds}-fold cross-validation: {describe(result)}"
        self._write(result, config.folds, stratified)
        return result

    def _notes(self, stratified: bool) -> list[str]:
        notes = [f"{self.config.folds}-fold cross-validation ({'stratified by class' if stratified else 'KFold'}, "
                 f"seed {self.config.seed}); the folds replace val_split"]
        counts = self.dataset.class_counts() if stratified else None
        small = {name: count for name, count in (counts or {}).items() if count < self.config.folds}
        if small:
            notes.append(f"classes with fewer samples than folds ({', '.join(f'{k}: {v}' for k, v in small.items())})"
                         ": some folds validate without them")
        if self.dataset.normalization is not None and self.dataset.name in ("csv", "npz", *SKLEARN_SETS):
            notes.append("features are standardised with the statistics of all the samples, shared by every fold")
        return notes

    def _emit(self, event) -> None:
        if self.callback is not None:
            self.callback(event)

    def _write(self, result: CrossValidationResult, folds: int, stratified: bool) -> None:
        mean, std = summary_statistics(result.folds, ["val_loss", result.metric]) if result.metric else ({}, {})
        record = {"folds": folds, "seed": self.config.seed, "stratified": stratified, "metric": result.metric,
                  "complete": len(result.folds) == folds, "per_fold": result.folds, "mean": mean, "std": std}
        try:
            atomic_write(result.out_dir / FOLDS_FILE, (json.dumps(record, indent=2) + "\n").encode())
        except OSError as error:
            raise UserError(f"cannot write {FOLDS_FILE} in the run folder: {error.strerror or error}") from None


def describe(result: CrossValidationResult) -> str:
    """e.g. `val_accuracy 94.21% ± 1.10% (mean ± standard deviation of 5 folds)`."""
    metric = result.metric
    if metric not in result.mean:
        return "no fold finished"
    mean, std = result.mean[metric], result.std[metric]
    shown = f"{mean:.2%} ± {std:.2%}" if metric == "val_accuracy" else f"{mean:.4g} ± {std:.2g}"
    return f"{metric} {shown} (mean ± standard deviation of {len(result.folds)} folds)"
