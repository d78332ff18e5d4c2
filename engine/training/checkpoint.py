"""Model weights as safetensors files: save atomically, load with clear errors. Never a pickle.

`save_weights(model, path)` writes the model's `state_dict` (keys such as
`conv1.weight`, tensors made contiguous and moved to the CPU) to a temporary
file and renames it over `path`, so a crash never leaves a half-written file.
`load_weights(model, path)` checks every tensor's name and shape against the
model before loading and raises a `UserError` naming the tensor (and both
shapes) or the file (when it is not a safetensors file, or is truncated).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save

from engine.errors import UserError
from graphs.project import atomic_write

FORMAT = "neurocanvas"


def _fmt(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def save_weights(model: torch.nn.Module, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write `model`'s weights to `path` (safetensors); `metadata` is stored as text beside them."""
    path = Path(path)
    tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    header = {"format": "pt", "writer": FORMAT, **{str(k): str(v) for k, v in (metadata or {}).items()}}
    try:
        atomic_write(path, save(tensors, metadata=header))
    except OSError as error:
        raise UserError(f"cannot write weights to '{path}': {error.strerror or error}") from None
    return path


def read_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors (on the CPU) and the metadata of a safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file '{path}' not found")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as error:  # safetensors raises its own error types for every kind of bad file
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"'{path.name}' is not a valid safetensors weights file ({reason}); "
                        "it may be truncated or a different kind of file") from None
    return tensors, metadata


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> dict[str, str]:
    """Load weights saved by `save_weights` into `model`; returns the file's metadata."""
    path = Path(path)
    tensors, metadata = read_weights(path)
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in tensors:
            raise UserError(f"'{path.name}' has no tensor '{name}' (the model's has shape {_fmt(tensor.shape)}); "
                            "the weights belong to a different graph")
        if tuple(tensors[name].shape) != tuple(tensor.shape):
            raise UserError(f"tensor '{name}' has shape {_fmt(tensors[name].shape)} in '{path.name}' but the "
                            f"model needs {_fmt(tensor.shape)}")
    extra = sorted(set(tensors) - set(expected))
    if extra:
        raise UserError(f"'{path.name}' holds tensor '{extra[0]}' (shape {_fmt(tensors[extra[0]].shape)}) that the "
                        "model does not have; the weights belong to a different graph")
    model.load_state_dict(tensors)
    return metadata
