"""How a catalogue node becomes a `torch.nn` module: the class its op entry names, with the
keyword arguments from its params.

`constructor(node_type, params, inputs)` gives the `torch.nn` class name and the
keyword arguments, with input dimensions (in_features, in_channels, ...) filled
from the incoming shapes (the catalogue's `inferred`), then adjusted by the op
entry (`skip`, `batch_first`, `kwargs`). The compiler and the PyTorch-code
exporter both use it, so a generated `.py` builds exactly the modules the
compiled model holds.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.ops import OPS, TensorSpec
from engine.ops.base import Submodule
from graphs.catalogue import node_type

_GRAPH_ONLY = {"inputs"}  # a variadic node's input count is never a constructor argument


def constructor(type_name: str, params: dict, inputs: dict[str, TensorSpec]) -> tuple[str, dict]:
    """(torch.nn class name, kwargs) for a module node."""
    spec, op = node_type(type_name), OPS[type_name]
    if op.module is None:
        raise ValueError(f"{type_name} is a functional node: it builds no module")
    skip = _GRAPH_ONLY | set(op.skip)
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items() if k not in skip}
    for arg, (port, index) in spec.inferred.items():
        shape = inputs[port].shape
        if index == "trailing":
            kwargs[arg] = tuple(shape[len(shape) - params["normalized_dims"]:])
        else:
            kwargs[arg] = shape[index]
    if op.batch_first:
        kwargs["batch_first"] = True
    if op.kwargs is not None:
        kwargs = op.kwargs(kwargs)
    return op.module, kwargs


def build_module(type_name: str, params: dict, inputs: dict[str, TensorSpec]) -> nn.Module:
    return _build(*constructor(type_name, params, inputs))


def _build(class_name: str, kwargs: dict) -> nn.Module:
    """`nn.<class_name>(**kwargs)`, building the arguments that are modules themselves first."""
    kwargs = {k: _build(v.module, v.kwargs) if isinstance(v, Submodule) else v for k, v in kwargs.items()}
    return getattr(nn, class_name)(**kwargs)


TORCH_DTYPES = {"float32": torch.float32, "int64": torch.int64}
