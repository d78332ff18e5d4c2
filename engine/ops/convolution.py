"""Dense and convolution ops: Linear, Embedding, and convolutions over 1, 2 or 3 spatial dims.

The convolution rule is written once over the number of spatial dims `n` (as
Keras' `BaseConv` is over its rank); each ConvNd / ConvTransposeNd entry is that
rule with its `n`. The formulas are torch's own shape checks.
"""

from __future__ import annotations

import math

from engine.ops.base import Ctx, NodeInfo, TensorSpec, module_op

SPATIAL_AXES = {1: "L", 2: "HW", 3: "DHW"}


def layout(n: int) -> str:
    """`[C, L]`, `[C, H, W]` or `[C, D, H, W]`: a channels-first input with n spatial dims."""
    return "[" + ", ".join(["C", *SPATIAL_AXES[n]]) + "]"


def _conv_out(ctx: Ctx, size, k, s, p, d, axis: str) -> int:
    effective = d * (k - 1) + 1
    if size + 2 * p < effective:
        raise ctx.fail(f"kernel (effective size {effective}) is larger than the padded input "
                       f"({size} + 2*{p} along {axis}); reduce kernel_size or dilation, or add padding")
    return (size + 2 * p - effective) // s + 1


def _padding_fits(ctx: Ctx, size: int, padding: int) -> None:
    mode = ctx.p.get("padding_mode", "zeros")
    if mode == "reflect" and padding >= size:
        raise ctx.fail(f"padding_mode 'reflect' needs padding < input size ({padding} >= {size})")
    if mode == "circular" and padding > size:
        raise ctx.fail(f"padding_mode 'circular' needs padding <= input size ({padding} > {size})")


def _transposed_out(ctx: Ctx, i: int, size, k, s, p, d, axis: str) -> int:
    extra = ctx.tuple("output_padding", len(k))[i]
    if extra >= max(s[i], d[i]):
        raise ctx.fail(f"output_padding ({extra}) must be smaller than stride ({s[i]}) or dilation ({d[i]})")
    out = (size - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + extra + 1
    if out < 1:
        raise ctx.fail(f"output size along {axis} would be {out}; reduce padding or use a larger input")
    return out


def conv(ctx: Ctx, n: int, transpose: bool = False) -> NodeInfo:
    """ConvNd / ConvTransposeNd over [C, *n spatial dims]."""
    (x,) = ctx.inputs.values()
    hint = "; remove the Flatten before it, or use Linear" if len(x.shape) < n + 1 else ""
    ctx.expect_rank(x, (n + 1,), layout(n), hint)
    ctx.expect_float(x)
    c_in, spatial = x.shape[0], x.shape[1:]
    k, s, p, d = (ctx.tuple(name, n) for name in ("kernel_size", "stride", "padding", "dilation"))
    groups, c_out = ctx.p["groups"], ctx.p["out_channels"]
    if c_in % groups or c_out % groups:
        raise ctx.fail(f"groups={groups} must divide both in_channels ({c_in}) and out_channels ({c_out})")
    axes = SPATIAL_AXES[n]
    out = []
    for i in range(n):
        if transpose:
            out.append(_transposed_out(ctx, i, spatial[i], k, s, p, d, axes[i]))
        else:
            _padding_fits(ctx, spatial[i], p[i])
            out.append(_conv_out(ctx, spatial[i], k[i], s[i], p[i], d[i], axes[i]))
    kernel = math.prod(k)
    bias = c_out if ctx.p["bias"] else 0
    weights = c_in * (c_out // groups) * kernel if transpose else c_out * (c_in // groups) * kernel
    macs = (math.prod(spatial) if transpose else math.prod(out)) * weights
    return NodeInfo({"out": TensorSpec((c_out, *out))}, weights + bias, macs)


def _linear(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    if not x.shape:
        raise ctx.fail("expects input [*, features], got a scalar per sample []")
    ctx.expect_float(x)
    f_in, f_out = x.shape[-1], ctx.p["out_features"]
    lead = math.prod(x.shape[:-1])
    params = f_in * f_out + (f_out if ctx.p["bias"] else 0)
    return NodeInfo({"out": TensorSpec((*x.shape[:-1], f_out))}, params, lead * f_in * f_out)


def _embedding(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    if x.dtype != "int64":
        raise ctx.fail(f"needs int64 indices, got {x.dtype}; set the Input's dtype to int64, or cast with a ToDtype "
                       "node (dtype int64)")
    num, dim, pad = ctx.p["num_embeddings"], ctx.p["embedding_dim"], ctx.p["padding_idx"]
    if num is None:
        raise ctx.fail("num_embeddings is None, so it takes the vocabulary size of a text dataset (text_csv), "
                       "and none is chosen; choose one in the Data panel, or set num_embeddings")
    if pad is not None and not -num <= pad < num:
        raise ctx.fail(f"padding_idx ({pad}) must be within num_embeddings ({num})")
    return NodeInfo({"out": TensorSpec((*x.shape, dim))}, num * dim)


def _conv_op(n: int, transpose: bool):
    name = f"{'ConvTranspose' if transpose else 'Conv'}{n}d"
    return name, module_op(lambda ctx: conv(ctx, n, transpose), name)


OPS = {
    "Linear": module_op(_linear, "Linear"),
    **dict(_conv_op(n, transpose) for transpose in (False, True) for n in (1, 2, 3)),
    "Embedding": module_op(_embedding, "Embedding"),
}

