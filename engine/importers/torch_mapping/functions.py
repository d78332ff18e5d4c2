"""Calls of functions and tensor methods (`call_function`, `call_method`) in a traced forward:
`+`/torch.add, torch.cat, x.view/x.reshape, x.permute, F.relu & co, F.max_pool2d & co, indexing.

`x.size(0)` and `x.shape` are followed with the batch size as the symbol
`BATCH`, so `x.view(x.size(0), -1)` becomes a Reshape. `FUNCTIONS` and
`METHODS` map each fx target to its handler. A mixin of `TorchImporter`.
"""

from __future__ import annotations

import math
import operator
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import fx

from engine.importers.common import BATCH, Refuse, Value, compact_ints
from engine.importers.torch_mapping import family_calls, masks
from engine.importers.torch_mapping.values import LayerTuple, RecurrentSequence, RecurrentState, TracedShape
from engine.shape_rules import TensorSpec


def _bind(node: fx.Node, names: tuple, defaults: dict, skip: int = 0) -> dict:
    """fx args/kwargs -> {name: value} after the first `skip` positional args (the tensor inputs)."""
    values = dict(defaults)
    for name, value in zip(names, node.args[skip:]):
        values[name] = value
    for key, value in node.kwargs.items():
        values[key] = value
    return values


def _ints(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


class FunctionCalls:
    def fn_combine(self, node, type_name):
        a, b = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
        if node.kwargs.get("alpha", 1) != 1:
            raise Refuse(": alpha != 1 has no Neurocanvas node")
        if not isinstance(a, fx.Node) or not isinstance(b, fx.Node):
            word = "adds" if type_name == "Add" else "multiplies by"
            raise Refuse(f": it {word} a constant ({a if not isinstance(a, fx.Node) else b}); Neurocanvas has no "
                         "constant node")
        values = [self.tensor(a), self.tensor(b)]
        return self.add(type_name, {"inputs": 2}, values, node)

    def fn_cat(self, node):
        args = _bind(node, ("tensors", "dim"), {"dim": 0})
        tensors = [self.tensor(t) for t in args["tensors"]]
        if len(tensors) == 1:
            return tensors[0]
        if len(tensors) > 16:
            raise Refuse(f": {len(tensors)} tensors; Concat takes at most 16")
        return self.add("Concat", {"inputs": len(tensors), "dim": int(args["dim"])}, tensors, node)

    def fn_flatten(self, node, method=False):
        args = _bind(node, ("start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1}, skip=1)
        return self.add("Flatten", {"start_dim": int(args["start_dim"]), "end_dim": int(args["end_dim"])},
                        [self.tensor(node.args[0])], node)

    def fn_activation(self, node, type_name, names=(), defaults=None, keep=()):
        args = _bind(node, names, defaults or {}, skip=1)
        if type_name in ("Softmax", "LogSoftmax"):
            if args.get("dim") is None:
                raise Refuse(": dim is not given (torch's implicit dim); give dim explicitly")
            if args.get("dtype") is not None:
                raise Refuse(": dtype= is not imported")
        params = {k: args[k] for k in keep}
        for key in ("negative_slope", "alpha"):
            if key in params:
                params[key] = float(params[key])
        return self.add(type_name, params, [self.tensor(node.args[0])], node)

    def fn_dropout(self, node, type_name):
        args = _bind(node, ("p", "training", "inplace"), {"p": 0.5, "training": True}, skip=1)
        return self.add(type_name, {"p": float(args["p"])}, [self.tensor(node.args[0])], node)

    def fn_max_pool(self, node, n):
        args = _bind(node, ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
                     {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False},
                     skip=1)
        if args["return_indices"]:
            raise Refuse(": return_indices=True is not imported")
        stride = args["stride"] if args["stride"] not in (None, [], ()) else args["kernel_size"]
        params = {"kernel_size": compact_ints(args["kernel_size"]), "stride": compact_ints(stride), "padding": compact_ints(args["padding"]),
                  "dilation": compact_ints(args["dilation"]), "ceil_mode": bool(args["ceil_mode"])}
        return self.add(f"MaxPool{n}d", params, [self.tensor(node.args[0])], node)

    def fn_avg_pool(self, node, n=2):
        args = _bind(node, ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
                     {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
                      "divisor_override": None}, skip=1)
        if args["divisor_override"] is not None:
            raise Refuse(": divisor_override is not imported")
        stride = args["stride"] if args["stride"] not in (None, [], ()) else args["kernel_size"]
        params = {"kernel_size": compact_ints(args["kernel_size"]), "stride": compact_ints(stride), "padding": compact_ints(args["padding"]),
                  "ceil_mode": bool(args["ceil_mode"]), "count_include_pad": bool(args["count_include_pad"])}
        return self.add(f"AvgPool{n}d", params, [self.tensor(node.args[0])], node)

    def fn_adaptive_pool(self, node, type_name):
        args = _bind(node, ("output_size", "return_indices"), {"return_indices": False}, skip=1)
        if args["return_indices"]:
            raise Refuse(": return_indices=True is not imported")
        size = args["output_size"]
        if any(s is None for s in _ints(size)):
            raise Refuse(": an output_size of None is not imported")
        return self.add(type_name, {"output_size": compact_ints(size)}, [self.tensor(node.args[0])], node)

    def fn_size(self, node):
        x = self.tensor(node.args[0])
        dims = (BATCH, *x.spec.shape)
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        if dim is None:
            return TracedShape(dims)
        return dims[int(dim)]

    def fn_getattr(self, node):
        if node.args[1] != "shape":
            raise Refuse(f": the attribute '{node.args[1]}' is not imported")
        return TracedShape((BATCH, *self.tensor(node.args[0]).spec.shape))

    def fn_getitem(self, node):
        source, index = node.args
        value = self.env.get(source)
        if isinstance(value, TracedShape):
            picked = value.dims[index]
            return TracedShape(tuple(picked)) if isinstance(index, slice) else picked
        if isinstance(value, LayerTuple) and value.kind == "rnn" and index == 1:
            return self.final_state(value.node)
        if isinstance(value, RecurrentState) and len(value.ports) == 2 and index in (0, 1):
            return RecurrentState(value.node, (value.ports[index],), value.spec)
        if isinstance(value, LayerTuple):
            if index != 0:
                raise Refuse(f": item {index} of the {value.kind} output has no Neurocanvas equivalent; only item [0] "
                             "(and a recurrent layer's final state [1]) maps")
            if value.kind == "rnn":
                return RecurrentSequence(Value(value.node, value.spec), value.node)
            return Value(value.node, value.spec)
        if isinstance(value, RecurrentSequence):
            items = index if isinstance(index, tuple) else (index,)
            full = slice(None)
            if (len(items) in (2, 3) and items[0] == full and items[1] == -1
                    and all(i == full for i in items[2:])):
                self.rnn_used.setdefault(value.rnn, set()).add("last")
                hidden = value.value.spec.shape[-1]
                return Value(value.value.node, TensorSpec((hidden,)))
            raise Refuse(f": indexing {index!r} has no Neurocanvas node (only seq[:, -1] on an LSTM/GRU output maps)")
        raise Refuse(": indexing a tensor has no Neurocanvas node")

    def fn_reshape(self, node):
        x = self.tensor(node.args[0])
        raw = list(node.args[1:])
        if "shape" in node.kwargs:
            raw = [node.kwargs["shape"]]
        if len(raw) == 1 and isinstance(raw[0], (list, tuple)):
            raw = list(raw[0])
        entries = []
        for item in raw:
            value = self.env.get(item) if isinstance(item, fx.Node) else item
            if isinstance(value, TracedShape):
                entries.extend(value.dims)
            elif value is BATCH or isinstance(value, int):
                entries.append(value)
            else:
                raise Refuse(": its target shape is computed in a way the importer cannot follow")
        if not entries:
            raise Refuse(": it reshapes to a scalar, dropping the batch")
        first, rest = entries[0], entries[1:]
        if any(e is BATCH for e in rest) or any(e is not BATCH and (e < -1 or e == 0) for e in rest):
            raise Refuse(f": shape {entries} moves or drops the batch; Neurocanvas keeps it first")
        per_sample = math.prod(x.spec.shape)
        known = math.prod(e for e in rest if e != -1)
        if not (first is BATCH or (first == -1 and -1 not in rest and known == per_sample)):
            raise Refuse(f": shape {entries} does not keep the batch as its first dimension (write "
                         "x.view(x.size(0), ...) or x.flatten(1))")
        resolved = [per_sample // known if e == -1 else e for e in rest]
        if math.prod(resolved) != per_sample:
            raise Refuse(f": cannot reshape [batch, {', '.join(map(str, x.spec.shape))}] to {entries}")
        return self.add("Reshape", {"shape": rest}, [x], node)

    def fn_permute(self, node):
        x = self.tensor(node.args[0])
        dims = list(node.args[1:]) or list(node.kwargs.get("dims", ()))
        if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
            dims = list(dims[0])
        rank = len(x.spec.shape) + 1
        dims = [int(d) % rank for d in dims]
        return self.add("Permute", {"dims": dims}, [x], node)

    def fn_transpose(self, node):
        args = _bind(node, ("dim0", "dim1"), {}, skip=1)
        state = self.env.get(node.args[0]) if isinstance(node.args[0], fx.Node) else None
        if isinstance(state, RecurrentState) and len(state.ports) == 1 and \
                {int(args["dim0"]) % 3, int(args["dim1"]) % 3} == {0, 1}:  # to or from the batch-first h_n
            return replace(state, batch_first=not state.batch_first)
        x = self.tensor(node.args[0])
        rank = len(x.spec.shape) + 1
        a, b = int(args["dim0"]) % rank, int(args["dim1"]) % rank
        dims = list(range(rank))
        dims[a], dims[b] = dims[b], dims[a]
        return self.add("Permute", {"dims": dims}, [x], node)

    def fn_squeeze_like(self, node, unsqueeze: bool):
        x = self.tensor(node.args[0])
        args = _bind(node, ("dim",), {"dim": None}, skip=1)
        dims = list(x.spec.shape)
        rank = len(dims) + 1
        if args["dim"] is None:
            if unsqueeze:
                raise Refuse(": unsqueeze needs a dim")
            target = [d for d in dims if d != 1]
        else:
            dim = int(args["dim"])
            dim = dim % (rank + 1) if unsqueeze else dim % rank
            if dim == 0:
                raise Refuse(": it changes the batch dimension")
            target = list(dims)
            if unsqueeze:
                target.insert(dim - 1, 1)
            elif target[dim - 1] == 1:
                target.pop(dim - 1)
        if target == dims:
            return x
        return self.add("Reshape", {"shape": target}, [x], node)

    def fn_identity(self, node):
        value = self.env.get(node.args[0]) if isinstance(node.args[0], fx.Node) else None
        return value if isinstance(value, RecurrentState) else self.tensor(node.args[0])


def _act(type_name, names=(), defaults=None, keep=()):
    return lambda self, node: self.fn_activation(node, type_name, names, defaults, keep)


_SOFTMAX = (("dim", "_stacklevel", "dtype"), {"dim": None, "dtype": None}, ("dim",))
FUNCTIONS = {
    operator.add: lambda self, n: self.fn_combine(n, "Add"), torch.add: lambda self, n: self.fn_combine(n, "Add"),
    operator.mul: lambda self, n: self.fn_combine(n, "Multiply"),
    torch.mul: lambda self, n: self.fn_combine(n, "Multiply"),
    torch.cat: FunctionCalls.fn_cat, torch.concat: FunctionCalls.fn_cat,
    torch.flatten: FunctionCalls.fn_flatten,
    torch.reshape: FunctionCalls.fn_reshape, torch.permute: FunctionCalls.fn_permute,
    torch.transpose: FunctionCalls.fn_transpose,
    F.relu: _act("ReLU"), torch.relu: _act("ReLU"),
    F.leaky_relu: _act("LeakyReLU", ("negative_slope", "inplace"), {"negative_slope": 0.01}, ("negative_slope",)),
    F.elu: _act("ELU", ("alpha", "inplace"), {"alpha": 1.0}, ("alpha",)),
    F.gelu: _act("GELU", ("approximate",), {"approximate": "none"}, ("approximate",)),
    F.silu: _act("SiLU"), torch.sigmoid: _act("Sigmoid"), F.sigmoid: _act("Sigmoid"),
    torch.tanh: _act("Tanh"), F.tanh: _act("Tanh"),
    F.softmax: _act("Softmax", *_SOFTMAX), F.log_softmax: _act("LogSoftmax", *_SOFTMAX),
    torch.softmax: _act("Softmax", ("dim", "dtype"), {"dim": None, "dtype": None}, ("dim",)),
    torch.log_softmax: _act("LogSoftmax", ("dim", "dtype"), {"dim": None, "dtype": None}, ("dim",)),
    F.dropout: lambda self, n: self.fn_dropout(n, "Dropout"), F.dropout2d: lambda self, n: self.fn_dropout(n, "Dropout2d"),
    **{getattr(F, f"max_pool{d}d"): lambda self, n, d=d: self.fn_max_pool(n, d) for d in (1, 2, 3)},
    **{getattr(F, f"avg_pool{d}d"): lambda self, n, d=d: self.fn_avg_pool(n, d) for d in (1, 2, 3)},
    **{getattr(F, f"adaptive_{kind.lower()}_pool{d}d"): lambda self, n, name=f"Adaptive{kind}Pool{d}d":
       self.fn_adaptive_pool(n, name) for kind in ("Avg", "Max") for d in (1, 2, 3)},
    operator.getitem: FunctionCalls.fn_getitem, getattr: FunctionCalls.fn_getattr,
    **masks.FUNCTIONS,
    **family_calls.FUNCTIONS,
}
METHODS = {
    "add": lambda self, n: self.fn_combine(n, "Add"), "mul": lambda self, n: self.fn_combine(n, "Multiply"),
    "flatten": FunctionCalls.fn_flatten, "view": FunctionCalls.fn_reshape, "reshape": FunctionCalls.fn_reshape,
    "permute": FunctionCalls.fn_permute, "transpose": FunctionCalls.fn_transpose,
    "relu": _act("ReLU"), "sigmoid": _act("Sigmoid"), "tanh": _act("Tanh"),
    "softmax": _act("Softmax", ("dim", "dtype"), {"dim": None, "dtype": None}, ("dim",)),
    "log_softmax": _act("LogSoftmax", ("dim", "dtype"), {"dim": None, "dtype": None}, ("dim",)),
    "size": FunctionCalls.fn_size, "contiguous": FunctionCalls.fn_identity,
    "squeeze": lambda self, n: self.fn_squeeze_like(n, False),
    "unsqueeze": lambda self, n: self.fn_squeeze_like(n, True),
    **masks.METHODS,
}
