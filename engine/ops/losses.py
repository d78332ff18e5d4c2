"""Loss ops: a scalar from the model output (`input`) and a Target (`target`).

The compiler builds each loss module apart from the model's `forward`
(`CompiledGraph.losses`), so no entry has a `forward` recipe."""

from __future__ import annotations

from engine.ops.base import Ctx, NodeInfo, Op, TensorSpec, fmt

_SCALAR = {"out": TensorSpec(())}


def _class_loss(ctx: Ctx, allow_probabilities: bool) -> NodeInfo:
    x, y = ctx.inputs["input"], ctx.inputs["target"]
    ctx.expect_float(x, "input")
    if not x.shape:
        raise ctx.fail("expects input [C] (class scores), got []; feed it the model's logits", "input")
    if y.dtype == "int64":
        if y.shape != x.shape[1:]:
            raise ctx.fail(f"target of class indices must have shape {fmt(x.shape[1:])} for input "
                           f"{fmt(x.shape)}, got {fmt(y.shape)}", "target")
    elif allow_probabilities:
        if y.shape != x.shape:
            raise ctx.fail(f"target of class probabilities must have the input's shape {fmt(x.shape)}, "
                           f"got {fmt(y.shape)}; or use int64 class indices", "target")
    else:
        raise ctx.fail(f"needs int64 class indices as target, got {y.dtype}", "target")
    return NodeInfo(_SCALAR)


def _regression_loss(ctx: Ctx) -> NodeInfo:
    x, y = ctx.inputs["input"], ctx.inputs["target"]
    ctx.expect_float(x, "input")
    if y.dtype != "float32":
        raise ctx.fail(f"needs a float32 target, got {y.dtype}; set the Target's dtype to float32", "target")
    if x.shape != y.shape:
        raise ctx.fail(f"input {fmt(x.shape)} and target {fmt(y.shape)} must have the same shape", "target")
    if "delta" in ctx.p:  # HuberLoss
        ctx.expect_positive("delta")
    return NodeInfo(_SCALAR)


REGRESSION = ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCEWithLogitsLoss", "BCELoss")

OPS = {
    "CrossEntropyLoss": Op(lambda c: _class_loss(c, True), "CrossEntropyLoss"),
    "NLLLoss": Op(lambda c: _class_loss(c, False), "NLLLoss"),
    **{name: Op(_regression_loss, name) for name in REGRESSION},
}
