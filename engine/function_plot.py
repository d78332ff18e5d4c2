"""The curve of an activation or a loss, for the inspector's live plot.

`function_curves(type_name, params)` builds the node's own `torch.nn` module with its current params
(through `engine.modules`, as the compiler does), evaluates it on a grid and takes the derivative with
autograd. Activations are plotted against their input; losses against the prediction for a fixed
target (regression losses at target 0, classification losses for the correct class or label 1).
Types whose output is no function of one number (attention, CTC, embedding losses) are not plottable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import UserError
from engine.modules import build_module
from engine.ops import TensorSpec
from graphs.catalogue import node_type
from graphs.errors import GraphError

_POINTS = 241
_VECTOR_ACTIVATIONS = {"Softmax", "LogSoftmax", "Softmin"}  # plotted for the first of two logits [x, 0]
_NOT_PLOTTED = {"GLU"}  # needs two halves, no single input
_RANGES = {"ReLU6": (-3.0, 8.0), "BCELoss": (0.02, 0.98), "NLLLoss": (-5.0, 0.0)}


@dataclass
class FunctionCurves:
    """y = f(x) on a grid, with dy/dx, and what the axes mean."""

    x: np.ndarray
    y: np.ndarray
    dy: np.ndarray
    x_label: str
    y_label: str
    derivative_label: str


@dataclass(frozen=True)
class _LossFeed:
    """How one grid value x becomes a loss's arguments (a batch of `points` cases)."""

    x_label: str
    args: Callable[[torch.Tensor], tuple]


def _column(x):
    return x.unsqueeze(1)


def _three_logits(x):
    return torch.stack([x, torch.zeros_like(x), torch.zeros_like(x)], 1)


def _class_zero(x):
    return torch.zeros(len(x), dtype=torch.long)


_ONES = "target 1"
_LOSSES: dict[str, _LossFeed] = {
    "MSELoss": _LossFeed("prediction (target 0)", lambda x: (_column(x), torch.zeros(len(x), 1))),
    "L1Loss": _LossFeed("prediction (target 0)", lambda x: (_column(x), torch.zeros(len(x), 1))),
    "SmoothL1Loss": _LossFeed("prediction (target 0)", lambda x: (_column(x), torch.zeros(len(x), 1))),
    "HuberLoss": _LossFeed("prediction (target 0)", lambda x: (_column(x), torch.zeros(len(x), 1))),
    "GaussianNLLLoss": _LossFeed("predicted mean (target 0, var 1)",
                                 lambda x: (_column(x), torch.zeros(len(x), 1), torch.ones(len(x), 1))),
    "BCEWithLogitsLoss": _LossFeed(f"logit ({_ONES})", lambda x: (_column(x), torch.ones(len(x), 1))),
    "BCELoss": _LossFeed(f"probability ({_ONES})", lambda x: (_column(x), torch.ones(len(x), 1))),
    "SoftMarginLoss": _LossFeed(f"score ({_ONES})", lambda x: (_column(x), torch.ones(len(x), 1))),
    "MultiLabelSoftMarginLoss": _LossFeed(f"logit ({_ONES})", lambda x: (_column(x), torch.ones(len(x), 1))),
    "CrossEntropyLoss": _LossFeed("logit of the correct class (3 classes, others 0)",
                                  lambda x: (_three_logits(x), _class_zero(x))),
    "MultiMarginLoss": _LossFeed("score of the correct class (3 classes, others 0)",
                                 lambda x: (_three_logits(x), _class_zero(x))),
    "NLLLoss": _LossFeed("log-probability of the correct class",
                         lambda x: (torch.stack([x, torch.full_like(x, -10.0)], 1), _class_zero(x))),
    "PoissonNLLLoss": _LossFeed("predicted log-rate (count 2)", lambda x: (_column(x), torch.full((len(x), 1), 2.0))),
    "MarginRankingLoss": _LossFeed("input1 − input2 (target 1)",
                                   lambda x: (x, torch.zeros_like(x), torch.ones_like(x))),
}


def plottable(type_name: str) -> bool:
    """Whether `function_curves` can draw this type."""
    try:
        spec = node_type(type_name)
    except GraphError:
        return False
    if spec.category == "Activations":
        return type_name not in _NOT_PLOTTED
    return type_name in _LOSSES


def function_curves(type_name: str, params: dict | None = None, points: int = _POINTS) -> FunctionCurves:
    """The function and its derivative for an activation or loss node with `params` (defaults filled in)."""
    if not plottable(type_name):
        raise UserError(f"{type_name} has no function curve to plot")
    spec = node_type(type_name)
    try:
        resolved = spec.resolve_params(params)
    except GraphError as error:
        raise UserError(str(error)) from None
    low, high = _RANGES.get(type_name, (-3.0, 3.0) if spec.is_loss else (-4.0, 4.0))
    if type_name == "PoissonNLLLoss" and not resolved["log_input"]:
        low, high = 0.05, 6.0
    x = torch.linspace(low, high, points, dtype=torch.float64, requires_grad=True)
    try:
        with torch.enable_grad():
            if spec.is_loss:
                y, x_label = _loss_values(type_name, resolved, x)
            else:
                y, x_label = _activation_values(type_name, resolved, x)
            (dy,) = torch.autograd.grad(y.sum(), x)
    except (ValueError, TypeError, RuntimeError) as error:
        raise UserError(f"{type_name}: cannot evaluate it with these params: {error}") from None
    y_label = "loss" if spec.is_loss else "y"
    return FunctionCurves(x.detach().numpy(), y.detach().numpy(), dy.numpy(), x_label, y_label,
                          "dloss/dx" if spec.is_loss else "dy/dx")


def _build(type_name: str, params: dict, width: int) -> torch.nn.Module:
    return build_module(type_name, params, {"in": TensorSpec((width,))}).double()


def _activation_values(type_name: str, params: dict, x: torch.Tensor) -> tuple[torch.Tensor, str]:
    if type_name in _VECTOR_ACTIVATIONS:
        params = {**params, "dim": -1}
        logits = torch.stack([x, torch.zeros_like(x)], 1)
        return _build(type_name, params, 2)(logits)[:, 0], "x (first of two logits [x, 0])"
    return _build(type_name, params, 1)(x.unsqueeze(1))[:, 0], "x"


def _loss_values(type_name: str, params: dict, x: torch.Tensor) -> tuple[torch.Tensor, str]:
    feed = _LOSSES[type_name]
    params = {**params, "reduction": "none"}
    module = _build(type_name, params, 1)
    args = tuple(a.double() if a.is_floating_point() else a for a in feed.args(x))
    values = module(*args)
    return values.reshape(len(x), -1).sum(1), feed.x_label
