"""Resampling and padding types, named after `torch.nn`: Upsample, PixelShuffle, PixelUnshuffle and
the Zero, Constant, Reflection and Replication pads over 1 and 2 dims."""

from __future__ import annotations

from graphs.node_type import (
    NodeType,
    bool_param,
    choice_param,
    float_param,
    int_param,
    shape_param,
    tuple_param,
)
from graphs.params import ParamSpec

CATEGORY = "Resampling and padding"
UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear")
_LAYOUTS = {1: "[C, L]", 2: "[C, H, W]"}


def _pad(kind: str, n: int, doc: str):
    params = [tuple_param("padding", 1, 2 * n, 0,
                          doc=f"an int for every side, or {2 * n} ints (left, right"
                              + (", top, bottom)" if n == 2 else ")"))]
    if kind == "Constant":
        params.append(float_param("value", 1.0, doc="the value padded in (a pad of zeros is ZeroPad)"))
    return NodeType(f"{kind}Pad{n}d", CATEGORY, tuple(params), doc=f"Pads the last {n} dim(s) of {_LAYOUTS[n]} "
                    f"{doc}.", key_params=tuple(p.name for p in params))


TYPES = [
    NodeType("Upsample", CATEGORY,
             (shape_param("size", None, "output size of the spatial dims: one int for all, or one per dim; "
                                        "set this or scale_factor"),
              ParamSpec("scale_factor", "float", 2.0, 0.0, optional=True,
                        doc="multiplier of every spatial size; set this or size"),
              choice_param("mode", "nearest", UPSAMPLE_MODES,
                           "nearest for any rank; linear [C, L], bilinear and bicubic [C, H, W], "
                           "trilinear [C, D, H, W]"),
              bool_param("align_corners", False, "interpolating modes only: align the corner pixels")),
             doc="Resizes [C, L], [C, H, W] or [C, D, H, W] by size or scale_factor.",
             key_params=("scale_factor", "mode")),
    NodeType("PixelShuffle", CATEGORY, (int_param("upscale_factor", 2, 1, 1024),),
             doc="Rearranges [C * r^2, H, W] into [C, H * r, W * r].", key_params=("upscale_factor",)),
    NodeType("PixelUnshuffle", CATEGORY, (int_param("downscale_factor", 2, 1, 1024),),
             doc="Rearranges [C, H * r, W * r] into [C * r^2, H, W].", key_params=("downscale_factor",)),
    *(_pad(kind, n, doc) for n in (1, 2) for kind, doc in (
        ("Zero", "with zeros"), ("Constant", "with a constant value"),
        ("Reflection", "with the reflection of the input at its border"),
        ("Replication", "by repeating its border values"))),
]
