"""Op entries of the resampling and padding family (graphs/families/resampling.py): Upsample,
PixelShuffle, PixelUnshuffle and the pads. The rules follow torch's own checks: the modes each rank
takes, size or scale_factor (exactly one), channels divisible by the square of the factor, reflection
padding smaller than the input."""

from __future__ import annotations

import math

from engine.ops.base import Ctx, NodeInfo, TensorSpec, fmt, module_op

# mode -> the number of spatial dims it takes (None: any of 1, 2, 3)
MODE_SPATIAL = {"nearest": None, "linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_LAYOUTS = {1: "[C, L]", 2: "[C, H, W]", 3: "[C, D, H, W]"}
_PAD_LAYOUTS = {1: "[L] or [C, L]", 2: "[H, W] or [C, H, W]"}  # what reflection and replication pads take


def _upsample(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    ctx.expect_float(x)
    mode, size, scale = ctx.p["mode"], ctx.p["size"], ctx.p["scale_factor"]
    n = len(x.shape) - 1
    wanted = MODE_SPATIAL[mode]
    if n not in (1, 2, 3) or wanted not in (None, n):
        layouts = " or ".join(_LAYOUTS[k] for k in ((1, 2, 3) if wanted is None else (wanted,)))
        raise ctx.fail(f"in mode '{mode}' expects input {layouts}, got {fmt(x.shape)}")
    if (size is None) == (scale is None):
        raise ctx.fail("needs exactly one of size and scale_factor; clear the other" if size is not None else
                       "needs size or scale_factor")
    if ctx.p["align_corners"] and wanted is None:
        raise ctx.fail("can only align corners in the interpolating modes (linear, bilinear, bicubic, trilinear); "
                       "turn align_corners off for mode 'nearest'")
    spatial = x.shape[1:]
    if size is not None:
        if len(size) not in (1, n):
            raise ctx.fail(f"has size {fmt(size)}, but its input {fmt(x.shape)} has {n} spatial dim(s); "
                           f"give one size or {n}")
        out = tuple(size) * n if len(size) == 1 else tuple(size)
    else:
        out = tuple(math.floor(float(d) * scale) for d in spatial)
    if min(out) < 1:
        raise ctx.fail(f"would output spatial size {fmt(out)} from {fmt(spatial)}; every size must be at least 1")
    return NodeInfo({"out": TensorSpec((x.shape[0], *out))})


def _upsample_kwargs(kwargs: dict) -> dict:
    size = kwargs["size"]
    if size is not None and len(size) == 1:
        kwargs["size"] = size[0]
    if MODE_SPATIAL[kwargs["mode"]] is None and not kwargs["align_corners"]:
        kwargs["align_corners"] = None  # torch takes align_corners only in the interpolating modes
    return kwargs


def _pixel_shuffle(ctx: Ctx, up: bool) -> NodeInfo:
    (x,) = ctx.inputs.values()
    ctx.expect_rank(x, (3,), "[C, H, W]")
    c, h, w = x.shape
    if up:
        r = ctx.p["upscale_factor"]
        if c % (r * r):
            raise ctx.fail(f"needs channels divisible by upscale_factor squared ({r * r}), got {c} in {fmt(x.shape)}")
        out = (c // (r * r), h * r, w * r)
    else:
        r = ctx.p["downscale_factor"]
        if h % r or w % r:
            raise ctx.fail(f"needs height and width divisible by downscale_factor ({r}), got {fmt(x.shape)}")
        out = (c * r * r, h // r, w // r)
    return NodeInfo({"out": TensorSpec(out, x.dtype)})


def _pad(ctx: Ctx, n: int, kind: str) -> NodeInfo:
    (x,) = ctx.inputs.values()
    if kind in ("Reflection", "Replication"):
        ctx.expect_rank(x, (n, n + 1), _PAD_LAYOUTS[n])
        ctx.expect_float(x)
    pads = ctx.tuple("padding", 2 * n)
    shape = list(x.shape)
    for i in range(n):
        before, after = pads[2 * i], pads[2 * i + 1]
        if i >= len(shape) and (before or after or i > len(shape)):  # torch would pad the batch
            raise ctx.fail(f"pads the last {n} dims, but its input {fmt(x.shape)} has {len(x.shape)}; "
                           "padding more would pad the batch")
        if i >= len(shape):
            continue
        size = shape[-1 - i]
        if kind == "Reflection" and max(before, after) >= size:
            raise ctx.fail(f"reflects at most {size - 1} values of a dim of size {size}, but padding is "
                           f"({before}, {after}) there; lower the padding (torch needs it smaller than the input)")
        shape[-1 - i] = size + before + after
    return NodeInfo({"out": TensorSpec(tuple(shape), x.dtype)})


OPS = {
    "Upsample": module_op(_upsample, "Upsample", kwargs=_upsample_kwargs),
    "PixelShuffle": module_op(lambda c: _pixel_shuffle(c, True), "PixelShuffle"),
    "PixelUnshuffle": module_op(lambda c: _pixel_shuffle(c, False), "PixelUnshuffle"),
    **{f"{kind}Pad{n}d": module_op(lambda c, n=n, kind=kind: _pad(c, n, kind), f"{kind}Pad{n}d")
       for n in (1, 2) for kind in ("Zero", "Constant", "Reflection", "Replication")},
}
