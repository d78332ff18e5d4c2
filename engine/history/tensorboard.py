"""TensorBoard event files for a run, written from the trainer's events, so people who use TensorBoard
keep using it: `tensorboard --logdir runs/`.

Scalars: each batch's training loss (`loss/train_batch`, by step; written at the end of each epoch, so
the listener adds no work inside an epoch), and per epoch the training and validation losses, the
validation metric and the learning rate (by epoch). The graph goes in once at the start through
`SummaryWriter.add_graph`, which traces a module compiled afresh from the run's graph on one sample in
evaluation mode with the random generators forked, so tracing touches neither the model being trained
(its BatchNorm statistics, anything attached to it) nor the run's random numbers. A model that can't be
traced, or data streamed from disk (no sample at hand), keeps its scalars and the run says why there is
no graph. A write that fails (a full disk) stops the event files, never the run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import warnings
from pathlib import Path

import torch

from engine.compiler import compile_graph
from engine.errors import reason
from engine.training import events

FOLDER = "tensorboard"


def available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardWriter:
    """One run's event files in `<run folder>/tensorboard/`."""

    def __init__(self, folder: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder / FOLDER))
        self.graph_note = ""
        self._batch_losses: list[tuple[int, list[float]]] = []  # (first step, losses) since the last epoch

    def add_graph(self, graph, sample: torch.Tensor) -> None:
        """The graph's module, compiled afresh and traced (see the module docstring); a note on failure."""
        try:
            with torch.random.fork_rng(), warnings.catch_warnings(), torch.no_grad(), \
                    contextlib.redirect_stdout(io.StringIO()):  # torch prints its own line when tracing fails
                warnings.simplefilter("ignore")
                self.writer.add_graph(compile_graph(graph).model.eval(), sample)
        except Exception as error:  # noqa: BLE001 - any tracing failure only costs the graph
            self.graph_note = f"TensorBoard has the scalars but no graph: tracing the model failed ({reason(error)})"

    def __call__(self, event) -> None:
        if self.writer is None:
            return
        try:
            self._write(event)
        except Exception:  # noqa: BLE001 - a full disk: TensorBoard's files stop, the run goes on
            self.writer = None

    def _write(self, event) -> None:
        writer = self.writer
        if isinstance(event, events.BatchProgress):  # kept until the epoch ends: no work inside the epoch
            self._batch_losses.append((event.step - len(event.losses) + 1, event.losses))
        elif isinstance(event, events.EpochEnd):
            self._write_batch_losses()
            row = event.metrics.as_dict()
            for name, tag in (("train_loss", "loss/train"), ("val_loss", "loss/val"), ("lr", "learning_rate")):
                if row.get(name) is not None:
                    writer.add_scalar(tag, row[name], event.epoch)
            for name in ("val_accuracy", "val_mae"):
                if row.get(name) is not None:
                    writer.add_scalar(f"metric/{name}", row[name], event.epoch)
            writer.flush()
        elif isinstance(event, events.RunEnded):
            self._write_batch_losses()
            writer.close()

    def _write_batch_losses(self) -> None:
        for first, losses in self._batch_losses:
            for offset, loss in enumerate(losses):
                self.writer.add_scalar("loss/train_batch", loss, first + offset)
        self._batch_losses.clear()


def _sample(dataset) -> torch.Tensor | None:
    """Two training inputs, or None for data that isn't in memory (two samples, not the whole split: an
    image folder's cache is still being filled)."""
    if dataset.streaming or not len(dataset.train):
        return None
    return torch.stack([dataset.train.sample(i)[0] for i in range(min(2, len(dataset.train)))])


def tensorboard_listener(folder: Path, graph, dataset) -> tuple[TensorBoardWriter | None, str]:
    """(the writer, a note for the run), or (None, why not) where tensorboard isn't installed."""
    if not available():
        return None, "TensorBoard files are not written: the tensorboard package is not installed"
    writer = TensorBoardWriter(folder)
    sample = _sample(dataset)
    if sample is None:
        return writer, "TensorBoard has the scalars but no graph: the data is streamed, so no sample was at hand"
    writer.add_graph(graph, sample)
    return writer, writer.graph_note
