"""Transformer layers and stacks over [T, d_model], batch first: TransformerEncoderLayer, TransformerEncoder
(num_layers encoder layers and an optional final LayerNorm), TransformerDecoderLayer and TransformerDecoder
(attending to `memory`).

torch builds a stack from a layer module (`Submodule`), so state_dict keys read like torch's own
(`layers.0.self_attn.in_proj_weight`, `norm.weight`). `causal` masks later positions of the input (the
target, for a decoder) with the square subsequent mask built from its length when the model runs."""

from __future__ import annotations

from engine.ops.base import Ctx, Emitter, NodeInfo, Submodule, fmt, module_op
from engine.ops.sequence import attention_size, causal_mask


def _sizes(ctx: Ctx, decoder: bool):
    x, t, e = attention_size(ctx, "nhead")
    ff, b = ctx.p["dim_feedforward"], 1 if ctx.p["bias"] else 0
    attentions, norms, s = (2, 3, t) if decoder else (1, 2, t)
    if decoder:
        memory = ctx.inputs["memory"]
        ctx.expect_float(memory, "memory")
        if len(memory.shape) != 2 or memory.shape[1] != e:
            raise ctx.fail(f"needs memory [S, {e}] (the encoder's output, of the input's d_model), got "
                           f"{fmt(memory.shape)}", "memory")
        s = memory.shape[0]
    params = attentions * (4 * e * e + 4 * e * b) + 2 * e * ff + (ff + e) * b + norms * e * (1 + b)
    macs = 4 * t * e * e + 2 * t * t * e + 2 * t * e * ff
    if decoder:  # cross-attention: queries and output from the target, keys and values from memory
        macs += 2 * t * e * e + 2 * s * e * e + 2 * t * s * e
    return x, e, b, params, macs


def _layer(ctx: Ctx, decoder: bool) -> NodeInfo:
    x, _, _, params, macs = _sizes(ctx, decoder)
    return NodeInfo({"out": x}, params, macs)


def _stack(ctx: Ctx, decoder: bool) -> NodeInfo:
    x, e, b, params, macs = _sizes(ctx, decoder)
    n = ctx.p["num_layers"]
    return NodeInfo({"out": x}, n * params + (e * (1 + b) if ctx.p["norm"] else 0), n * macs)


def _stack_kwargs(layer: str):
    """TransformerEncoder(encoder_layer=..., num_layers, norm=LayerNorm or None); the layer takes the rest."""
    def kwargs(given: dict) -> dict:
        given = dict(given)
        layers, norm = given.pop("num_layers"), given.pop("norm")
        final = Submodule("LayerNorm", {"normalized_shape": given["d_model"], "eps": given["layer_norm_eps"],
                                        "bias": given["bias"]}) if norm else None
        argument = "encoder_layer" if layer == "TransformerEncoderLayer" else "decoder_layer"
        built = {argument: Submodule(layer, given), "num_layers": layers, "norm": final}
        if argument == "encoder_layer":
            built["enable_nested_tensor"] = False  # its fast path needs a padding mask, which a node never has
        return built
    return kwargs


def _forward(mask_argument: str):
    """Call the module on its inputs (a decoder's: target, memory), with `causal`'s mask on `mask_argument`."""
    def forward(emit: Emitter, params: dict, args: list):
        return emit.module(args, {mask_argument: causal_mask(emit, args[0])} if params["causal"] else None)
    return forward


def _op(rule, module: str, mask_argument: str, **fields):
    return module_op(rule, module, skip=("causal",), batch_first=True, forward=_forward(mask_argument), **fields)


OPS = {
    "TransformerEncoderLayer": _op(lambda c: _layer(c, False), "TransformerEncoderLayer", "src_mask"),
    "TransformerEncoder": _op(lambda c: _stack(c, False), "TransformerEncoder", "mask",
                              kwargs=_stack_kwargs("TransformerEncoderLayer")),
    "TransformerDecoderLayer": _op(lambda c: _layer(c, True), "TransformerDecoderLayer", "tgt_mask"),
    "TransformerDecoder": _op(lambda c: _stack(c, True), "TransformerDecoder", "tgt_mask",
                              kwargs=_stack_kwargs("TransformerDecoderLayer")),
}
