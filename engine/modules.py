"""How each catalogue node becomes torch: a module constructor call, or a plain op.

`constructor(node_type, params, inputs)` gives the `torch.nn` class name and the
keyword arguments, with input dimensions (in_features, in_channels, ...) filled
from the incoming shapes. The compiler and the PyTorch-code exporter both use
it, so a generated `.py` builds exactly the modules the compiled model holds.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.shape_rules import TensorSpec
from graphs.catalogue import node_type

# params that shape the graph but are not constructor arguments
_NOT_CONSTRUCTOR = {"output", "normalized_dims", "inputs"}
_BATCH_FIRST = {"LSTM", "GRU", "MultiheadAttention", "TransformerEncoderLayer"}
# node types that are torch ops on their inputs, not modules
FUNCTIONAL = {"Input", "Target", "Reshape", "Permute", "Concat", "Add", "Multiply"}


def constructor(type_name: str, params: dict, inputs: dict[str, TensorSpec]) -> tuple[str, dict]:
    """(torch.nn class name, kwargs) for a module node."""
    spec = node_type(type_name)
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items() if k not in _NOT_CONSTRUCTOR}
    for arg, (port, index) in spec.inferred.items():
        shape = inputs[port].shape
        if index == "trailing":
            kwargs[arg] = tuple(shape[len(shape) - params["normalized_dims"]:])
        else:
            kwargs[arg] = shape[index]
    if type_name in _BATCH_FIRST:
        kwargs["batch_first"] = True
    if type_name in ("LSTM", "GRU") and kwargs["num_layers"] == 1:
        kwargs["dropout"] = 0.0  # torch warns about dropout on a single layer; it has no effect there
    return spec.torch_class, kwargs


def build_module(type_name: str, params: dict, inputs: dict[str, TensorSpec]) -> nn.Module:
    class_name, kwargs = constructor(type_name, params, inputs)
    return getattr(nn, class_name)(**kwargs)


TORCH_DTYPES = {"float32": torch.float32, "int64": torch.int64}
