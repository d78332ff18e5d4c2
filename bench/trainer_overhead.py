"""Section 2: the engine's training loop against a minimal loop over the same tensors.

The engine's Trainer (metrics, progress events, stop/pause checks, checkpoints) trains
a small MLP at batch 128 on in-memory data; the baseline is forward, loss, backward
and step over the same tensors with the same shuffling. Both use one CPU thread.
The figure is the trainer's training throughput over the bare loop's (epoch time
excludes validation in both). A second row gives the same ratio in CPU time of the
training thread (`time.thread_time` over the training epochs), which a busy machine
disturbs less than wall-clock time (other programs' time slices are not counted).
A PyTorch Lightning row is added when it is installed.

This section weighs the trainer's own overhead, so every side steps the same optimizer
implementation: the engine's (`engine.training.optim.build_optimizer`, torch's fused Adam
where it can), not torch's default one. Section 3 weighs the engine against the loop a
user writes with torch's defaults."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from bench.common import Row, summarise
from bench.tabular import mlp_project, write_npz
from engine.compiler import compile_graph
from engine.data import load_dataset
from engine.training import Trainer
from engine.training.optim import build_optimizer

SECTION = "2. trainer overhead (MLP, batch 128, CPU)"
GOAL = 0.95  # at most 5% overhead
ADAM = {"type": "Adam", "lr": 1e-3}  # bench.tabular.mlp_project's optimizer


def bare_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, epochs: int, seed: int = 0,
              cpu_seconds: list[float] | None = None) -> float:
    """Samples per second of the minimal loop; each epoch's CPU seconds go into `cpu_seconds` if given."""
    optimizer = build_optimizer(ADAM, model.parameters())  # the engine's implementation, as the Trainer's
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    rates = []
    for _ in range(epochs):
        start, cpu_start = time.perf_counter(), time.thread_time()
        order = torch.randperm(len(x), generator=generator).to(x.device)
        for first in range(0, len(x), batch):
            index = order[first:first + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x.index_select(0, index)), y.index_select(0, index))
            loss.backward()
            optimizer.step()
        if x.is_cuda:
            torch.cuda.synchronize()
        rates.append(len(x) / (time.perf_counter() - start))
        if cpu_seconds is not None:
            cpu_seconds.append(time.thread_time() - cpu_start)
    return statistics.median(rates)


class CpuTimedTrainer(Trainer):
    """The engine's Trainer, unchanged, with the CPU time of each training epoch noted in `cpu_seconds`."""

    def _train_epoch(self, epoch: int) -> bool:
        began = time.thread_time()
        try:
            return super()._train_epoch(epoch)
        finally:
            self.cpu_seconds.append(time.thread_time() - began)


def engine_rate(project, dataset, epochs: int, out_dir: Path, cpu_seconds: list[float] | None = None) -> float:
    trainer = CpuTimedTrainer(project, dataset=dataset, epochs=epochs, threads=1, out_dir=out_dir)
    trainer.cpu_seconds = cpu_seconds if cpu_seconds is not None else []
    result = trainer.run()
    assert result.ok, result.message
    return statistics.median(row["samples_per_sec"] for row in result.history)


def lightning_row(project, dataset, epochs: int) -> Row:
    try:
        import lightning as L  # noqa: N812
    except ImportError:
        return Row(SECTION, "PyTorch Lightning Trainer.fit vs bare loop", None, "x", "", None,
                   note="skipped: lightning is not installed (pip install lightning to add this row)")
    model = compile_graph(project.graph).model
    x, y = dataset.x_train, dataset.y_train
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128, shuffle=True)

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = model

        def training_step(self, batch, _index):
            return nn.functional.cross_entropy(self.model(batch[0]), batch[1])

        def configure_optimizers(self):
            return build_optimizer(ADAM, self.parameters())

    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    start = time.perf_counter()
    trainer.fit(Module(), loader)
    rate = epochs * len(x) / (time.perf_counter() - start)
    base = bare_loop(compile_graph(project.graph).model, x, y, 128, epochs)
    return Row(SECTION, "PyTorch Lightning Trainer.fit vs bare loop", rate / base, "x", "", None,
               note="for comparison: Lightning with its DataLoader, same model and data")


def run(quick: bool = False) -> list[Row]:
    return run_on("cpu", quick)


def run_on(device: str, quick: bool = False) -> list[Row]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="nc-bench-") as folder:
            folder = Path(folder)
            npz = write_npz(folder, 20000)
            project = mlp_project(npz)
            project.training["device"] = device
            dataset = load_dataset(project.training["dataset"], folder, 0.2, 0).to(device)
            epochs, rounds = (2, 3) if quick else (2, 12)
            ratios, cpu_ratios = [], []
            for i in range(rounds):
                torch.manual_seed(0)
                model = compile_graph(project.graph).model.to(device)
                ours_cpu, base_cpu = [], []
                if i % 2:
                    ours = engine_rate(project, dataset, epochs, folder / f"run{i}", ours_cpu)
                    base = bare_loop(model, dataset.x_train, dataset.y_train, 128, epochs, cpu_seconds=base_cpu)
                else:
                    base = bare_loop(model, dataset.x_train, dataset.y_train, 128, epochs, cpu_seconds=base_cpu)
                    ours = engine_rate(project, dataset, epochs, folder / f"run{i}", ours_cpu)
                ratios.append(ours / base)
                cpu_ratios.append(sum(base_cpu) / sum(ours_cpu))
            median, spread = summarise(ratios)
            cpu_median, cpu_spread = summarise(cpu_ratios)
            rows = [Row(SECTION, "engine Trainer vs minimal loop (throughput)", median, "x", f">= {GOAL}",
                        median >= GOAL, spread, f"{len(dataset.x_train)} samples, {epochs} epochs, 1 thread; "
                        f"overhead {max(0.0, 1 - median) * 100:.1f}%")]
            if device == "cpu":  # on a GPU the CPU time is not the training's
                rows.append(Row(SECTION, "engine Trainer vs minimal loop (CPU time of the training thread)",
                                cpu_median, "x", "", None, cpu_spread, "the same runs; time.thread_time over the "
                                "training epochs, which other programs on a busy machine disturb less",
                                extra={"ratios": cpu_ratios}))
                rows.append(lightning_row(project, dataset, epochs))
            return rows
    finally:
        torch.set_num_threads(threads)
