"""Pooling ops over 1, 2 or 3 spatial dims: MaxPoolNd, AvgPoolNd, AdaptiveAvgPoolNd, AdaptiveMaxPoolNd.

Each rule is written once over the number of spatial dims `n`; the entries at the
bottom are those rules with their `n`.
"""

from __future__ import annotations

from engine.ops.base import Ctx, NodeInfo, TensorSpec, fmt, module_op
from engine.ops.convolution import layout


def pool(ctx: Ctx, n: int, avg: bool = False) -> NodeInfo:
    """MaxPoolNd (with dilation) or AvgPoolNd over [C, *n spatial dims]."""
    (x,) = ctx.inputs.values()
    ctx.expect_rank(x, (n + 1,), layout(n))
    ctx.expect_float(x)
    k = ctx.tuple("kernel_size", n)
    s = ctx.tuple("stride", n) or k
    p = ctx.tuple("padding", n)
    d = (1,) * n if avg else ctx.tuple("dilation", n)
    ceil = ctx.p["ceil_mode"]
    if avg and n == 3 and any(size < kernel for size, kernel in zip(x.shape[1:], k)):
        # torch's avg_pool3d (only it) checks the unpadded input against the kernel
        raise ctx.fail(f"input {fmt(x.shape)} is smaller than kernel_size {fmt(k)} before padding; "
                       "reduce kernel_size or remove a pooling layer before it")
    out = []
    for i in range(n):
        if p[i] > k[i] // 2:
            raise ctx.fail(f"padding ({p[i]}) must be at most half of kernel_size ({k[i]})")
        size = x.shape[1 + i]
        numerator = size + 2 * p[i] - d[i] * (k[i] - 1) - 1 + (s[i] - 1 if ceil else 0)
        o = numerator // s[i] + 1
        if ceil and (o - 1) * s[i] >= size + p[i]:
            o -= 1
        if o < 1:
            raise ctx.fail(f"input {fmt(x.shape)} is too small for kernel_size {k[i]}; "
                           "reduce kernel_size or remove a pooling layer before it")
        out.append(o)
    return NodeInfo({"out": TensorSpec((x.shape[0], *out))})


def adaptive_pool(ctx: Ctx, n: int) -> NodeInfo:
    """torch pools the last n dims and keeps every dim before them."""
    (x,) = ctx.inputs.values()
    if len(x.shape) not in (n, n + 1):
        raise ctx.fail(f"expects input {layout(n)}, got {fmt(x.shape)}")
    ctx.expect_float(x)
    return NodeInfo({"out": TensorSpec((*x.shape[:-n], *ctx.tuple("output_size", n)))})


def _entries(n: int) -> dict:
    return {
        f"MaxPool{n}d": module_op(lambda ctx: pool(ctx, n), f"MaxPool{n}d"),
        f"AvgPool{n}d": module_op(lambda ctx: pool(ctx, n, avg=True), f"AvgPool{n}d"),
        f"AdaptiveAvgPool{n}d": module_op(lambda ctx: adaptive_pool(ctx, n), f"AdaptiveAvgPool{n}d"),
        f"AdaptiveMaxPool{n}d": module_op(lambda ctx: adaptive_pool(ctx, n), f"AdaptiveMaxPool{n}d"),
    }


OPS = {name: op for n in (1, 2, 3) for name, op in _entries(n).items()}
