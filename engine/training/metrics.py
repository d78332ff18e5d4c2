"""The validation metric a run reports, chosen from its loss, and the metrics.csv file.

Class losses (CrossEntropyLoss, NLLLoss, BCE...) report accuracy; the others
report the mean absolute error. Each metric sums over a batch on the device, so
validation reads one number per epoch instead of syncing every batch.
"""

from __future__ import annotations

import csv
import io
import os

import torch

from engine.errors import UserError
from graphs.project import atomic_write

CLASS_INDEX_LOSSES = ("CrossEntropyLoss", "NLLLoss", "MultiMarginLoss")
BINARY_LOSSES = {"BCEWithLogitsLoss": 0.0, "BCELoss": 0.5}  # loss -> decision threshold on the output


class Metric:
    """Sums a metric over batches: `total(output, target)`, then divide by `count(target)`."""

    name = "val_mae"

    def total(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (output.float() - target.float()).abs().sum()

    def count(self, output: torch.Tensor, target: torch.Tensor) -> int:
        return target.numel()


class ClassAccuracy(Metric):
    """Accuracy of the argmax over the class dimension (dim 1)."""

    name = "val_accuracy"

    def predict(self, output: torch.Tensor) -> torch.Tensor:
        return output.argmax(1)

    def labels(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # a float target of the output's shape holds class probabilities
        return target.argmax(1) if target.is_floating_point() and target.shape == output.shape else target

    def total(self, output, target):
        return (self.predict(output) == self.labels(output, target)).sum()

    def count(self, output, target):
        return self.labels(output, target).numel()


class BinaryAccuracy(ClassAccuracy):
    """Accuracy of thresholded outputs against targets in [0, 1]."""

    def __init__(self, threshold: float):
        self.threshold = threshold

    def predict(self, output):
        return (output > self.threshold).long()

    def labels(self, output, target):
        return (target > 0.5).long()


def metric_for(loss_module: torch.nn.Module) -> Metric:
    name = type(loss_module).__name__
    if name in CLASS_INDEX_LOSSES:
        return ClassAccuracy()
    if name in BINARY_LOSSES:
        return BinaryAccuracy(BINARY_LOSSES[name])
    return Metric()


def csv_columns(metric_name: str) -> list[str]:
    return ["epoch", "train_loss", "val_loss", metric_name, "lr", "seconds", "threads"]


def write_metrics_csv(path: str | os.PathLike, history: list[dict], metric_name: str) -> None:
    """Write one row per epoch (rewritten whole and atomically, so a reader never sees half a row);
    a disk that refuses is a `UserError`."""
    buffer = io.StringIO()
    columns = csv_columns(metric_name)
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    try:
        atomic_write(path, buffer.getvalue().encode("utf-8"))
    except OSError as error:
        raise UserError(f"cannot write metrics file {path}: {error.strerror or error}") from None
