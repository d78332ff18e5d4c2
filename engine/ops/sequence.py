"""Sequence ops over [T, features], batch first: LSTM, GRU, MultiheadAttention, TransformerEncoderLayer.

Their modules return tuples; each entry's `forward` recipe says which item the
node's output is (and, for `output="last"`, the final time step)."""

from __future__ import annotations

from engine.ops.base import Ctx, Emitter, NodeInfo, TensorSpec, module_op


def _recurrent(ctx: Ctx, gates: int) -> NodeInfo:
    (x,) = ctx.inputs.values()
    ctx.expect_rank(x, (2,), "[T, features]", "; add a Reshape or Permute to make a sequence")
    ctx.expect_float(x)
    h, layers, dirs = ctx.p["hidden_size"], ctx.p["num_layers"], 2 if ctx.p["bidirectional"] else 1
    t, params, macs = x.shape[0], 0, 0
    for layer in range(layers):
        f_in = x.shape[1] if layer == 0 else h * dirs
        per_dir = gates * h * (f_in + h) + (2 * gates * h if ctx.p["bias"] else 0)
        params += per_dir * dirs
        macs += t * dirs * gates * h * (f_in + h)
    shape = (h * dirs,) if ctx.p["output"] == "last" else (t, h * dirs)
    return NodeInfo({"out": TensorSpec(shape)}, params, macs)


def _attention_size(ctx: Ctx, heads_param: str):
    (x,) = ctx.inputs.values()
    ctx.expect_rank(x, (2,), "[T, E]", "; add a Reshape to make a sequence")
    ctx.expect_float(x)
    t, e = x.shape
    heads = ctx.p[heads_param]
    if e % heads:
        raise ctx.fail(f"{heads_param} ({heads}) must divide the embedding size ({e})")
    return x, t, e


def _mha(ctx: Ctx) -> NodeInfo:
    x, t, e = _attention_size(ctx, "num_heads")
    bias = ctx.p["bias"]
    params = 4 * e * e + (4 * e if bias else 0)
    return NodeInfo({"out": x}, params, 4 * t * e * e + 2 * t * t * e)


def _encoder_layer(ctx: Ctx) -> NodeInfo:
    x, t, e = _attention_size(ctx, "nhead")
    ff, bias = ctx.p["dim_feedforward"], ctx.p["bias"]
    b = 1 if bias else 0
    params = 4 * e * e + 4 * e * b + 2 * e * ff + (ff + e) * b + 2 * e * (1 + b)
    return NodeInfo({"out": x}, params, 4 * t * e * e + 2 * t * t * e + 2 * t * e * ff)


def _sequence_output(emit: Emitter, params: dict, args: list):
    """The output sequence (item 0 of (output, state)), or its last time step."""
    out = emit.item(emit.module(args), 0, "output")
    return emit.item(out, (slice(None), -1), "last") if params["output"] == "last" else out


def _self_attention(emit: Emitter, params: dict, args: list):
    """attn(x, x, x) without the attention weights; the output is item 0."""
    x = args[0]
    return emit.item(emit.module((x, x, x), {"need_weights": False}), 0, "output")


def _single_layer_dropout(kwargs: dict) -> dict:
    if kwargs["num_layers"] == 1:
        kwargs["dropout"] = 0.0  # torch warns about dropout on a single layer; it has no effect there
    return kwargs


def _recurrent_op(gates: int, name: str):
    return module_op(lambda c: _recurrent(c, gates), name, skip=("output",), kwargs=_single_layer_dropout,
                     batch_first=True, forward=_sequence_output)


OPS = {
    "LSTM": _recurrent_op(4, "LSTM"),
    "GRU": _recurrent_op(3, "GRU"),
    "MultiheadAttention": module_op(_mha, "MultiheadAttention", batch_first=True, forward=_self_attention),
    "TransformerEncoderLayer": module_op(_encoder_layer, "TransformerEncoderLayer", batch_first=True),
}
