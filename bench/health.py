"""Section 17: the cost of live node health (engine.training.health) to training throughput.

The digits CNN example trains with health on and off, alternately, on one CPU thread; the figure is
the throughput with health on over the throughput with it off (training samples per second over the
whole run, validation excluded; median over rounds). Goal: at most 5% cost. Health samples every 10th
batch, at most every 0.1 s, within a 3% time budget; the row says how many samples a run gathered, so a
cost of zero cannot hide a monitor that never ran. A second row gives the monitor's own account of its
time share: what its sampled batches took beyond plain ones, over the training time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from bench.common import Row, summarise
from engine.data_shapes import load_training_data
from engine.training import Trainer, events
from engine.training.config import TrainingConfig
from graphs.project import load_project

SECTION = "17. Health overlay cost"
GOAL = 0.95
EXAMPLE = Path(__file__).resolve().parents[1] / "resources" / "examples" / "digits_cnn.json"


def _rate(project, dataset, health: bool, epochs: int, out_dir: Path) -> tuple[float, int, float]:
    """(training samples per second over the whole run, health samples, the monitor's own time share)."""
    samples = []
    trainer = Trainer(project, dataset=dataset, epochs=epochs, threads=1, device="cpu", out_dir=out_dir,
                      health=health,
                      callback=lambda e: samples.append(e) if isinstance(e, events.HealthSample) else None)
    result = trainer.run()
    assert result.ok, result.message
    seconds = sum(len(dataset.train) / row["samples_per_sec"] for row in result.history)
    share = trainer._health.share if trainer._health is not None else 0.0
    return len(dataset.train) * len(result.history) / seconds, len(samples), share


def run(quick: bool = False) -> list[Row]:
    torch.set_num_threads(1)
    project = load_project(EXAMPLE)
    config = TrainingConfig.from_dict(project.training, device="cpu")
    dataset = load_training_data(config, EXAMPLE.parent)
    epochs, rounds = (2, 2) if quick else (6, 7)
    ratios, counts, shares = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for i in range(rounds):
            first_on = i % 2 == 1  # ABBA: neither always runs first
            if first_on:
                on, count, share = _rate(project, dataset, True, epochs, Path(folder) / f"on{i}")
            off, _, _ = _rate(project, dataset, False, epochs, Path(folder) / f"off{i}")
            if not first_on:
                on, count, share = _rate(project, dataset, True, epochs, Path(folder) / f"on{i}")
            ratios.append(on / off)
            counts.append(count)
            shares.append(share)
    value, spread = summarise(ratios)
    return [Row(SECTION, "digits CNN throughput, health on / off (CPU, 1 thread)", value, "x", f">= {GOAL}",
                value >= GOAL, spread, note=f"{min(counts)}-{max(counts)} health samples per run of {epochs} epochs",
                extra={"ratios": ratios, "samples": counts}),
            Row(SECTION, "time spent sampling health / training time (the monitor's own clock)", max(shares) * 100,
                "%", "<= 5 %", max(shares) <= 0.05, note="the largest over the runs; steadier than the ratio on a "
                "busy machine", extra={"shares": shares})]
