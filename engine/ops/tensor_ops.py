"""Data, shape and merge ops, and activations: Input, Target, Flatten, Reshape, Permute, Concat,
Add, Multiply, ReLU & co.

The functional ones (no module) carry a `forward` recipe naming the torch call the
compiler emits: `torch.cat`, `x.reshape(x.size(0), ...)`, `x.permute(...)`, `a + b`.
"""

from __future__ import annotations

import math

from engine.ops.base import Ctx, Emitter, NodeInfo, Op, TensorSpec, fmt, module_op


def _data(ctx: Ctx) -> NodeInfo:
    shape = ctx.p["shape"]
    if shape is None:
        raise ctx.fail("has no shape: set its shape, or pick a dataset to take it from")
    if ctx.type == "Input" and any(d < 1 for d in shape):
        raise ctx.fail(f"shape {fmt(shape)} must hold positive sizes")
    return NodeInfo({"out": TensorSpec(tuple(shape), ctx.p["dtype"])})


def _flatten(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    rank = len(x.shape)
    start = ctx.batched_dim(ctx.p["start_dim"], rank, "start_dim")
    end = ctx.batched_dim(ctx.p["end_dim"], rank, "end_dim")
    if start == 0 and math.prod(x.shape[:end]) != 1:
        raise ctx.fail("start_dim=0 would merge the batch dimension; use start_dim=1")
    if start == 0:  # merging the batch with size-1 dims only drops them
        return NodeInfo({"out": TensorSpec(x.shape[end:], x.dtype)})
    if start > end:
        raise ctx.fail(f"start_dim ({ctx.p['start_dim']}) comes after end_dim ({ctx.p['end_dim']})")
    if start == end:
        return NodeInfo({"out": x})
    full = (None, *x.shape)
    shape = (*full[1:start], math.prod(full[start:end + 1]), *full[end + 1:])
    return NodeInfo({"out": TensorSpec(shape, x.dtype)})


def _reshape(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    target = list(ctx.p["shape"])
    total = math.prod(x.shape)
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if known == 0 or total % known:
            raise ctx.fail(f"cannot reshape {fmt(x.shape)} ({total} values) to {fmt(target)}")
        target[target.index(-1)] = total // known
    elif known != total:
        raise ctx.fail(f"cannot reshape {fmt(x.shape)} ({total} values) to {fmt(target)} ({known} values)")
    return NodeInfo({"out": TensorSpec(tuple(target), x.dtype)})


def _permute(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    dims = ctx.p["dims"]
    if sorted(dims) != list(range(len(x.shape) + 1)):
        raise ctx.fail(f"dims {fmt(dims)} must be a permutation of 0..{len(x.shape)} "
                       f"for input batch + {fmt(x.shape)}")
    if dims[0] != 0:
        raise ctx.fail("must keep the batch first: dims must start with 0")
    full = (None, *x.shape)
    return NodeInfo({"out": TensorSpec(tuple(full[d] for d in dims[1:]), x.dtype)})


def _concat(ctx: Ctx) -> NodeInfo:
    specs = list(ctx.inputs.values())
    first = specs[0]
    dim = ctx.batched_dim(ctx.p["dim"], len(first.shape))
    if dim == 0:
        raise ctx.fail("cannot concatenate along the batch (dim 0); use dim=1 for channels")
    for port, spec in ctx.inputs.items():
        if len(spec.shape) != len(first.shape) or any(
                a != b for i, (a, b) in enumerate(zip(spec.shape, first.shape)) if i != dim - 1):
            raise ctx.fail(f"inputs must match except along dim {ctx.p['dim']}: "
                           f"{fmt(first.shape)} and {fmt(spec.shape)} on '{port}'", port)
    shape = list(first.shape)
    shape[dim - 1] = sum(s.shape[dim - 1] for s in specs)
    dtype = "float32" if any(s.dtype == "float32" for s in specs) else first.dtype
    return NodeInfo({"out": TensorSpec(tuple(shape), dtype)})


def _elementwise(ctx: Ctx) -> NodeInfo:
    specs = list(ctx.inputs.items())
    shape = list(specs[0][1].shape)
    for port, spec in specs[1:]:
        if len(spec.shape) != len(shape):
            raise ctx.fail(f"inputs must have the same number of dims: {fmt(shape)} and {fmt(spec.shape)} "
                           f"on '{port}'", port)
        for i, (a, b) in enumerate(zip(shape, spec.shape)):
            if a != b and 1 not in (a, b):
                raise ctx.fail(f"cannot broadcast {fmt(shape)} with {fmt(spec.shape)} on '{port}' "
                               f"(dim {i + 1}: {a} vs {b}); make the shapes equal, e.g. with a 1x1 Conv2d "
                               "or a Linear on the shortcut", port)
            shape[i] = max(a, b)
    dtype = "float32" if any(s.dtype == "float32" for _, s in specs) else specs[0][1].dtype
    return NodeInfo({"out": TensorSpec(tuple(shape), dtype)})


def _activation(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    ctx.expect_float(x)
    if "dim" in ctx.p:
        ctx.batched_dim(ctx.p["dim"], len(x.shape))
    return NodeInfo({"out": x})


def _fold(function: str):
    """a (+|*) b (+|*) c ..., left to right; the partial results are helpers."""
    def emit(e: Emitter, params: dict, args: list):
        out = args[0]
        for i, other in enumerate(args[1:-1], 1):
            out = e.function(function, (out, other), helper=f"partial{i}")
        return e.function(function, (out, args[-1]))
    return emit


def _emit_concat(e: Emitter, params: dict, args: list):
    return e.function("torch.cat", (list(args),), {"dim": params["dim"]})


def _emit_reshape(e: Emitter, params: dict, args: list):
    batch = e.method("size", (args[0], 0), helper="batch")
    return e.method("reshape", (args[0], batch, *params["shape"]))


def _emit_permute(e: Emitter, params: dict, args: list):
    return e.method("permute", (args[0], *params["dims"]))


ACTIVATIONS = ("ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax")

OPS = {
    "Input": Op(_data), "Target": Op(_data),
    "Flatten": module_op(_flatten, "Flatten"),
    "Reshape": Op(_reshape, forward=_emit_reshape),
    "Permute": Op(_permute, forward=_emit_permute),
    "Concat": Op(_concat, forward=_emit_concat),
    "Add": Op(_elementwise, forward=_fold("operator.add")),
    "Multiply": Op(_elementwise, forward=_fold("operator.mul")),
    **{name: module_op(_activation, name) for name in ACTIVATIONS},
}
