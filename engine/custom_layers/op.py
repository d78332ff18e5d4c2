"""The engine's entry (`engine.ops.base.Op`) for a custom layer: its shape rule, how it is built, how
`forward` calls it.

Shapes come from running the module on torch's `meta` device (no memory, no arithmetic) on a batch of
2, in eval mode (a module whose `__init__` cannot run there is built on the CPU and moved); the outcome is cached per class, params and input specs, so re-inferring an unchanged
node costs nothing. An exception the module raises becomes a `ShapeError` on the node, with its own
message and the line of the project's file it came from. Parameters are counted; MACs are not known
(0) for a custom layer.
"""

from __future__ import annotations

import functools
import traceback
from dataclasses import dataclass

import torch
from torch import nn

from engine.errors import reason
from engine.ops.base import Ctx, NodeInfo, Op, TensorSpec, fmt
from graphs.custom_types import CodeFile
from graphs.errors import printable

META_BATCH = 2
_DTYPES = {"float32": torch.float32, "int64": torch.int64}


@dataclass(frozen=True, eq=False)
class CustomOp(Op):
    """A custom layer's op: `cls` from `file`; its input `ports`, the constructor arguments taken from the
    input shapes (`inferred`: name -> (port, dimension)) and its output ports `outputs`."""

    shape: object = None
    cls: type = None
    file: CodeFile = None
    ports: tuple = ()
    inferred: tuple = ()
    outputs: tuple = ("out",)
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __post_init__(self):
        object.__setattr__(self, "shape", self._shape)
        object.__setattr__(self, "forward", self._forward)

    def build(self, params: dict, inputs: dict[str, TensorSpec]) -> nn.Module:
        """The module for a node with these params and input specs."""
        return self.cls(**self.arguments(params, inputs))

    def arguments(self, params: dict, inputs: dict[str, TensorSpec]) -> dict:
        """The constructor's keyword arguments: the params, and `in_channels`/`in_features` from the inputs."""
        taken = {name: inputs[port].shape[index] for name, (port, index) in self.inferred}
        return {**taken, **params}

    def _shape(self, ctx: Ctx) -> NodeInfo:
        outcome = _infer(self, _frozen(ctx.p), tuple(ctx.inputs.items()))
        if isinstance(outcome, str):
            raise ctx.fail(outcome)
        outputs, count = outcome
        return NodeInfo(dict(zip(self.outputs, outputs)), params=count)

    def _forward(self, emit, params: dict, args: list):
        value = emit.module(args)
        if len(self.outputs) == 1:
            return value
        return {port: emit.item(value, index, helper=port) for index, port in enumerate(self.outputs)}


def _frozen(params: dict) -> tuple:
    return tuple((name, tuple(value) if isinstance(value, list) else value) for name, value in params.items())


@functools.lru_cache(maxsize=4096)
def _infer(op: CustomOp, params: tuple, inputs: tuple):
    """(output specs, parameter count), or the sentence saying why the module failed."""
    specs = dict(inputs)
    kwargs = {name: list(value) if isinstance(value, tuple) else value for name, value in params}
    try:
        try:
            with torch.device("meta"):
                module = op.build(kwargs, specs)
        except Exception:  # an __init__ that reads values (.item(), numpy) builds on the CPU, then moves
            module = op.build(kwargs, specs).to("meta")
        module.eval()
        # an open optional port: the module gets None in its place
        arguments = [torch.empty((META_BATCH, *specs[port].shape), dtype=_DTYPES[specs[port].dtype], device="meta")
                     if port in specs else None for port in op.ports]
        with torch.no_grad():
            result = module(*arguments)
    except Exception as error:  # the user's module refused: its own message, pinned to the node
        return _failure(error, op)
    count = sum(p.numel() for p in module.parameters())
    values = result if len(op.outputs) > 1 else (result,)
    if not isinstance(values, (tuple, list)) or len(values) != len(op.outputs):
        return (f"returns {type(result).__name__}; declare {len(op.outputs)} output tensors, as its class's "
                f"outputs say ({', '.join(op.outputs)})")
    outputs = []
    for port, value in zip(op.outputs, values):
        if not isinstance(value, torch.Tensor):
            return f"returns {type(value).__name__} on '{port}', not a tensor"
        if value.dim() == 0 or value.shape[0] != META_BATCH:
            return (f"returns {fmt(tuple(value.shape))} on '{port}' for a batch of {META_BATCH}: the batch must "
                    "stay the first dimension")
        dtype = "float32" if value.dtype.is_floating_point else "int64"
        outputs.append(TensorSpec(tuple(int(d) for d in value.shape[1:]), dtype))
    return tuple(outputs), count


def _failure(error: Exception, op: CustomOp) -> str:
    frames = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
              if frame.filename == str(op.file.path)]
    where = f" ({printable(op.file.path.name)} line {frames[-1]})" if frames else ""
    text = f"raised {type(error).__name__}: {reason(error)}{where}"
    if "meta" in str(error).lower():
        text += ("; shapes are inferred on torch's meta device, where operations that read values "
                 "(.item(), .tolist(), data-dependent shapes) cannot run")
    return text
