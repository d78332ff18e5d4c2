"""Traced tensor arithmetic and shape calls that map to the tensor types (graphs/families/tensors.py):
constant arithmetic (`0.5 * x`, `x + 1`, `x / 8`) as Scale, `-`, `/`, `@` of two tensors, torch.exp & co,
x.mean/sum/amax/amin, casts (`x.long()`, `x.float()`, `x.to(torch.int64)`) as ToDtype, indexing `x[:, 0]` / `x[:, a:b]`, expand, split/chunk (several outputs), stack,
squeeze/unsqueeze/transpose/unflatten, and the module's own tensors (`get_attr`: an nn.Parameter or a
buffer read in forward) as Parameter nodes holding their values.

`TENSOR_FUNCTIONS` / `TENSOR_METHODS` add to (and, for `+`, `*`, transpose and squeeze, take over from)
`functions.FUNCTIONS` / `METHODS`. A mixin of `TorchImporter`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import torch
from torch import fx

from engine.importers.common import BATCH, Refuse, Value
from engine.importers.torch_mapping.functions import FunctionCalls, _bind
from engine.importers.torch_mapping.values import RecurrentState
from engine.shape_rules import infer_node
from graphs.catalogue import CATALOGUE


@dataclass
class StoredTensor:
    """A tensor of the module itself read in forward (`self.cls_token`): it becomes a Parameter node when
    used, its first dim taken as the batch's place when that is 1."""

    name: str
    tensor: torch.Tensor


@dataclass
class Pieces:
    """The tuple torch.split / torch.chunk returns: item i is the node's port `out{i}`."""

    node: str
    specs: dict  # port -> TensorSpec


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class TensorCalls:
    # ---- the module's own tensors ------------------------------------------------------------
    def fn_get_attr(self, node):
        try:
            value = self.traced.get_parameter(node.target)
        except AttributeError:
            try:
                value = self.traced.get_buffer(node.target)
            except AttributeError:
                raise Refuse(": it reads an attribute that is no tensor of the module") from None
        if not value.is_floating_point() or value.dim() == 0:
            raise Refuse(": only floating-point tensors with a shape become Parameter nodes")
        return StoredTensor(node.target, value.detach().clone())

    def stored_parameter(self, stored: StoredTensor, hint: str, rank: int | None = None) -> Value:
        """A Parameter node holding the tensor, shaped for an operand of `rank` dims (the batch apart) when
        given, broadcast as torch would; one node per tensor however often it is read."""
        cache = self.__dict__.setdefault("_stored_values", {})
        tensor = stored.tensor
        if rank is not None and tensor.dim() <= rank:
            tensor = tensor.reshape((1,) * (rank + 1 - tensor.dim()) + tuple(tensor.shape))
        elif tensor.shape[0] != 1:
            tensor = tensor.unsqueeze(0)
        key = (stored.name, tuple(tensor.shape))
        if key not in cache:
            params = {"shape": list(tensor.shape[1:]), "init": "zeros"}
            cache[key] = self.builder.add("Parameter", params, [], stored.name.replace(".", "_"), {"": tensor})
        return cache[key]

    def operand(self, arg, hint: str, rank: int | None = None) -> Value:
        value = self.env.get(arg) if isinstance(arg, fx.Node) else None
        if isinstance(value, StoredTensor):
            return self.stored_parameter(value, hint, rank)
        return self.tensor(arg)

    def _pair(self, node, a, b):
        """Both operands as Values, a module tensor shaped like the other operand."""
        values = [self.env.get(v) if isinstance(v, fx.Node) else None for v in (a, b)]
        if all(isinstance(v, StoredTensor) for v in values):
            raise Refuse(": both operands are tensors of the module, and nothing comes from the inputs")
        if isinstance(values[0], StoredTensor):
            other = self.tensor(b)
            return self.stored_parameter(values[0], node.name, len(other.spec.shape)), other
        first = self.tensor(a)
        return first, self.operand(b, node.name, len(first.spec.shape))

    # ---- arithmetic -------------------------------------------------------------------------
    def fn_arithmetic(self, node, kind: str):
        """a (+ - * /) b: Add, Subtract, Multiply, Divide of two tensors; Scale with a constant."""
        a = node.args[0]
        b = node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
        if node.kwargs.get("alpha", 1) != 1:
            raise Refuse(": alpha != 1 has no Neurocanvas node")
        if _number(a) or _number(b):
            return self._scale(node, kind, a, b)
        x, y = self._pair(node, a, b)
        if kind in ("add", "mul"):
            return self.add("Add" if kind == "add" else "Multiply", {"inputs": 2}, [x, y], node)
        return self.add("Subtract" if kind == "sub" else "Divide", {}, [x, y], node)

    def _scale(self, node, kind, a, b):
        constant_first = _number(a)
        c, x = (float(a), b) if constant_first else (float(b), a)
        if _number(x):
            raise Refuse(": both operands are constants")
        if kind == "add":
            scale, bias = 1.0, c
        elif kind == "mul":
            scale, bias = c, 0.0
        elif kind == "sub":
            scale, bias = (-1.0, c) if constant_first else (1.0, -c)
        elif constant_first or c == 0:
            raise Refuse(f": it divides {'a constant by a tensor' if constant_first else 'by zero'}, which no "
                         "Neurocanvas node does")
        else:
            scale, bias = 1.0 / c, 0.0
        return self.add("Scale", {"scale": scale, "bias": bias}, [self.tensor(x)], node)

    def fn_binary(self, node, type_name):
        a = node.args[0]
        b = node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
        x, y = self._pair(node, a, b)
        return self.add(type_name, {}, [x, y], node)

    def fn_unary(self, node, type_name, names=(), defaults=None):
        args = _bind(node, names, defaults or {}, skip=1)
        params = {}
        if type_name == "Pow":
            if not _number(args["exponent"]):
                raise Refuse(": the exponent is a tensor; only a constant exponent maps to Pow")
            params["exponent"] = float(args["exponent"])
        if type_name == "Clamp":
            low, high = args.get("min"), args.get("max")
            if not all(v is None or _number(v) for v in (low, high)) or low is None and high is None:
                raise Refuse(": only constant bounds map to Clamp")
            params["bounds"] = "min and max" if low is not None and high is not None else \
                ("min" if low is not None else "max")
            params.update({k: float(v) for k, v in (("min", low), ("max", high)) if v is not None})
        return self.add(type_name, params, [self.tensor(node.args[0])], node)

    def fn_reduction(self, node, type_name):
        args = _bind(node, ("dim", "keepdim"), {"dim": None, "keepdim": False}, skip=1)
        if args.get("dtype") is not None:
            raise Refuse(": dtype= is not imported")
        if args["dim"] is None or args["dim"] == [] or args["dim"] == ():
            raise Refuse(": it reduces every dim, the batch too; give the dims to reduce")
        dims = [int(d) for d in (args["dim"] if isinstance(args["dim"], (list, tuple)) else [args["dim"]])]
        return self.add(type_name, {"dim": dims, "keepdim": bool(args["keepdim"])}, [self.tensor(node.args[0])], node)

    def fn_to_dtype(self, node, dtype=None):
        """x.long() / x.float() (dtype given), or x.to(dtype) / x.to(dtype=...) / x.type(dtype): ToDtype."""
        if dtype is None:
            given = [a for a in (*node.args[1:], node.kwargs.get("dtype")) if isinstance(a, torch.dtype)]
            if len(given) != 1 or _TO_DTYPES.get(given[0]) is None:
                raise Refuse(": only a cast to torch.float32 or torch.int64 maps to ToDtype (a device or "
                             "another dtype has no Neurocanvas node)")
            dtype = _TO_DTYPES[given[0]]
        return self.add("ToDtype", {"dtype": dtype}, [self.tensor(node.args[0])], node)

    # ---- shape ------------------------------------------------------------------------------
    def fn_dim_op(self, node, type_name, names):
        args = _bind(node, names, {}, skip=1)
        return self.add(type_name, {name: int(args[name]) for name in names}, [self.tensor(node.args[0])], node)

    def fn_squeeze(self, node, unsqueeze: bool):
        args = _bind(node, ("dim",), {"dim": None}, skip=1)
        if args["dim"] is None or isinstance(args["dim"], (list, tuple)):
            return self.fn_squeeze_like(node, unsqueeze)
        return self.add("Unsqueeze" if unsqueeze else "Squeeze", {"dim": int(args["dim"])},
                        [self.tensor(node.args[0])], node)

    def fn_transpose_dims(self, node):
        if isinstance(node.args[0], fx.Node) and isinstance(self.env.get(node.args[0]), RecurrentState):
            return self.fn_transpose(node)  # a recurrent layer's final state, to or from batch first
        args = _bind(node, ("dim0", "dim1"), {}, skip=1)
        return self.add("Transpose", {"dim": int(args["dim0"]), "dim1": int(args["dim1"])},
                        [self.tensor(node.args[0])], node)

    def fn_unflatten(self, node):
        args = _bind(node, ("dim", "sizes"), {}, skip=1)
        return self.add("Unflatten", {"dim": int(args["dim"]), "unflattened_size": [int(s) for s in args["sizes"]]},
                        [self.tensor(node.args[0])], node)

    def fn_expand(self, node):
        raw = list(node.args[1:]) or [node.kwargs.get("size")]
        if len(raw) == 1 and isinstance(raw[0], (list, tuple)):
            raw = list(raw[0])
        sizes = [self.env.get(s) if isinstance(s, fx.Node) else s for s in raw]
        if not sizes or sizes[0] not in (BATCH, -1):
            raise Refuse(": it expands the batch dim to a fixed size; write x.expand(x.size(0), ...) or -1")
        if any(s is BATCH for s in sizes[1:]) or not all(isinstance(s, int) for s in sizes[1:]):
            raise Refuse(": its sizes are computed in a way the importer cannot follow")
        source = self.env.get(node.args[0])
        x = self.stored_parameter(source, node.name) if isinstance(source, StoredTensor) else self.tensor(node.args[0])
        if len(sizes) - 1 != len(x.spec.shape):
            raise Refuse(": it adds dims; Neurocanvas's Expand keeps the number of dims")
        target = [old if new == -1 else new for old, new in zip(x.spec.shape, sizes[1:])]
        if isinstance(source, StoredTensor) and target == list(x.spec.shape):
            return x  # a Parameter node is expanded over the batch already
        return self.add("Expand", {"size": target}, [x], node)

    def fn_pieces(self, node, type_name):
        name = "chunks" if type_name == "Chunk" else "split_size_or_sections"
        args = _bind(node, (name, "dim"), {"dim": 0}, skip=1)
        x = self.tensor(node.args[0])
        count = args[name]
        if type_name == "Split" and isinstance(count, int):  # one size: the last piece takes what is left
            dim = int(args["dim"]) % (len(x.spec.shape) + 1)
            if dim == 0:
                raise Refuse(": it splits the batch")
            total = x.spec.shape[dim - 1]
            count = [min(count, total - start) for start in range(0, total, count)]
        params = {name: count if type_name == "Chunk" else [int(c) for c in count], "dim": int(args["dim"])}
        value = self.add(type_name, params, [x], node)
        pending = self.builder.nodes[value.node]
        spec = CATALOGUE[type_name]
        info = infer_node(value.node, type_name, spec.resolve_params(pending.params), {"in": x.spec})
        return Pieces(value.node, info.outputs)

    def fn_random(self, node):
        raise Refuse(": it draws random noise (a VAE's reparameterisation?), which an import cannot check against "
                     "the module; import the rest and add a Sample node (mean, logvar in) in the editor")

    def fn_arange(self, node):
        raise Refuse(": positions counted with torch.arange map only as `x + self.pos(torch.arange(x.size(1)))` "
                     "(self.pos an nn.Embedding: LearnedPositionalEncoding); for another positional table add a "
                     "stored tensor (`x + self.pe[:, :x.size(1)]`)")

    def fn_stack(self, node):
        args = _bind(node, ("tensors", "dim"), {"dim": 0})
        tensors = [self.tensor(t) for t in args["tensors"]]
        if not 2 <= len(tensors) <= 16:
            raise Refuse(f": {len(tensors)} tensors; Stack takes 2 to 16")
        return self.add("Stack", {"inputs": len(tensors), "dim": int(args["dim"])}, tensors, node)

    def fn_index(self, node):
        """`x[:, 0]` (Select), `x[:, a:b]` (Slice), items of split/chunk; the rest as before."""
        source, index = node.args
        value = self.env.get(source)
        if isinstance(value, Pieces):
            port = f"out{index % len(value.specs)}"
            return Value(value.node, value.specs[port], port)
        if not isinstance(value, Value):
            return self.fn_getitem(node)
        items = list(index) if isinstance(index, tuple) else [index]
        full = slice(None)
        if Ellipsis in items:
            at = items.index(Ellipsis)
            before, after = items[:at], items[at + 1:]
            if any(i != full for i in before) or len(after) < 1:
                raise Refuse(f": indexing {index!r} has no Neurocanvas node")
            dim, item, rest = -len(after), after[0], after[1:]
        else:
            if not items or items[0] != full:
                raise Refuse(": it indexes the batch dim; Neurocanvas keeps every sample")
            at = next((i for i, item in enumerate(items) if item != full), None)
            if at is None:
                return value
            dim, item, rest = at, items[at], items[at + 1:]
        if any(i != full for i in rest):
            raise Refuse(f": indexing {index!r} picks along several dims; write one index per line")
        if isinstance(item, int) and not isinstance(item, bool):
            return self.add("Select", {"dim": dim, "index": item}, [value], node)
        if isinstance(item, slice) and all(v is None or isinstance(v, int) for v in (item.start, item.stop, item.step)):
            params = {"dim": dim, "start": item.start or 0, "end": item.stop, "step": item.step or 1}
            return self.add("Slice", params, [value], node)
        raise Refuse(f": indexing {index!r} (a tensor or None index) has no Neurocanvas node")


def _unary(type_name, names=(), defaults=None):
    return lambda self, n: self.fn_unary(n, type_name, names, defaults)


def _arith(kind):
    return lambda self, n: self.fn_arithmetic(n, kind)


def _binary(type_name):
    return lambda self, n: self.fn_binary(n, type_name)


def _reduce(type_name):
    return lambda self, n: self.fn_reduction(n, type_name)


_TO_DTYPES = {torch.float32: "float32", torch.int64: "int64"}
_POW = (("exponent",), {})
_CLAMP = (("min", "max"), {"min": None, "max": None})
TENSOR_FUNCTIONS = {
    operator.add: _arith("add"), torch.add: _arith("add"), operator.mul: _arith("mul"), torch.mul: _arith("mul"),
    operator.sub: _arith("sub"), torch.sub: _arith("sub"), torch.subtract: _arith("sub"),
    operator.truediv: _arith("div"), torch.div: _arith("div"), torch.divide: _arith("div"),
    operator.matmul: _binary("MatMul"), torch.matmul: _binary("MatMul"), torch.bmm: _binary("MatMul"),
    torch.maximum: _binary("Maximum"), torch.minimum: _binary("Minimum"),
    torch.exp: _unary("Exp"), torch.log: _unary("Log"), torch.sqrt: _unary("Sqrt"), torch.abs: _unary("Abs"),
    torch.pow: _unary("Pow", *_POW), operator.pow: _unary("Pow", *_POW),
    torch.clamp: _unary("Clamp", *_CLAMP), torch.clip: _unary("Clamp", *_CLAMP),
    torch.mean: _reduce("Mean"), torch.sum: _reduce("Sum"), torch.amax: _reduce("Max"), torch.amin: _reduce("Min"),
    torch.squeeze: lambda self, n: self.fn_squeeze(n, False), torch.unsqueeze: lambda self, n: self.fn_squeeze(n, True),
    torch.transpose: TensorCalls.fn_transpose_dims, torch.unflatten: TensorCalls.fn_unflatten,
    torch.split: lambda self, n: self.fn_pieces(n, "Split"), torch.chunk: lambda self, n: self.fn_pieces(n, "Chunk"),
    torch.stack: TensorCalls.fn_stack, operator.getitem: TensorCalls.fn_index,
    torch.arange: TensorCalls.fn_arange, torch.randn_like: TensorCalls.fn_random, torch.rand_like: TensorCalls.fn_random, torch.randn: TensorCalls.fn_random,
}
TENSOR_METHODS = {
    "add": _arith("add"), "mul": _arith("mul"), "sub": _arith("sub"), "div": _arith("div"),
    "matmul": _binary("MatMul"), "bmm": _binary("MatMul"),
    "exp": _unary("Exp"), "log": _unary("Log"), "sqrt": _unary("Sqrt"), "abs": _unary("Abs"),
    "pow": _unary("Pow", *_POW), "clamp": _unary("Clamp", *_CLAMP), "clip": _unary("Clamp", *_CLAMP),
    "mean": _reduce("Mean"), "sum": _reduce("Sum"), "amax": _reduce("Max"), "amin": _reduce("Min"),
    "squeeze": lambda self, n: self.fn_squeeze(n, False), "unsqueeze": lambda self, n: self.fn_squeeze(n, True),
    "transpose": TensorCalls.fn_transpose_dims, "unflatten": TensorCalls.fn_unflatten, "expand": TensorCalls.fn_expand,
    "split": lambda self, n: self.fn_pieces(n, "Split"), "chunk": lambda self, n: self.fn_pieces(n, "Chunk"),
    "long": lambda self, n: self.fn_to_dtype(n, "int64"), "float": lambda self, n: self.fn_to_dtype(n, "float32"),
    "to": TensorCalls.fn_to_dtype, "type": TensorCalls.fn_to_dtype,
}
_ = FunctionCalls  # fn_getitem and fn_squeeze_like come from it through TorchImporter
