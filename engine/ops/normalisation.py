"""Normalisation and regularisation ops: BatchNorm, LayerNorm, GroupNorm, Dropout."""

from __future__ import annotations

import math

from engine.ops.base import Ctx, NodeInfo, fmt, module_op


def _batchnorm(ctx: Ctx, ranks, layout) -> NodeInfo:
    (x,) = ctx.inputs.values()
    ctx.expect_rank(x, ranks, layout)
    ctx.expect_float(x)
    ctx.expect_positive("eps")  # in training mode
    params = 2 * x.shape[0] if ctx.p["affine"] else 0
    return NodeInfo({"out": x}, params)


def _layernorm(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    k = ctx.p["normalized_dims"]
    if len(x.shape) < k:
        raise ctx.fail(f"normalizes the last {k} dims but its input {fmt(x.shape)} has {len(x.shape)}; "
                       "lower normalized_dims")
    ctx.expect_float(x)
    features = math.prod(x.shape[len(x.shape) - k:])
    params = 0
    if ctx.p["elementwise_affine"]:
        params = features * (2 if ctx.p.get("bias") else 1)  # RMSNorm has no bias
    return NodeInfo({"out": x}, params)


def _groupnorm(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    if not x.shape:
        raise ctx.fail("expects input [C, *], got []")
    ctx.expect_float(x)
    c, g = x.shape[0], ctx.p["num_groups"]
    if c % g:
        raise ctx.fail(f"num_groups ({g}) must divide the channels ({c})")
    return NodeInfo({"out": x}, 2 * c if ctx.p["affine"] else 0)


def _dropout(ctx: Ctx, spatial: bool) -> NodeInfo:
    (x,) = ctx.inputs.values()
    if spatial:
        ctx.expect_rank(x, (3,), "[C, H, W]", "; use Dropout for other shapes")
    ctx.expect_float(x)
    return NodeInfo({"out": x})


OPS = {
    "BatchNorm1d": module_op(lambda c: _batchnorm(c, (1, 2), "[C] or [C, L]"), "BatchNorm1d"),
    "BatchNorm2d": module_op(lambda c: _batchnorm(c, (3,), "[C, H, W]"), "BatchNorm2d"),
    # normalized_shape is the input's trailing `normalized_dims` dims (see engine.modules)
    "LayerNorm": module_op(_layernorm, "LayerNorm", skip=("normalized_dims",)),
    "GroupNorm": module_op(_groupnorm, "GroupNorm"),
    "Dropout": module_op(lambda c: _dropout(c, False), "Dropout"),
    "Dropout2d": module_op(lambda c: _dropout(c, True), "Dropout2d"),
}
