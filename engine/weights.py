"""Model weights on disk: safetensors files, never pickles.

`save_weights(model, path)` writes a model's `state_dict` (keys such as
`conv1.weight`, as the compiler names submodules after node ids) atomically;
`read_weights(path)` reads the tensors back; `load_weights(model, path)` checks
that every tensor fits the model before copying anything in, so a file from
another version of the graph is refused with a sentence that names the tensor.
Every problem with the file raises `UserError`.
"""

from __future__ import annotations

import os
from pathlib import Path

import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import nn

from engine.errors import UserError, reason
from engine.shape_rules import fmt
from graphs.project import atomic_write

WEIGHTS_SUFFIX = ".safetensors"
_MAX_LISTED = 3  # problems named in one message before "and N more"


def state_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state_dict as standalone, contiguous CPU tensors (no shared storage)."""
    return {name: tensor.detach().to("cpu", copy=True).contiguous() for name, tensor in model.state_dict().items()}


def save_weights(model: nn.Module | dict[str, torch.Tensor], path: str | os.PathLike,
                 metadata: dict[str, str] | None = None) -> Path:
    """Write the model's weights (parameters and buffers) to a safetensors file, atomically. `model`
    may also be its `state_tensors`, taken once for several files."""
    path = Path(path)
    tensors = model if isinstance(model, dict) else state_tensors(model)
    data = safetensors.torch.save(tensors, metadata={"format": "pt", **(metadata or {})})
    try:
        atomic_write(path, data)
    except OSError as error:
        raise UserError(f"cannot write weights file {path}: {error.strerror or error}") from None
    return path


def checked_file(path: str | os.PathLike) -> Path:
    """`path` if it is a regular file; a folder, a pipe or a device is refused before anything reads it."""
    path = Path(path)
    if not path.is_file():
        what = ("is a folder, not a file" if path.is_dir() else "is not a regular file" if path.exists()
                else "does not exist")
        raise UserError(f"weights file {path} {what}")
    return path


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, on the CPU."""
    path = checked_file(path)
    try:
        return safetensors.torch.load_file(str(path))
    except SafetensorError as error:
        raise UserError(f"{path} is not a safetensors weights file ({reason(error)}).",
                        "Neurocanvas reads weights only from .safetensors files.") from None
    except OSError as error:
        raise UserError(f"cannot read weights file {path}: {error.strerror or error}") from None


def load_weights(model: nn.Module, source: str | os.PathLike | dict[str, torch.Tensor]) -> nn.Module:
    """Copy the weights from a safetensors file (or a dict of tensors) into `model`, in place.

    Nothing is copied unless every tensor of the model is present with its exact shape and
    the file holds no other tensor; otherwise `UserError` names the offending tensors.
    """
    where = "the weights" if isinstance(source, dict) else f"the weights in {source}"
    tensors = source if isinstance(source, dict) else read_weights(source)
    problems = weight_mismatches(model.state_dict(), tensors)
    if problems:
        more = f"; and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise UserError(f"{where} do not fit this model: {'; '.join(problems[:_MAX_LISTED])}{more}.",
                        "Were they saved from another version of this graph?")
    model.load_state_dict(tensors)
    return model


def weight_mismatches(expected: dict[str, torch.Tensor], given: dict[str, torch.Tensor]) -> list[str]:
    """One sentence per tensor that is missing, unexpected, of the wrong shape or of the wrong kind
    of number (see `_fits`)."""
    problems = []
    for name, tensor in expected.items():
        if name not in given:
            problems.append(f"tensor '{name}' is missing")
        elif tuple(given[name].shape) != tuple(tensor.shape):
            problems.append(f"tensor '{name}' has shape {fmt(given[name].shape)}, the model needs {fmt(tensor.shape)}")
        elif not _fits(given[name].dtype, tensor.dtype):
            problems.append(f"tensor '{name}' holds {_dtype(given[name])} values, the model needs {_dtype(tensor)}")
    problems += [f"tensor '{name}' is not part of the model" for name in given if name not in expected]
    return problems


def _fits(given: torch.dtype, needed: torch.dtype) -> bool:
    """Floating-point weights take floating-point values of any precision (a float16 file loads into
    float32 weights), never integers or booleans (a damaged or reinterpreted file); nothing real takes
    complex values; integer buffers (BatchNorm's batch counter) take any real number."""
    if given.is_complex != needed.is_complex:
        return False
    return given.is_floating_point or not needed.is_floating_point


def _dtype(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")

