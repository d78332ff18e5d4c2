"""Section 3: the in-memory data path against a torch DataLoader over the same tensors.

One training epoch of a small model (the goal rows: an MLP on digits, an MLP on a 50,000-sample
tabular set; the digits CNN, whose convolutions dominate an epoch, is shown for comparison), batches drawn by the engine's in-memory split
(tensors indexed on the device, no per-sample work) versus
`DataLoader(TensorDataset(x, y), shuffle=True)`; same model, optimizer and batch size."""

from __future__ import annotations

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
from graphs import load_project

SECTION = "3. data path (one epoch, small model)"
GOAL = 2.0


def epoch_runner(model: nn.Module | None, batches):
    """One epoch as a timed callable: a training step per batch, or only drawing the batches."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3) if model is not None else None
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


def compare(name: str, graph, dataset, batch: int, rounds: int, goal: bool = True, note: str = "") -> Row:
    """`graph` None times the data path alone (no model)."""
    torch.manual_seed(0)
    model = compile_graph(graph).model if graph is not None else None
    x, y = dataset.x_train, dataset.y_train
    generator = torch.Generator().manual_seed(0)
    ours = epoch_runner(model, lambda: dataset.train.batches(batch, shuffle=True, generator=generator))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch, shuffle=True)
    theirs = epoch_runner(model, lambda: loader)
    ours(), theirs()  # warm-up
    ratios = interleaved(theirs, ours, rounds)
    median, spread = summarise(ratios)
    return Row(SECTION, f"{name}: in-memory path vs DataLoader (epoch speed)", median, "x",
               f">= {GOAL}" if goal else "", (median >= GOAL) if goal else None, spread,
               f"{len(x)} samples, batch {batch}" + (f"; {note}" if note else ""))


def run(quick: bool = False) -> list[Row]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rounds = 3 if quick else 7
    try:
        data = load_dataset({"name": "digits"}, EXAMPLES, 0.2, 0)
        images = f"digits ({len(data.x_train):,} images)"
        cnn = fill_shapes(load_project(EXAMPLES / "digits_cnn.json").graph, data)
        rows = [compare(f"{images}, MLP 64-64-10", mlp_classifier([1, 8, 8], [64], 10), data, 64, rounds),
                compare(f"{images}, digits CNN", cnn, data, 64, rounds, goal=False,
                        note="for comparison: its convolutions dominate an epoch"),
                compare(f"{images}, no model", None, data, 64, rounds, goal=False,
                        note="for comparison: drawing the batches alone")]
        with tempfile.TemporaryDirectory(prefix="nc-bench-") as folder:
            npz = write_npz(Path(folder), 50000)
            project = mlp_project(npz)
            data = load_dataset(project.training["dataset"], folder, 0.2, 0)
            rows.append(compare("synthetic tabular (50,000 x 32), MLP", project.graph, data, 128, rounds))
        return rows
    finally:
        torch.set_num_threads(threads)
