"""The folder a training run writes into, and the files in it. No Qt here.

A run's folder (by default `runs/<project>-<time>/` beside the project file)
holds `project.json` (the project as trained: shapes filled from the data,
the run's overrides applied, data paths absolute), `metrics.csv` (a row per
epoch), the checkpoints `best.safetensors` and `last.safetensors`, and at the
end `weights.safetensors`. Every weights file carries text metadata: the
project, the metric and the epoch's values, and how the inputs were scaled and
the classes named (see `engine.training.checkpoint`). In a distributed run only
the main process writes; every process knows the same paths.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import time
from pathlib import Path

import torch

from engine.data import Dataset
from engine.data_paths import make_data_path_absolute
from engine.errors import UserError, listing
from engine.training.config import TrainingConfig
from engine.training.metrics import write_metrics_csv
from engine.weights import load_weights, save_weights
from graphs.document import Graph
from graphs.errors import ProjectFormatError, quoted
from graphs.project import Project, atomic_write, save_project


def trained_project(project: Project, graph: Graph | None, config: TrainingConfig, base_dir: Path) -> Project:
    """`project` as trained: `graph` (shapes filled) if given, `config`'s overrides, data paths absolute."""
    training = copy.deepcopy(project.training)
    training["epochs"] = config.epochs
    training["device"] = config.device
    make_data_path_absolute(training["dataset"], base_dir)
    return Project(graph or project.graph.copy(), project.name, training, copy.deepcopy(project.gui))


RUN_FILES = ("project.json", "metrics.csv", "best.safetensors", "last.safetensors", "weights.safetensors", "run.json",
             "init.json", "report.json", "tokenizer.json", "sweep.json")


def make_run_dir(path: Path | None, project: Project, base_dir: Path) -> Path:
    """Create the run folder `path`, or a new `runs/<project>-<time>` in `base_dir`; a UserError if it can't.

    A run never writes over a file it did not create, so `path` must be new or an empty folder: one that
    holds anything (an earlier run, the project itself) is refused with a free name to use instead."""
    if path is not None:
        return _claim(path)
    stem = project.path.stem if project.path else re.sub(r"\W+", "_", project.name)
    name = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    for suffix in itertools.count(1):
        try:  # created, never reused: another run may have started in the same second
            return _create(base_dir / "runs" / (name if suffix == 1 else f"{name}-{suffix}"))
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def _claim(path: Path) -> Path:
    """`path` created, or kept if it is an empty folder; a UserError if it holds anything."""
    try:
        return _create(path)
    except FileExistsError:
        check_run_dir(path)
    return path


def check_run_dir(path: Path) -> None:
    """A UserError unless `path` is free for a run: missing, or an empty folder (checked before the data
    loads, and again when the folder is claimed)."""
    if not path.exists():
        return
    if not path.is_dir():
        raise UserError(f"cannot use {_shown(path)} as the run folder: it is a file; choose a new or empty folder")
    try:
        held = sorted(entry.name for entry in path.iterdir())
    except OSError as error:
        raise UserError(f"cannot read the run folder {_shown(path)}: {error.strerror or error}") from None
    if held:
        what = "an earlier run" if set(held) & set(RUN_FILES[1:]) else "files"
        raise UserError(f"{_shown(path)} already holds {what} ({listing(held, 4)}), and a run never writes over "
                        f"files it did not create; choose a new or empty folder, e.g. {_shown(_free_sibling(path))}")


def _create(path: Path) -> Path:
    """`path` made, with its parents; FileExistsError if it exists, a UserError if it can't be made."""
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        raise
    except OSError as error:
        raise UserError(f"cannot create the run folder {_shown(path)}: {error.strerror or error}") from None
    return path


def _free_sibling(path: Path) -> Path:
    """`<path>-2`, `<path>-3`, ...: the first that doesn't exist (a subfolder `run` for `.`)."""
    if not path.name or path.name in (".", ".."):
        path = path / "run"
        if not path.exists():
            return path
    return next(candidate for suffix in itertools.count(2)
                if not (candidate := path.with_name(f"{path.name}-{suffix}")).exists())


def _shown(path: Path) -> str:
    return quoted(str(path))


class RunFolder:
    """The files of one run in the existing folder `path`, written only where `writes` (the main process).

    `metric` is the name of the run's validation metric, `dataset` the data as
    fitted to the model; `checkpoints` maps "best"/"last" to those saved so far.
    """

    def __init__(self, path: Path, *, writes: bool, project_name: str, metric: str, dataset: Dataset):
        self.path, self.writes, self.metric = path, writes, metric
        self.checkpoints: dict[str, Path] = {}
        self._project_name, self._dataset = project_name, dataset

    def save_project(self, project: Project) -> None:
        """project.json; a UserError if it can't be written."""
        if not self.writes:
            return
        from engine.custom_layers.export import with_code_beside  # its own code goes along, as it ran

        try:
            save_project(with_code_beside(project, self.path), self.path / "project.json")
        except ProjectFormatError as error:
            raise UserError(f"cannot write the run folder's project.json: {error}") from None
        from engine.data.text import save_tokenizer  # a text dataset's tokenizer, for other tools

        save_tokenizer(self._dataset.preprocessing, self.path)

    def write_json(self, name: str, data: dict) -> None:
        """A small JSON record beside the metrics (e.g. init.json: what the initial weights loaded)."""
        if not self.writes:
            return
        try:
            atomic_write(self.path / name, (json.dumps(data, indent=2) + "\n").encode())
        except OSError as error:
            raise UserError(f"cannot write {name} in the run folder: {error.strerror or error}") from None

    def write_metrics(self, history: list[dict]) -> None:
        """metrics.csv: a row per epoch of `history`."""
        if self.writes:
            write_metrics_csv(self.path / "metrics.csv", history, self.metric)

    def save_weights(self, name: str, model: torch.nn.Module | dict[str, torch.Tensor], row: dict | None,
                     stopped_at: tuple[int, int] | None = None) -> Path:
        """`<name>.safetensors`, with the metadata of epoch `row` or of a run stopped at (epoch, batch)."""
        path = self.path / f"{name}.safetensors"
        if self.writes:
            save_weights(model, path, self.metadata(row, stopped_at))
        return path

    def save_checkpoint(self, kind: str, model: torch.nn.Module | dict[str, torch.Tensor], row: dict | None,
                        stopped_at: tuple[int, int] | None = None) -> None:
        """The checkpoint `kind` ("best" or "last"); see `save_weights`."""
        self.checkpoints[kind] = self.save_weights(kind, model, row, stopped_at)

    def metadata(self, row: dict | None, stopped_at: tuple[int, int] | None = None) -> dict[str, str]:
        """Text stored beside the weights: where they come from and how inputs were scaled."""
        meta = {"project": self._project_name, "metric": self.metric}
        if stopped_at is not None:
            meta["epoch"] = f"{stopped_at[0]} (stopped after batch {stopped_at[1]})"
        elif row is not None and row["val_loss"] is None:  # no validation data
            meta.update(epoch=str(row["epoch"]), train_loss=repr(row["train_loss"]))
        elif row is not None:
            meta.update(epoch=str(row["epoch"]), val_loss=repr(row["val_loss"]),
                        **{self.metric: repr(row[self.metric])})
        if self._dataset.normalization is not None:
            meta["normalization"] = json.dumps(self._dataset.normalization)
        if self._dataset.preprocessing is not None:
            meta["preprocessing"] = json.dumps(self._dataset.preprocessing)
        if self._dataset.class_names is not None:
            meta["class_names"] = json.dumps(self._dataset.class_names)
        return meta

    def restore_last(self, model: torch.nn.Module, history: list[dict]) -> str:
        """Put the last checkpoint back into `model` after a failure; says what happened, to end a message."""
        if "last" not in self.checkpoints:
            return "; no checkpoint had been saved yet"
        try:
            load_weights(model, self.checkpoints["last"])
        except UserError as error:
            return f"; the last checkpoint could not be restored ({error})"
        return (f"; the model keeps the last good weights (epoch {history[-1]['epoch']}), "
                f"saved in {self.checkpoints['last']}")
