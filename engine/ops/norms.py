"""Op entries of the normalisation family (graphs/families/normalisation.py): BatchNorm3d,
InstanceNorm1d/2d, RMSNorm, LocalResponseNorm, Dropout1d, Dropout3d and AlphaDropout. Each keeps its
input's shape."""

from __future__ import annotations

import math

from engine.ops.base import Ctx, NodeInfo, fmt, module_op
from engine.ops.normalisation import _batchnorm, _layernorm


def _instancenorm(ctx: Ctx, rank: int, layout: str) -> NodeInfo:
    (x,) = ctx.inputs.values()
    ctx.expect_rank(x, (rank,), layout)
    ctx.expect_float(x)
    if math.prod(x.shape[1:]) == 1:
        raise ctx.fail(f"normalises each channel over its {layout[4:-1]} values, but its input {fmt(x.shape)} has "
                       "only one per channel; torch refuses it when training")
    return NodeInfo({"out": x}, 2 * x.shape[0] if ctx.p["affine"] else 0)


def _local_response_norm(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    if len(x.shape) < 2:
        raise ctx.fail(f"expects input [C, *] with at least one dim after the channels, got {fmt(x.shape)}")
    ctx.expect_float(x)
    return NodeInfo({"out": x})


def _dropout(ctx: Ctx, ranks, layout: str) -> NodeInfo:
    (x,) = ctx.inputs.values()
    if ranks:
        ctx.expect_rank(x, ranks, layout, "; use Dropout for other shapes")
    ctx.expect_float(x)
    return NodeInfo({"out": x})


OPS = {
    "BatchNorm3d": module_op(lambda c: _batchnorm(c, (4,), "[C, D, H, W]"), "BatchNorm3d"),
    "InstanceNorm1d": module_op(lambda c: _instancenorm(c, 2, "[C, L]"), "InstanceNorm1d"),
    "InstanceNorm2d": module_op(lambda c: _instancenorm(c, 3, "[C, H, W]"), "InstanceNorm2d"),
    # normalized_shape is the input's trailing `normalized_dims` dims (see engine.modules)
    "RMSNorm": module_op(_layernorm, "RMSNorm", skip=("normalized_dims",)),
    "LocalResponseNorm": module_op(_local_response_norm, "LocalResponseNorm"),
    "Dropout1d": module_op(lambda c: _dropout(c, (2,), "[C, L]"), "Dropout1d"),
    "Dropout3d": module_op(lambda c: _dropout(c, (4,), "[C, D, H, W]"), "Dropout3d"),
    "AlphaDropout": module_op(lambda c: _dropout(c, (), ""), "AlphaDropout"),
}
