"""Positional encodings over [T, E], batch first: the input plus one vector per position.

- LearnedPositionalEncoding: an `nn.Embedding(max_len, E)` (its weight [max_len, E] is trained), looked up
  at positions 0..T-1.
- SinusoidalPositionalEncoding: the fixed encoding of "Attention Is All You Need", computed from the
  positions when the model runs (so there is nothing to train or store): sin(t * w_k) at 2k, cos(t * w_k)
  at 2k+1, w_k = exp(2k * -ln(10000) / E).
Positions are made on the input's device (`x.new_ones(T).cumsum(0) - 1`), so the model moves as a whole."""

from __future__ import annotations

import math

from engine.ops.base import Ctx, Emitter, NodeInfo, Op, fmt, module_op


def _rule(ctx: Ctx, learned: bool) -> NodeInfo:
    x = ctx.inputs["in"]
    ctx.expect_rank(x, (2,), "[T, E]", "; add a Reshape to make a sequence")
    ctx.expect_float(x)
    steps, size = x.shape
    if steps > ctx.p["max_len"]:
        raise ctx.fail(f"takes sequences of at most max_len={ctx.p['max_len']} steps, got {fmt(x.shape)}; "
                       "raise max_len")
    if not learned and size % 2:
        raise ctx.fail(f"needs an even size E (sines and cosines in pairs), got {fmt(x.shape)}")
    return NodeInfo({"out": x}, ctx.p["max_len"] * size if learned else 0, 0)


def _count_up(emit: Emitter, x, count, helper: str):
    """0.0, 1.0, ..., count - 1 on x's device (x.new_ones(count).cumsum(0) - 1)."""
    ones = emit.method("new_ones", (x, count), helper=f"{helper}_ones")
    return emit.function("operator.sub", (emit.method("cumsum", (ones, 0), helper=f"{helper}_cumsum"), 1),
                         helper=helper)


def _learned(emit: Emitter, params: dict, args: list):
    x = args[0]
    steps = emit.method("size", (x, 1), helper="steps")
    positions = emit.method("long", (_count_up(emit, x, steps, "position"),), helper="positions")
    return emit.function("operator.add", (x, emit.module((positions,), helper="table")))


def _sinusoidal(emit: Emitter, params: dict, args: list):
    x = args[0]
    steps, size = emit.method("size", (x, 1), helper="steps"), emit.method("size", (x, 2), helper="size")
    position = emit.method("unsqueeze", (_count_up(emit, x, steps, "position"), 1), helper="column")
    k = _count_up(emit, x, emit.function("operator.floordiv", (size, 2), helper="half"), "k")
    scale = emit.function("operator.truediv", (-math.log(10000.0), size), helper="scale")
    even = emit.function("operator.mul", (k, 2), helper="even")
    rate = emit.method("exp", (emit.function("operator.mul", (even, scale), helper="exponent"),), helper="rate")
    angle = emit.function("operator.mul", (position, rate), helper="angle")
    pairs = emit.function("torch.stack", ((emit.method("sin", (angle,), helper="sin"),
                                           emit.method("cos", (angle,), helper="cos")), -1), helper="pairs")
    return emit.function("operator.add", (x, emit.method("flatten", (pairs, -2), helper="encoding")))


OPS = {
    "LearnedPositionalEncoding": module_op(lambda c: _rule(c, True), "Embedding",
                                           kwargs=lambda k: {"num_embeddings": k.pop("max_len"), **k},
                                           forward=_learned),
    "SinusoidalPositionalEncoding": Op(lambda c: _rule(c, False), forward=_sinusoidal),
}
