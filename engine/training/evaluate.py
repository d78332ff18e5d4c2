"""Evaluate a trained model on the validation split, for the GUI's evaluation panel.

Classification: the predicted class of every validation sample, the confusion
matrix (rows: true class, columns: predicted) and per-class precision, recall
and F1. Regression: the true and predicted values, MAE and RMSE.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from engine.data import Dataset
from engine.errors import UserError
from engine.training.metrics import ClassAccuracy, metric_for


@dataclass
class Evaluation:
    task: str  # "classification" | "regression"
    targets: np.ndarray  # true class index per sample, or true values [N, ...]
    predictions: np.ndarray  # predicted class index per sample, or predicted values [N, ...]
    class_names: list[str] | None = None
    confusion: np.ndarray | None = None  # [true, predicted] counts
    per_class: list[dict] = field(default_factory=list)  # {class, precision, recall, f1, support}
    accuracy: float | None = None
    mae: float | None = None
    rmse: float | None = None


def _confusion(targets: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    return np.bincount(targets * classes + predictions, minlength=classes * classes).reshape(classes, classes)


def _per_class(confusion: np.ndarray, names: list[str]) -> list[dict]:
    rows = []
    for i, name in enumerate(names):
        hits, predicted, actual = confusion[i, i], confusion[:, i].sum(), confusion[i].sum()
        precision = hits / predicted if predicted else 0.0
        recall = hits / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"class": name, "precision": float(precision), "recall": float(recall), "f1": float(f1),
                     "support": int(actual)})
    return rows


def evaluate(model, dataset: Dataset, *, device=None, batch_size: int = 512) -> Evaluation:
    """Run `model` (a CompiledGraph, or a module with one output) over `dataset`'s validation split."""
    if not len(dataset.val):
        raise UserError("there is no validation data to evaluate on: val_split is 0 (all the data trains)")
    metric, output_index = None, 0
    if hasattr(model, "losses"):  # a CompiledGraph: score the output its first loss sees
        if model.losses:
            metric, output_index = metric_for(model.losses[0].module), model.losses[0].output_index
        model = model.model
    if metric is None:
        metric = ClassAccuracy() if dataset.task == "classification" else metric_for(torch.nn.MSELoss())
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    predictions, targets = [], []
    try:
        with torch.no_grad():
            for x, y in dataset.val.to(device).batches(batch_size):
                outputs = model(x)
                output = outputs[output_index] if isinstance(outputs, tuple) else outputs
                if isinstance(metric, ClassAccuracy):
                    predictions.append(metric.predict(output).cpu())
                    targets.append(metric.labels(output, y).cpu())
                else:
                    predictions.append(output.float().cpu())
                    targets.append(y.float().cpu())
    finally:
        model.train(was_training)
    predicted, true = torch.cat(predictions).numpy(), torch.cat(targets).numpy()
    if not isinstance(metric, ClassAccuracy):
        error = predicted - true.reshape(predicted.shape)
        return Evaluation("regression", true, predicted, mae=float(np.abs(error).mean()),
                          rmse=float(np.sqrt((error**2).mean())))
    predicted, true = predicted.reshape(-1).astype(np.int64), true.reshape(-1).astype(np.int64)
    names = list(dataset.class_names or [])
    classes = max(len(names), int(max(predicted.max(), true.max())) + 1)
    names += [str(i) for i in range(len(names), classes)]  # a model may score more classes than the data has
    confusion = _confusion(true, predicted, classes)
    return Evaluation("classification", true, predicted, names, confusion, _per_class(confusion, names),
                      accuracy=float((true == predicted).mean()))
