"""What every exporter shares: the model to export, sample inputs and how outputs are compared.

`prepare_model(graph, weights, seed)` compiles a graph and fills in its weights
(from a safetensors file, or seeded random initialisation), raising `UserError`
for anything wrong with the input. Exporters never touch the caller's model:
they work on `eval_copy(compiled)`, a CPU copy in eval mode, so a model that is
being trained on a GPU keeps its device and mode.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.check_sizes import check_inputs
from engine.compiler import CompiledGraph, CompileError, compile_graph
from engine.errors import UserError
from engine.weights import load_weights, save_weights
from graphs.document import Graph


class ExportError(UserError):
    """An export could not be written or does not reproduce the model."""


def prepare_model(graph: Graph, weights: str | os.PathLike | None = None, seed: int = 0) -> CompiledGraph:
    """Compile `graph` and load `weights` (a safetensors file) into it.

    Without weights the parameters are torch's random initialisation, drawn from
    `seed` without disturbing the global random state, so an export is reproducible.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            compiled = compile_graph(graph)
        except CompileError as error:
            raise UserError(f"the graph cannot be compiled: {error}") from None
    if weights is not None:
        load_weights(compiled.model, weights)
    return compiled


def eval_copy(compiled: CompiledGraph) -> nn.Module:
    """A copy of the compiled model on the CPU, in eval mode (dropout off, batch-norm running stats)."""
    return copy.deepcopy(compiled.model).cpu().eval()


def sample_inputs(compiled: CompiledGraph, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Reproducible random inputs (int64 inputs as valid indices), one per model input, at the sizes
    `engine.check_sizes` keeps within memory (smaller than the Input nodes' where the graph allows)."""
    return check_inputs(compiled, batch, seed)


def run_model(model: nn.Module, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """The model's outputs for `inputs`, always as a tuple (in `CompiledGraph.outputs` order)."""
    with torch.no_grad():
        outputs = model(*inputs)
    return outputs if isinstance(outputs, tuple) else (outputs,)


def max_difference(expected: Sequence, actual: Sequence) -> float:
    """The largest absolute element-wise difference over all outputs; inf when shapes differ.

    NaN in the same place on both sides counts as equal; NaN on one side only as inf.
    """
    if len(expected) != len(actual):
        return float("inf")
    worst = 0.0
    for want, got in zip(expected, actual):
        want, got = _as_float_array(want), _as_float_array(got)
        if want.shape != got.shape:
            return float("inf")
        if want.size == 0:
            continue
        both_nan = np.isnan(want) & np.isnan(got)
        difference = np.where(both_nan, 0.0, np.abs(want - got))
        worst = max(worst, float(np.nan_to_num(difference, nan=np.inf).max()))
    return worst


def _as_float_array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def export_safetensors(compiled: CompiledGraph, path: str | os.PathLike) -> Path:
    """Write the compiled model's weights (parameters and buffers) to a safetensors file."""
    return save_weights(compiled.model, path, metadata={"producer": "neurocanvas"})
