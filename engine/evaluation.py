"""Evaluating trained weights on the validation split: the Evaluation panel (off the GUI thread) and `explain`.

`evaluate_weights(project, weights)` loads the project's data with its split
and seed, gives shapeless Input/Target nodes the data's shapes, compiles the
graph, loads the weights and runs `engine.training.evaluate`. For image
classification it also picks validation images to show, misclassified first,
through the dataset's own `preview` (so images are un-normalised the way the
data panel shows them). No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

MAX_IMAGES = 40


@dataclass
class EvaluationReport:
    """An `engine.training.Evaluation` and what the panel shows beside it."""

    evaluation: object  # engine.training.Evaluation
    source: str  # which weights: "run 3 (best epoch)", a checkpoint file...
    samples: int
    images: list[np.ndarray] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    wrong: list[bool] = field(default_factory=list)
    # what explaining needs (engine.explain): the model, the data fitted to it, the shown images as model inputs
    compiled: object = None  # engine.compiler.CompiledGraph
    dataset: object = None  # engine.data.Dataset, fitted to `compiled`
    inputs: object = None  # torch.Tensor [len(images), C, H, W]
    released: bool = False

    def release(self) -> None:
        """Drop the model and the data (the numbers stay), so a report kept for later holds no dataset."""
        self.compiled = self.dataset = self.inputs = None
        self.released = True

    @property
    def task(self) -> str:
        return self.evaluation.task

    def headline(self) -> str:
        e = self.evaluation
        if e.task == "classification":
            return f"{self.source}: validation accuracy {e.accuracy:.2%} on {self.samples:,} samples"
        return f"{self.source}: validation MAE {e.mae:.4g}, RMSE {e.rmse:.4g} on {self.samples:,} samples"


class _Subset:
    """Some samples of a split, in a given order, with the interface `Dataset.preview` reads."""

    def __init__(self, split, indices: list[int]):
        self.split, self.indices = split, indices

    def __len__(self) -> int:
        return len(self.indices)

    def sample(self, i: int):
        return self.split.sample(self.indices[i])

    def labels(self):
        return self.split.labels()[self.indices]


def shown_order(evaluation, limit: int) -> list[int]:
    """The validation samples the panel shows: misclassified first, at most `limit`."""
    wrong = np.flatnonzero(evaluation.targets != evaluation.predictions)
    right = np.flatnonzero(evaluation.targets == evaluation.predictions)
    return [int(i) for i in np.concatenate([wrong, right])[:limit]]


def _sample_images(dataset, evaluation, limit: int) -> tuple[list, list[str], list[bool]]:
    """Validation images, misclassified first, with 'true → predicted' captions."""
    order = shown_order(evaluation, limit)
    if not order:
        return [], [], []
    subset = _Subset(dataset.val, order)
    preview = replace(dataset, train=subset, val=subset).preview(len(order))
    names = evaluation.class_names
    captions, flags = [], []
    for index, true_name in zip(order, preview.labels):
        predicted = names[int(evaluation.predictions[index])]
        is_wrong = predicted != true_name
        captions.append(f"{true_name} → {predicted}" if is_wrong else f"{true_name} ✓")
        flags.append(is_wrong)
    return preview.images, captions, flags


def _inputs(fitted, order: list[int]):
    """The shown validation samples as the model reads them, on the CPU."""
    import torch

    return torch.stack([fitted.val.sample(i)[0].cpu() for i in order]) if order else None


def evaluate_weights(project, weights: str | Path, source: str, base_dir: str | Path | None = None,
                     max_images: int = MAX_IMAGES) -> EvaluationReport:
    """Evaluate `weights` (safetensors) on `project`'s validation split. Raises UserError for bad input."""
    from engine.data import fit_dataset
    from engine.data_shapes import graph_as_trained, load_training_data
    from engine.export import prepare_model
    from engine.training import TrainingConfig, evaluate

    if base_dir is None:
        base_dir = project.path.parent if project.path else Path.cwd()
    dataset = load_training_data(TrainingConfig.from_dict(project.training), base_dir)  # as the run split it
    graph, _ = graph_as_trained(project.graph, project.training, base_dir, dataset)
    compiled = prepare_model(graph, weights)
    fitted = fit_dataset(dataset, compiled)
    evaluation = evaluate(compiled, fitted)
    report = EvaluationReport(evaluation, source, len(dataset.val), compiled=compiled, dataset=fitted)
    if evaluation.task == "classification" and dataset.modality == "images":
        report.images, report.captions, report.wrong = _sample_images(dataset, evaluation, max_images)
        report.inputs = _inputs(fitted, shown_order(evaluation, max_images))
    return report
