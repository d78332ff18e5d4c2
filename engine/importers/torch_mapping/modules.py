"""Calls of submodules (`call_module`): each catalogue module type, its params read from the
module, and its sizes checked against those Neurocanvas infers from the traced input.

`MODULE_TYPES` maps an nn.Module type to a reader returning (catalogue type,
params, the module's own sizes to check). A mixin of `TorchImporter`.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from engine.importers.common import Refuse, Value, compact_ints
from engine.importers.torch_mapping import family_calls
from engine.importers.torch_mapping.values import LayerTuple
from engine.modules import constructor
from graphs.catalogue import CATALOGUE


class ModuleCalls:
    def _module(self, node, module):
        if self.module_calls[node.target] > 1:
            raise Refuse(f": the submodule is called {self.module_calls[node.target]} times (shared weights); "
                         "each Neurocanvas node has its own weights")
        type_name, params, extra_args = MODULE_TYPES[type(module)](module)
        args = list(node.args)
        if type_name == "MultiheadAttention":
            if len(args) < 3 or not (args[0] is args[1] is args[2]):
                raise Refuse(": only self-attention, attn(x, x, x), maps to MultiheadAttention")
            bad = {k: v for k, v in node.kwargs.items() if k not in ("need_weights", "average_attn_weights")
                   and v is not None}
            if len(args) > 3 or bad:
                raise Refuse(f": masks and extra arguments ({', '.join(bad) or 'positional'}) are not imported")
            args = args[:1]
        elif len(args) != 1 or any(v is not None for v in node.kwargs.values()):
            raise Refuse(": it is called with more than one input (e.g. an initial state or a mask)")
        x = self.tensor(args[0])
        weights = {k: v.detach().clone() for k, v in module.state_dict().items()}
        value = self.add(type_name, params, [x], node, weights)
        self._check_sizes(node, module, type_name, value.node, x, extra_args)
        if type_name in ("LSTM", "GRU"):
            return LayerTuple(value.node, "rnn", value.spec)
        if type_name == "MultiheadAttention":
            return LayerTuple(value.node, "attention", value.spec)
        return value

    def _check_sizes(self, node, module, type_name, node_id, x: Value, extra_args: dict) -> None:
        """Every size Neurocanvas infers from the traced input (in_features, in_channels, ...) must equal the
        module's own."""
        pending = self.builder.nodes[node_id]
        spec = CATALOGUE[type_name]
        resolved = spec.resolve_params(pending.params)
        _, kwargs = constructor(type_name, resolved, {port: x.spec for port in spec.input_ports(resolved)})
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
    _refuse_if(not module.batch_first, ": batch_first=False; Neurocanvas's LSTM/GRU take [batch, T, features] "
                                       "(batch_first=True)")
    _refuse_if(getattr(module, "proj_size", 0), ": proj_size is not imported")
    params = {"hidden_size": module.hidden_size, "num_layers": module.num_layers, "bias": module.bias,
              "dropout": float(module.dropout), "bidirectional": module.bidirectional, "output": "sequence"}
    return type(module).__name__, params, {"input_size": module.input_size}


def _attention(module):
    _refuse_if(not module.batch_first, ": batch_first=False; Neurocanvas's attention takes [batch, T, E]")
    _refuse_if(not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn,
               ": kdim/vdim, add_bias_kv and add_zero_attn are not imported")
    return "MultiheadAttention", {"num_heads": module.num_heads, "dropout": float(module.dropout),
                                  "bias": module.in_proj_bias is not None}, {"embed_dim": module.embed_dim}


def _encoder_layer(module):
    _refuse_if(not module.self_attn.batch_first, ": batch_first=False; Neurocanvas's encoder layer takes [batch, T, E]")
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
    return "TransformerEncoderLayer", params, {"d_model": module.self_attn.embed_dim}


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
    nn.LSTM: _recurrent, nn.GRU: _recurrent,
    nn.MultiheadAttention: _attention, nn.TransformerEncoderLayer: _encoder_layer,
    nn.Flatten: _simple("Flatten", "start_dim", "end_dim"),
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
