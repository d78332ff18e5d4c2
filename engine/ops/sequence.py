"""Sequence ops over [T, features], batch first: RNN, LSTM, GRU, MultiheadAttention (the Transformer layers
are in `engine.ops.transformer`).

Their modules return tuples; each entry's `forward` recipe says which item the
node's output is (and, for `output="last"`, the final time step). A recurrent node's
states are batch first too: [num_layers * directions, hidden_size] per sample on `h0`/`c0`
and `h_n`/`c_n`, transposed to and from torch's [layers, batch, hidden] around the module.
`causal` builds the square subsequent mask from the input's length when the model runs."""

from __future__ import annotations

from engine.ops.base import Ctx, Emitter, NodeInfo, TensorSpec, fmt, module_op


def _recurrent(ctx: Ctx, gates: int) -> NodeInfo:
    x = ctx.inputs["in"]
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
    state = TensorSpec((layers * dirs, h))
    ports = ("h_n", "c_n") if gates == 4 else ("h_n",)
    given = [port for port in ("h0", "c0") if port in ctx.inputs]
    if gates == 4 and len(given) == 1:
        raise ctx.fail(f"has '{given[0]}' wired but not '{({'h0', 'c0'} - set(given)).pop()}': an LSTM's initial "
                       "state needs both (or neither, for zeros)", given[0])
    for port in given:
        ctx.expect_float(ctx.inputs[port], port)
        if ctx.inputs[port].shape != state.shape:
            raise ctx.fail(f"needs its initial state '{port}' as {fmt(state.shape)} (num_layers * directions, "
                           f"hidden_size), got {fmt(ctx.inputs[port].shape)}", port)
    return NodeInfo({"out": TensorSpec(shape), **dict.fromkeys(ports, state)}, params, macs)


def attention_size(ctx: Ctx, heads_param: str):
    x = ctx.inputs["in"]
    ctx.expect_rank(x, (2,), "[T, E]", "; add a Reshape to make a sequence")
    ctx.expect_float(x)
    t, e = x.shape
    heads = ctx.p[heads_param]
    if e % heads:
        raise ctx.fail(f"{heads_param} ({heads}) must divide the embedding size ({e})")
    return x, t, e


def _mha(ctx: Ctx) -> NodeInfo:
    x, t, e = attention_size(ctx, "num_heads")
    bias = ctx.p["bias"]
    params = 4 * e * e + (4 * e if bias else 0)
    return NodeInfo({"out": x}, params, 4 * t * e * e + 2 * t * t * e)


def _time_first(emit: Emitter, state, helper: str):
    return emit.method("contiguous", (emit.method("transpose", (state, 0, 1), helper=f"{helper}_t"),), helper=helper)


def _recurrent_outputs(emit: Emitter, params: dict, args: list):
    """The output sequence (item 0 of (output, state)) or its last time step on `out`, the final state on
    `h_n` (and `c_n`); an initial state, when wired, goes in as torch's second argument. The compiler drops
    the state's steps when nothing uses them."""
    x, *initial = args
    cell = len(initial) == 2  # LSTM: (h0, c0)
    call = [x]
    if any(state is not None for state in initial):
        states = [_time_first(emit, state, f"{port}_in") for state, port in zip(initial, ("h0", "c0"))]
        call.append(tuple(states) if cell else states[0])
    result = emit.module(call)
    out = emit.item(result, 0, "output")
    outputs = {"out": emit.item(out, (slice(None), -1), "last") if params["output"] == "last" else out}
    state = emit.item(result, 1, "state")
    for i, port in enumerate(("h_n", "c_n") if cell else ("h_n",)):
        final = emit.item(state, i, f"{port}_t") if cell else state
        outputs[port] = emit.method("transpose", (final, 0, 1), helper=port)
    return outputs


def causal_mask(emit: Emitter, x):
    """The square subsequent mask for x's length: True above the diagonal (a later position, not attended)."""
    steps = emit.method("size", (x, 1), helper="steps")
    ones = emit.method("new_ones", (x, steps, steps), helper="ones")
    return emit.method("bool", (emit.method("triu", (ones, 1), helper="upper"),), helper="causal_mask")


def _self_attention(emit: Emitter, params: dict, args: list):
    """attn(x, x, x) without the attention weights; the output is item 0."""
    x = args[0]
    kwargs = {"need_weights": False}
    if params["causal"]:
        kwargs["attn_mask"] = causal_mask(emit, x)
    return emit.item(emit.module((x, x, x), kwargs), 0, "output")


def _single_layer_dropout(kwargs: dict) -> dict:
    if kwargs["num_layers"] == 1:
        kwargs["dropout"] = 0.0  # torch warns about dropout on a single layer; it has no effect there
    return kwargs


def _recurrent_op(gates: int, name: str):
    return module_op(lambda c: _recurrent(c, gates), name, skip=("output",), kwargs=_single_layer_dropout,
                     batch_first=True, forward=_recurrent_outputs)


OPS = {
    "RNN": _recurrent_op(1, "RNN"),
    "LSTM": _recurrent_op(4, "LSTM"),
    "GRU": _recurrent_op(3, "GRU"),
    "MultiheadAttention": module_op(_mha, "MultiheadAttention", batch_first=True, forward=_self_attention,
                                    skip=("causal",)),
}
