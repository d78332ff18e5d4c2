"""Loss ops: a scalar from model outputs and Targets, on the ports the catalogue names.

Most losses take the model output on `input` and a Target on `target`; others take two or three
model outputs (`input1`/`input2`, `anchor`/`positive`/`negative`), a variance (`var`) or CTC's
`log_probs` and `targets`. The compiler builds each loss module apart from the model's `forward`
(`CompiledGraph.losses`) and `engine.loss_terms` applies it, so no entry has a `forward` recipe.
`loss_weight` is the trainer's, not the module's: every entry skips it."""

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


def _same_shape(ctx: Ctx, first: str, *others: str, float_ports=()) -> None:
    x = ctx.inputs[first]
    ctx.expect_float(x, first)
    for port in float_ports:
        if ctx.inputs[port].dtype != "float32":
            raise ctx.fail(f"needs a float32 {port}, got {ctx.inputs[port].dtype}; if a Target feeds it, set "
                           "its dtype to float32", port)
    for port in others:
        if ctx.inputs[port].shape != x.shape:
            raise ctx.fail(f"{first} {fmt(x.shape)} and {port} {fmt(ctx.inputs[port].shape)} must have the same "
                           "shape", port)


def _regression_loss(ctx: Ctx) -> NodeInfo:
    """Input and target of one shape, both float; an open optional target means zeros."""
    if "target" in ctx.inputs:
        _same_shape(ctx, "input", "target", float_ports=("target",))
    else:
        ctx.expect_float(ctx.inputs["input"], "input")
    if "delta" in ctx.p:  # HuberLoss
        ctx.expect_positive("delta")
    return NodeInfo(_SCALAR)


def _vectors(ctx: Ctx, *ports: str) -> None:
    """Model outputs that are one vector [D] per sample, all of one shape."""
    x = ctx.inputs[ports[0]]
    if len(x.shape) != 1:
        raise ctx.fail(f"expects {ports[0]} [D] (one vector per sample), got {fmt(x.shape)}; add a Flatten",
                       ports[0])
    _same_shape(ctx, ports[0], *ports[1:], float_ports=ports[1:])


def _gaussian_nll(ctx: Ctx) -> NodeInfo:
    _same_shape(ctx, "input", "target", float_ports=("target", "var"))
    x, var = ctx.inputs["input"].shape, ctx.inputs["var"].shape
    allowed = [x] + ([x[:-1], (*x[:-1], 1)] if x else [])
    if var not in allowed:
        raise ctx.fail(f"var {fmt(var)} must have the input's shape {fmt(x)}"
                       + (f", or {fmt(x[:-1])} / {fmt((*x[:-1], 1))} for one variance per sample" if x else ""),
                       "var")
    return NodeInfo(_SCALAR)


def _cosine_embedding(ctx: Ctx) -> NodeInfo:
    _vectors(ctx, "input1", "input2")
    if ctx.inputs["target"].shape != ():
        raise ctx.fail(f"expects target [] (1 or -1 per pair), got {fmt(ctx.inputs['target'].shape)}", "target")
    return NodeInfo(_SCALAR)


def _margin_ranking(ctx: Ctx) -> NodeInfo:
    _same_shape(ctx, "input1", "input2", "target", float_ports=("input2",))
    return NodeInfo(_SCALAR)


def _triplet(ctx: Ctx) -> NodeInfo:
    _vectors(ctx, "anchor", "positive", "negative")
    return NodeInfo(_SCALAR)


def _multi_label(ctx: Ctx) -> NodeInfo:
    if len(ctx.inputs["input"].shape) != 1:
        raise ctx.fail(f"expects input [C] (one score per label), got {fmt(ctx.inputs['input'].shape)}", "input")
    _same_shape(ctx, "input", "target", float_ports=("target",))
    return NodeInfo(_SCALAR)


def _multi_margin(ctx: Ctx) -> NodeInfo:
    x, y = ctx.inputs["input"], ctx.inputs["target"]
    ctx.expect_float(x, "input")
    if len(x.shape) != 1:
        raise ctx.fail(f"expects input [C] (class scores), got {fmt(x.shape)}", "input")
    if y.dtype != "int64" or y.shape != ():
        raise ctx.fail(f"needs int64 class indices [] as target, got {y.dtype} {fmt(y.shape)}", "target")
    return NodeInfo(_SCALAR)


def _ctc(ctx: Ctx) -> NodeInfo:
    x, y = ctx.inputs["log_probs"], ctx.inputs["targets"]
    ctx.expect_float(x, "log_probs")
    if len(x.shape) != 2:
        raise ctx.fail(f"expects log_probs [T, C] (a LogSoftmax over classes at each step), got {fmt(x.shape)}",
                       "log_probs")
    if y.dtype != "int64" or len(y.shape) != 1:
        raise ctx.fail(f"needs int64 targets [S] (labels padded with the blank index), got {y.dtype} "
                       f"{fmt(y.shape)}", "targets")
    if ctx.p["blank"] >= x.shape[1]:
        raise ctx.fail(f"blank={ctx.p['blank']} is not one of the {x.shape[1]} classes of log_probs", "log_probs")
    return NodeInfo(_SCALAR)


def _loss_op(rule, name: str) -> Op:
    return Op(rule, name, skip=("loss_weight",))


REGRESSION = ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCEWithLogitsLoss", "BCELoss",
              "KLDivLoss", "PoissonNLLLoss", "SoftMarginLoss")

OPS = {
    "CrossEntropyLoss": _loss_op(lambda c: _class_loss(c, True), "CrossEntropyLoss"),
    "NLLLoss": _loss_op(lambda c: _class_loss(c, False), "NLLLoss"),
    **{name: _loss_op(_regression_loss, name) for name in REGRESSION},
    "GaussianNLLLoss": _loss_op(_gaussian_nll, "GaussianNLLLoss"),
    "CosineEmbeddingLoss": _loss_op(_cosine_embedding, "CosineEmbeddingLoss"),
    "MarginRankingLoss": _loss_op(_margin_ranking, "MarginRankingLoss"),
    "TripletMarginLoss": _loss_op(_triplet, "TripletMarginLoss"),
    "MultiLabelSoftMarginLoss": _loss_op(_multi_label, "MultiLabelSoftMarginLoss"),
    "MultiMarginLoss": _loss_op(_multi_margin, "MultiMarginLoss"),
    "CTCLoss": _loss_op(_ctc, "CTCLoss"),
}
