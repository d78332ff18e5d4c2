"""The numbers of one run as the plots need them: per-batch losses in growing buffers, their moving
average, and one row per epoch. No Qt here, so it is cheap to keep for every run of the session.

Batch losses arrive in aggregated chunks (`BatchProgress.losses`); they are
appended to preallocated numpy arrays that double when full, so a 100,000-step
run costs a few amortised copies, and a plot reads `steps[:n]` without copying.
`version` changes with every append: the plot redraws only when it moved.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np


class GrowingBuffer:
    """Parallel x and y float arrays, preallocated, doubling their capacity when full."""

    def __init__(self, capacity: int = 1024):
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.n = 0

    @property
    def capacity(self) -> int:
        return len(self._x)

    def extend(self, xs, ys) -> None:
        xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        end = self.n + len(xs)
        if end > self.capacity:
            capacity = self.capacity
            while capacity < end:
                capacity *= 2
            for name in ("_x", "_y"):
                grown = np.empty(capacity, dtype=np.float64)
                grown[:self.n] = getattr(self, name)[:self.n]
                setattr(self, name, grown)
        self._x[self.n:end] = xs
        self._y[self.n:end] = ys
        self.n = end

    @property
    def x(self) -> np.ndarray:
        return self._x[:self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[:self.n]


def smoothing_span(batches_per_epoch: int) -> int:
    """How many batches the moving average spans: about half an epoch, within 5 to 100."""
    return int(min(100, max(5, batches_per_epoch // 2)))


class RunSeries:
    """Everything one run reported, in plot-ready form."""

    def __init__(self, batches_per_epoch: int = 1, metric: str = "val_accuracy"):
        self.batches = GrowingBuffer()  # step -> raw training loss of that batch
        self.smoothed = GrowingBuffer()  # step -> exponential moving average (bias-corrected)
        self.epochs: list[dict] = []  # EpochEnd.metrics rows, plus "step" (the run's step at the epoch's end)
        self.metric = metric
        self.total_steps = 0  # the run's planned steps (epochs x batches per epoch), once known
        self.version = 0
        self.set_batches_per_epoch(batches_per_epoch)

    def set_batches_per_epoch(self, batches: int) -> None:
        self.batches_per_epoch = max(1, int(batches))
        self._alpha = 2.0 / (smoothing_span(self.batches_per_epoch) + 1)
        self._average, self._weight = 0.0, 0.0

    def add_losses(self, last_step: int, losses: list[float]) -> None:
        """Losses of consecutive batches ending at step `last_step`."""
        if not losses:
            return
        steps = np.arange(last_step - len(losses) + 1, last_step + 1, dtype=np.float64)
        smoothed = np.empty(len(losses))
        alpha, average, weight = self._alpha, self._average, self._weight
        for i, loss in enumerate(losses):
            average = (1 - alpha) * average + alpha * loss
            weight = (1 - alpha) * weight + alpha
            smoothed[i] = average / weight
        self._average, self._weight = average, weight
        self.batches.extend(steps, losses)
        self.smoothed.extend(steps, smoothed)
        self.version += 1

    def add_epoch(self, metrics: dict) -> None:
        row = dict(metrics)
        row["step"] = int(row["epoch"]) * self.batches_per_epoch
        self.epochs.append(row)
        self.version += 1

    def column(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of an epoch metric, at each epoch's last step."""
        rows = [r for r in self.epochs if isinstance(r.get(name), (int, float)) and math.isfinite(r[name])]
        return (np.array([r["step"] for r in rows], dtype=np.float64),
                np.array([r[name] for r in rows], dtype=np.float64))

    def learning_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """The learning rate as steps: each epoch's rate held from its first step to its last."""
        steps, rates = self.column("lr")
        starts = steps - self.batches_per_epoch
        return np.column_stack([starts, steps]).reshape(-1), np.repeat(rates, 2)

    @property
    def steps(self) -> int:
        return int(self.batches.x[-1]) if self.batches.n else 0

    def csv_text(self) -> str:
        """One row per step: the batch loss and its average, and on each epoch's last step that epoch's
        metrics."""
        by_step = {row["step"]: row for row in self.epochs}
        columns = ["step", "epoch", "batch_loss", "batch_loss_smoothed", "train_loss", "val_loss", self.metric, "lr"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        steps = set(int(s) for s in self.batches.x) | set(by_step)
        loss = dict(zip(self.batches.x.astype(int).tolist(), self.batches.y.tolist()))
        smooth = dict(zip(self.smoothed.x.astype(int).tolist(), self.smoothed.y.tolist()))
        for step in sorted(steps):
            row = by_step.get(step, {})
            epoch = row.get("epoch", (step - 1) // self.batches_per_epoch + 1)
            values = [loss.get(step), smooth.get(step), row.get("train_loss"), row.get("val_loss"),
                      row.get(self.metric), row.get("lr")]
            writer.writerow([step, epoch, *("" if v is None else f"{v:.6g}" for v in values)])
        return out.getvalue()
