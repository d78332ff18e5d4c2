"""Calls of submodules (`call_module`): each catalogue module type, its params read from the
module, and its sizes checked against those Neurocanvas infers from the traced input.

`MODULE_TYPES` maps an nn.Module type to a reader returning (catalogue type,
params, the module's own sizes to check). A mixin of `TorchImporter`.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import fx, nn

from engine.importers.common import Refuse, Value, compact_ints
from engine.importers.torch_mapping import family_calls
from engine.importers.torch_mapping.masks import causal_kwargs
from engine.importers.torch_mapping.values import LayerTuple, RecurrentState
from engine.modules import constructor
from engine.ops.base import Submodule
from engine.shape_rules import TensorSpec
from graphs.catalogue import CATALOGUE
from graphs.node_type import SHARES

RECURRENT = ("RNN", "LSTM", "GRU")
DECODERS = ("TransformerDecoderLayer", "TransformerDecoder")  # called on (target, memory)


class ModuleCalls:
    def _module(self, node, module):
        """One node per call. A module with weights called again makes a node that shares the weights of its
        first call's node (a stateless one, such as a ResNet block's one `self.relu`, simply repeats)."""
        type_name, params, extra_args = MODULE_TYPES[type(module)](module)
        owner = self.weight_owner.get(node.target)
        if owner is not None:
            params = {**params, SHARES: owner}
        kwargs, mask = causal_kwargs(self.env, type_name, node.kwargs)
        args = list(node.args)
        states = []
        if type_name in RECURRENT and len(args) == 2 and not any(v is not None for v in kwargs.values()):
            states = self._initial_state(type_name, args.pop())
        if type_name == "MultiheadAttention":
            if len(args) < 3 or not (args[0] is args[1] is args[2]):
                raise Refuse(": only self-attention, attn(x, x, x), maps to MultiheadAttention")
            bad = {k: v for k, v in kwargs.items() if k not in ("need_weights", "average_attn_weights")
                   and v is not None}
            if len(args) > 3 or bad:
                raise Refuse(f": masks and extra arguments ({', '.join(bad) or 'positional'}) are not imported")
            args = args[:1]
        elif type_name in DECODERS and len(args) == 2 and not any(v is not None for v in kwargs.values()):
            states = [self.tensor(args.pop(), "its memory")]
        elif len(args) != 1 or any(v is not None for v in kwargs.values()):
            raise Refuse(": it is called with more than one input (e.g. an initial state or a mask other than "
                         "a causal one)")
        x = self.tensor(args[0])
        if mask is not None:
            if not x.spec.shape or mask.size != x.spec.shape[0]:
                raise Refuse(f": its causal mask is {mask.size}x{mask.size}, not the length of its input "
                             f"{list(x.spec.shape)}")
            params["causal"] = True
        weights = {k: v.detach().clone() for k, v in module.state_dict().items()} if owner is None else {}
        value = self.add(type_name, params, [x, *states], node, weights)
        self._check_sizes(node, module, type_name, value.node, x, extra_args)
        if owner is None and self.module_calls[node.target] > 1 and weights:
            self.weight_owner[node.target] = value.node
        if type_name in RECURRENT:
            return LayerTuple(value.node, "rnn", value.spec)
        if type_name == "MultiheadAttention":
            return LayerTuple(value.node, "attention", value.spec)
        return value

    def _initial_state(self, type_name: str, arg) -> list[Value]:
        """The values on h0 (and c0): final states of other recurrent layers, whole or (for an LSTM) as a pair."""
        wanted = 2 if type_name == "LSTM" else 1
        bound = self.env.get(arg) if isinstance(arg, fx.Node) else None
        parts = [bound] if isinstance(bound, RecurrentState) and len(bound.ports) == wanted else \
            [self.env.get(a) if isinstance(a, fx.Node) else None for a in arg] \
            if isinstance(arg, (tuple, list)) and len(arg) == wanted else []
        if not parts or not all(isinstance(part, RecurrentState) and not part.batch_first for part in parts):
            raise Refuse(": its initial state is not another recurrent layer's final state; only that maps "
                         "(wired to h0" + (", c0)" if wanted == 2 else ")"))
        ports = [port for part in parts for port in part.ports]
        nodes = [part.node for part in parts for _ in part.ports]
        return [Value(n, parts[0].spec, port) for n, port in zip(nodes, ports)]

    def final_state(self, node_id: str) -> RecurrentState:
        """Item 1 of a recurrent layer's result: (h_n, c_n) for an LSTM, h_n otherwise."""
        pending = self.builder.nodes[node_id]
        params = CATALOGUE[pending.type].resolve_params(pending.params)
        spec = TensorSpec((params["num_layers"] * (2 if params["bidirectional"] else 1), params["hidden_size"]))
        return RecurrentState(node_id, ("h_n", "c_n") if pending.type == "LSTM" else ("h_n",), spec)

    def _check_sizes(self, node, module, type_name, node_id, x: Value, extra_args: dict) -> None:
        """Every size Neurocanvas infers from the traced input (in_features, in_channels, ...) must equal the
        module's own."""
        pending = self.builder.nodes[node_id]
        spec = CATALOGUE[type_name]
        resolved = spec.resolve_params(pending.params)
        _, kwargs = constructor(type_name, resolved, {port: x.spec for port in spec.input_ports(resolved)})
        for inner in [v for v in kwargs.values() if isinstance(v, Submodule)]:  # a stack's layer holds d_model
            kwargs = {**inner.kwargs, **kwargs}
        wrong = []
        for key, theirs in extra_args.items():
            ours = kwargs.get(key)
            if _normal(ours, theirs) != _normal(theirs, ours):
                wrong.append(f"{key} is {_show(theirs)} in the module but {_show(ours)} from the traced input "
                             f"{list(x.spec.shape)}")
        if wrong:
            self.builder.nodes.pop(node_id)
            raise Refuse(": " + "; ".join(wrong) + " (check --input-shape)")


def _refuse_if(condition: bool, message: str) -> None:
    if condition:
        raise Refuse(message)


def _conv_padding(module) -> object:
    if isinstance(module.padding, str):
        if module.padding == "valid":
            return 0
        pads = []
        for k, d in zip(module.kernel_size, module.dilation):
            total = d * (k - 1)
            _refuse_if(total % 2 == 1, ": padding='same' pads unevenly here; Neurocanvas pads both sides equally")
            pads.append(total // 2)
        return compact_ints(pads)
    return compact_ints(module.padding)


def _conv(module):
    params = {"out_channels": module.out_channels, "kernel_size": compact_ints(module.kernel_size),
              "stride": compact_ints(module.stride), "padding": _conv_padding(module), "dilation": compact_ints(module.dilation),
              "groups": module.groups, "bias": module.bias is not None}
    name = type(module).__name__
    if name.startswith("ConvTranspose"):
        params["output_padding"] = compact_ints(module.output_padding)
        _refuse_if(module.padding_mode != "zeros", ": padding_mode other than 'zeros' is not imported")
    else:
        params["padding_mode"] = module.padding_mode
    return name, params, {"in_channels": module.in_channels}


def _pool(module):
    name = type(module).__name__
    _refuse_if(getattr(module, "return_indices", False), ": return_indices=True is not imported")
    _refuse_if(getattr(module, "divisor_override", None) is not None, ": divisor_override is not imported")
    params = {"kernel_size": compact_ints(module.kernel_size),
              "stride": compact_ints(module.stride if module.stride not in (None, (), []) else module.kernel_size),
              "padding": compact_ints(module.padding), "ceil_mode": bool(module.ceil_mode)}
    if name.startswith("Max"):
        params["dilation"] = compact_ints(module.dilation)
    else:
        params["count_include_pad"] = bool(module.count_include_pad)
    return name, params, {}


def _adaptive_pool(module):
    _refuse_if(getattr(module, "return_indices", False), ": return_indices=True is not imported")
    sizes = module.output_size if isinstance(module.output_size, (list, tuple)) else [module.output_size]
    _refuse_if(any(size is None for size in sizes), ": an output_size of None is not imported")
    return type(module).__name__, {"output_size": compact_ints(sizes)}, {}


def _batchnorm(module):
    _refuse_if(module.momentum is None, ": momentum=None (a cumulative average) is not imported")
    return type(module).__name__, {"eps": float(module.eps), "momentum": float(module.momentum),
                                   "affine": module.affine, "track_running_stats": module.track_running_stats}, \
        {"num_features": module.num_features}


def _layernorm(module):
    return "LayerNorm", {"normalized_dims": len(module.normalized_shape), "eps": float(module.eps),
                         "elementwise_affine": module.elementwise_affine,
                         "bias": getattr(module, "bias", None) is not None or not module.elementwise_affine}, \
        {"normalized_shape": tuple(module.normalized_shape)}


def _recurrent(module):
    _refuse_if(not module.batch_first, ": batch_first=False; Neurocanvas's recurrent layers take [batch, T, "
                                       "features] (batch_first=True)")
    _refuse_if(getattr(module, "proj_size", 0), ": proj_size is not imported")
    params = {"hidden_size": module.hidden_size, "num_layers": module.num_layers, "bias": module.bias,
              "dropout": float(module.dropout), "bidirectional": module.bidirectional, "output": "sequence"}
    if isinstance(module, nn.RNN):
        params["nonlinearity"] = module.nonlinearity
    return type(module).__name__, params, {"input_size": module.input_size}


def _attention(module):
    _refuse_if(not module.batch_first, ": batch_first=False; Neurocanvas's attention takes [batch, T, E]")
    _refuse_if(not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn,
               ": kdim/vdim, add_bias_kv and add_zero_attn are not imported")
    return "MultiheadAttention", {"num_heads": module.num_heads, "dropout": float(module.dropout),
                                  "bias": module.in_proj_bias is not None}, {"embed_dim": module.embed_dim}


def _encoder_layer(module):
    return "TransformerEncoderLayer", _layer_params(module), {"d_model": module.self_attn.embed_dim}


def _decoder_layer(module):
    return "TransformerDecoderLayer", _layer_params(module), {"d_model": module.self_attn.embed_dim}


def _stack(module):
    """TransformerEncoder / TransformerDecoder: its layers (all alike) and its optional final LayerNorm."""
    layer_type, params, sizes = MODULE_TYPES[type(module.layers[0])](module.layers[0])
    _refuse_if(any(_layer_params(layer) != params for layer in module.layers),
               ": its layers differ from each other; a Neurocanvas stack repeats one layer's settings")
    norm = module.norm
    if norm is not None:
        _refuse_if(not isinstance(norm, nn.LayerNorm) or norm.normalized_shape != (sizes["d_model"],)
                   or not norm.elementwise_affine, ": its final norm is not a LayerNorm over d_model")
        _refuse_if(round(float(norm.eps), 12) != round(params["layer_norm_eps"], 12)
                   or (norm.bias is not None) != params["bias"],
                   ": its final LayerNorm's eps or bias differ from its layers' (layer_norm_eps, bias)")
    stack = {"num_layers": len(module.layers), "norm": norm is not None}
    return layer_type.replace("Layer", ""), {**params, **stack}, sizes


def _layer_params(module):
    _refuse_if(not module.self_attn.batch_first, ": batch_first=False; Neurocanvas's Transformer layers take "
                                                 "[batch, T, E]")
    activation = module.activation
    if activation in (F.relu,) or isinstance(activation, nn.ReLU):
        act = "relu"
    elif activation in (F.gelu,) or (isinstance(activation, nn.GELU) and activation.approximate == "none"):
        act = "gelu"
    else:
        raise Refuse(f": activation {activation} is not relu or gelu")
    params = {"nhead": module.self_attn.num_heads, "dim_feedforward": module.linear1.out_features,
              "dropout": float(module.dropout.p), "activation": act, "layer_norm_eps": float(module.norm1.eps),
              "norm_first": module.norm_first, "bias": module.linear1.bias is not None}
    return params


def _embedding(module):
    _refuse_if(module.max_norm is not None, ": max_norm is not imported")
    _refuse_if(module.scale_grad_by_freq or module.sparse, ": scale_grad_by_freq / sparse are not imported")
    return "Embedding", {"num_embeddings": module.num_embeddings, "embedding_dim": module.embedding_dim,
                         "padding_idx": module.padding_idx}, {}


def _simple(type_name, *attributes):
    def read(module):
        params = {}
        for attribute in attributes:
            value = getattr(module, attribute)
            if attribute == "dim" and value is None:
                raise Refuse(": dim is None (torch's implicit dim); give dim explicitly")
            params[attribute] = float(value) if isinstance(value, float) else value
        return type_name, params, {}
    return read


MODULE_TYPES = {
    nn.Linear: lambda m: ("Linear", {"out_features": m.out_features, "bias": m.bias is not None},
                          {"in_features": m.in_features}),
    nn.Conv1d: _conv, nn.Conv2d: _conv, nn.Conv3d: _conv,
    nn.ConvTranspose1d: _conv, nn.ConvTranspose2d: _conv, nn.ConvTranspose3d: _conv,
    nn.Embedding: _embedding,
    nn.MaxPool1d: _pool, nn.MaxPool2d: _pool, nn.MaxPool3d: _pool,
    nn.AvgPool1d: _pool, nn.AvgPool2d: _pool, nn.AvgPool3d: _pool,
    nn.AdaptiveAvgPool1d: _adaptive_pool, nn.AdaptiveAvgPool2d: _adaptive_pool, nn.AdaptiveAvgPool3d: _adaptive_pool,
    nn.AdaptiveMaxPool1d: _adaptive_pool, nn.AdaptiveMaxPool2d: _adaptive_pool, nn.AdaptiveMaxPool3d: _adaptive_pool,
    nn.BatchNorm1d: _batchnorm, nn.BatchNorm2d: _batchnorm, nn.LayerNorm: _layernorm,
    nn.GroupNorm: lambda m: ("GroupNorm", {"num_groups": m.num_groups, "eps": float(m.eps), "affine": m.affine},
                             {"num_channels": m.num_channels}),
    nn.Dropout: _simple("Dropout", "p"), nn.Dropout2d: _simple("Dropout2d", "p"),
    nn.RNN: _recurrent, nn.LSTM: _recurrent, nn.GRU: _recurrent,
    nn.MultiheadAttention: _attention, nn.TransformerEncoderLayer: _encoder_layer,
    nn.TransformerDecoderLayer: _decoder_layer, nn.TransformerEncoder: _stack, nn.TransformerDecoder: _stack,
    nn.Flatten: _simple("Flatten", "start_dim", "end_dim"),
    nn.Unflatten: _simple("Unflatten", "dim", "unflattened_size"),
    nn.ReLU: _simple("ReLU"), nn.LeakyReLU: _simple("LeakyReLU", "negative_slope"), nn.ELU: _simple("ELU", "alpha"),
    nn.GELU: _simple("GELU", "approximate"), nn.SiLU: _simple("SiLU"), nn.Sigmoid: _simple("Sigmoid"),
    nn.Tanh: _simple("Tanh"), nn.Softmax: _simple("Softmax", "dim"), nn.LogSoftmax: _simple("LogSoftmax", "dim"),
    **family_calls.MODULES,
}
IDENTITY_MODULES = {nn.Identity}


def _normal(value, other):
    """Compare 3 with (3, 3) and [3, 3] alike."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    if isinstance(other, (list, tuple)) and isinstance(value, int):
        return (value,) * len(other)
    if isinstance(value, float):
        return round(value, 7)
    return value


def _show(value) -> str:
    return str(list(value)) if isinstance(value, tuple) else str(value)
