"""Section 3: the engine's in-memory data path against a hand-written DataLoader loop over the same tensors.

The goal rows (an MLP on digits at batch 64, an MLP on a 50,000-sample tabular set at batch 128) time one
training epoch as the engine really runs it: its `Trainer` (one CPU thread, health sampling on, as a user
gets it), whose epoch time is the training time it reports for the epoch (validation and checkpoints left
out), batched from the dataset's in-memory split (tensors indexed by a seeded permutation, no per-sample
work) and stepped by the engine's own optimizer (torch's fused kernel, see `engine.training.optim`).
The baseline is the loop a user writes by hand with torch's defaults: `DataLoader(TensorDataset(x, y),
batch_size, shuffle=True)`, `torch.optim.Adam(model.parameters(), lr)`, `zero_grad()`, loss, backward,
step. Both sides train the same model (the compiled graph: section 1 shows it trains as fast as the same
module written by hand), with the same optimizer type, learning rate and batch size. Each side runs a few
epochs a round and keeps its median epoch; the rounds alternate the sides and the figure is the median
of the rounds' epoch-speed ratios. Why the engine's own step, fused optimizer included, against torch's
defaults: the goal is about the epoch a user gets from the engine versus the loop they would write, and a
small model's epoch is mostly its step (forward, backward, optimizer), so batches alone can't make it 2x
(the same-step rows below stay under it); the fused step is the engine's choice, torch's default Adam is
what `torch.optim.Adam(params, lr)` gives, and the row with fused Adam on both sides shows the rest.

The rows "for comparison" keep the data path alone in view: the engine's epoch against the same
hand-written loop given torch's fused Adam too (what is left is the data path and the trainer); the same
bare step (torch's default Adam) on both sides, only the batches differing, so an epoch's forward,
backward and step, which dominate a small model's epoch, bound that ratio; the digits CNN, whose
convolutions dominate; and the batches alone.
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from bench.common import Row, interleaved, summarise
from bench.models import EXAMPLES, mlp_classifier
from bench.tabular import mlp_project, write_npz
from engine.compiler import compile_graph
from engine.data import fill_shapes, load_dataset
from engine.training import Trainer
from graphs import load_project
from graphs.project import Project

SECTION = "3. data path (one epoch, small model)"
GOAL = 2.0
LR = 1e-3


def epoch_runner(model: nn.Module | None, batches, fused: bool = False):
    """One epoch as a timed callable: a training step per batch (torch's Adam, `fused` if asked), or only
    drawing the batches."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, **({"fused": True} if fused else {})) \
        if model is not None else None
    loss_fn = nn.CrossEntropyLoss()

    def run():
        start = time.perf_counter()
        for x, y in batches():
            if model is not None:
                optimizer.zero_grad(set_to_none=True)
                loss_fn(model(x), y).backward()
                optimizer.step()
        return time.perf_counter() - start
    return run


def compare(name: str, graph, dataset, batch: int, rounds: int, note: str) -> Row:
    """The same bare step on both sides, only the batches differing; `graph` None times the batches alone."""
    torch.manual_seed(0)
    model = compile_graph(graph).model if graph is not None else None
    x, y = dataset.x_train, dataset.y_train
    generator = torch.Generator().manual_seed(0)
    ours = epoch_runner(model, lambda: dataset.train.batches(batch, shuffle=True, generator=generator))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch, shuffle=True)
    theirs = epoch_runner(model, lambda: loader)
    ours(), theirs()  # warm-up
    median, spread = summarise(interleaved(theirs, ours, rounds))
    return Row(SECTION, f"{name}: in-memory batches vs DataLoader, same step (epoch speed)", median, "x", "", None,
               spread, f"{len(x)} samples, batch {batch}; for comparison: {note}")


def hand_written(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, epochs: int, fused: bool = False):
    """The DataLoader loop a user writes, torch's defaults throughout (but `fused` Adam if asked): a callable
    giving its median epoch time."""
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch, shuffle=True)
    epoch = epoch_runner(model, lambda: loader, fused)

    def run() -> float:
        return statistics.median(epoch() for _ in range(epochs))
    return run


def engine_epochs(project: Project, dataset, epochs: int, folder: Path):
    """The engine's Trainer on `dataset`, a fresh run each call: a callable giving its median epoch time."""
    runs = itertools.count()

    def run() -> float:
        trainer = Trainer(project, dataset=dataset, epochs=epochs, threads=1, out_dir=folder / f"run{next(runs)}")
        result = trainer.run()
        assert result.ok, result.message
        return statistics.median(len(dataset.train) / row["samples_per_sec"] for row in result.history)
    return run


def engine_vs_hand_written(name: str, project: Project, dataset, rounds: int, epochs: int, folder: Path,
                           fused: bool = False) -> Row:
    """The goal row; with `fused`, the row for comparison whose hand-written loop steps torch's fused Adam too."""
    batch = project.training["batch_size"]
    torch.manual_seed(0)
    model = compile_graph(project.graph).model
    theirs = hand_written(model, dataset.x_train, dataset.y_train, batch, epochs, fused)
    ours = engine_epochs(project, dataset, epochs, folder)
    ours(), theirs()  # warm-up
    median, spread = summarise(interleaved(theirs, ours, rounds))
    sides = (f"{len(dataset.train)} samples, batch {batch}, Adam lr {LR:g}, 1 thread; the engine's Trainer "
             "(its fused Adam, health sampling on) vs DataLoader + ")
    if fused:
        return Row(SECTION, f"{name}: engine's epoch vs the same loop with fused Adam (epoch speed)", median, "x",
                   "", None, spread, sides + "torch.optim.Adam(fused=True); for comparison: the data path and "
                   "the trainer alone")
    return Row(SECTION, f"{name}: engine's epoch vs hand-written DataLoader loop (epoch speed)", median, "x",
               f">= {GOAL}", median >= GOAL, spread, sides + "torch.optim.Adam with torch's defaults")


def digits_project(graph, folder: Path, batch: int) -> Project:
    training = {"dataset": {"name": "digits"}, "val_split": 0.2, "batch_size": batch, "epochs": 1, "seed": 0,
                "device": "cpu", "optimizer": {"type": "Adam", "lr": LR}}
    return Project(graph, name="bench-digits-mlp", training=training, path=folder / "digits.json")


def run(quick: bool = False) -> list[Row]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    # epochs a round: a digits epoch is ~10 ms, so its rounds take many for a steady median
    rounds, digits_epochs, tabular_epochs = (3, 5, 2) if quick else (7, 15, 3)
    try:
        with tempfile.TemporaryDirectory(prefix="nc-bench-") as folder:
            folder = Path(folder)
            data = load_dataset({"name": "digits"}, EXAMPLES, 0.2, 0)
            images = f"digits ({len(data.x_train):,} images)"
            mlp = mlp_classifier([1, 8, 8], [64], 10)
            cnn = fill_shapes(load_project(EXAMPLES / "digits_cnn.json").graph, data)
            rows = [engine_vs_hand_written(f"{images}, MLP 64-64-10", digits_project(mlp, folder, 64), data,
                                           rounds, digits_epochs, folder / "digits")]
            npz = write_npz(folder, 50000)
            project = mlp_project(npz)
            tabular = load_dataset(project.training["dataset"], folder, 0.2, 0)
            rows.append(engine_vs_hand_written("synthetic tabular (50,000 x 32), MLP", project, tabular, rounds,
                                               tabular_epochs, folder / "tabular"))
            rows += [engine_vs_hand_written(f"{images}, MLP 64-64-10", digits_project(mlp, folder, 64), data,
                                            rounds, digits_epochs, folder / "digits-fused", fused=True),
                     engine_vs_hand_written("synthetic tabular (50,000 x 32), MLP", project, tabular, rounds,
                                            tabular_epochs, folder / "tabular-fused", fused=True),
                     compare(f"{images}, MLP 64-64-10", mlp, data, 64, rounds, "the data path alone"),
                     compare("synthetic tabular (50,000 x 32), MLP", project.graph, tabular, 128, rounds,
                             "the data path alone"),
                     compare(f"{images}, digits CNN", cnn, data, 64, rounds, "its convolutions dominate an epoch"),
                     compare(f"{images}, no model", None, data, 64, rounds, "drawing the batches alone")]
            return rows
    finally:
        torch.set_num_threads(threads)
