"""Per-node-type shape rules: output shapes, parameter counts and MACs.

Each rule takes the node's resolved params and its input `TensorSpec`s (shapes
without the batch dimension) and returns its output specs, or raises
`ShapeError` with a sentence that says what is wrong and how to fix it. The
formulas follow torch's own shape checks exactly; tests/test_shapes.py proves it
against real modules with hypothesis. This module imports no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from graphs.errors import ShapeError
from graphs.params import MAX_INT


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: str = "float32"

    def __str__(self) -> str:
        return fmt(self.shape)


@dataclass(frozen=True)
class NodeInfo:
    """What inference knows about one node."""

    outputs: dict  # port -> TensorSpec
    params: int = 0
    macs: int = 0


def fmt(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


class Ctx:
    """The node being inferred: its id, type and params, and a helper to fail on it."""

    def __init__(self, node_id: str, type_name: str, params: dict, inputs: dict):
        self.id, self.type, self.p, self.inputs = node_id, type_name, params, inputs

    def fail(self, message: str, port: str | None = None) -> ShapeError:
        return ShapeError(f"{self.type} '{self.id}' {message}", node=self.id, port=port)

    def tuple(self, name: str, n: int) -> tuple:
        value = self.p[name]
        if value is None:
            return None
        return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n

    def expect_rank(self, spec: TensorSpec, ranks, layout: str, hint: str = "", port="in"):
        if len(spec.shape) not in ranks:
            raise self.fail(f"expects input {layout}, got {fmt(spec.shape)}{hint}", port)

    def expect_float(self, spec: TensorSpec, port="in"):
        if spec.dtype != "float32":
            raise self.fail(f"needs floating-point input, got {spec.dtype} on '{port}'; "
                            "feed it from an Embedding or a float Input", port)

    def batched_dim(self, dim: int, rank: int, name: str = "dim") -> int:
        """Normalise a torch dim (the batch is dim 0) against a batchless rank."""
        full = rank + 1
        if not -full <= dim < full:
            raise self.fail(f"{name}={dim} is out of range for input of {full} dims "
                            f"(batch + {fmt(self.inputs_shape())})")
        return dim % full

    def expect_positive(self, name: str):
        """torch refuses 0 for some params the schema lets reach 0 (it checks them when it runs)."""
        if self.p[name] <= 0:
            raise self.fail(f"needs {name} > 0, got {self.p[name]}; torch refuses it when the model runs")

    def inputs_shape(self):
        return next(iter(self.inputs.values())).shape


def _conv_out(ctx: Ctx, size, k, s, p, d, axis: str) -> int:
    effective = d * (k - 1) + 1
    if size + 2 * p < effective:
        raise ctx.fail(f"kernel (effective size {effective}) is larger than the padded input "
                       f"({size} + 2*{p} along {axis}); reduce kernel_size or dilation, or add padding")
    return (size + 2 * p - effective) // s + 1


def _conv(ctx: Ctx, n: int, transpose=False):
    (x,) = ctx.inputs.values()
    layout = "[C, L]" if n == 1 else "[C, H, W]"
    hint = "; remove the Flatten before it, or use Linear" if len(x.shape) < n + 1 else ""
    ctx.expect_rank(x, (n + 1,), layout, hint)
    ctx.expect_float(x)
    c_in, spatial = x.shape[0], x.shape[1:]
    k, s, p, d = (ctx.tuple(name, n) for name in ("kernel_size", "stride", "padding", "dilation"))
    groups, c_out = ctx.p["groups"], ctx.p["out_channels"]
    if c_in % groups or c_out % groups:
        raise ctx.fail(f"groups={groups} must divide both in_channels ({c_in}) and out_channels ({c_out})")
    axes = "L" if n == 1 else "HW"
    out = []
    for i in range(n):
        if transpose:
            op = ctx.tuple("output_padding", n)[i]
            if op >= max(s[i], d[i]):
                raise ctx.fail(f"output_padding ({op}) must be smaller than stride ({s[i]}) or dilation ({d[i]})")
            size = (spatial[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op + 1
            if size < 1:
                raise ctx.fail(f"output size along {axes[i]} would be {size}; reduce padding or use a larger input")
            out.append(size)
        else:
            mode = ctx.p.get("padding_mode", "zeros")
            if mode == "reflect" and p[i] >= spatial[i]:
                raise ctx.fail(f"padding_mode 'reflect' needs padding < input size ({p[i]} >= {spatial[i]})")
            if mode == "circular" and p[i] > spatial[i]:
                raise ctx.fail(f"padding_mode 'circular' needs padding <= input size ({p[i]} > {spatial[i]})")
            out.append(_conv_out(ctx, spatial[i], k[i], s[i], p[i], d[i], axes[i]))
    kernel = math.prod(k)
    bias = c_out if ctx.p["bias"] else 0
    if transpose:
        params = c_in * (c_out // groups) * kernel + bias
        macs = math.prod(spatial) * c_in * (c_out // groups) * kernel
    else:
        params = c_out * (c_in // groups) * kernel + bias
        macs = math.prod(out) * c_out * (c_in // groups) * kernel
    return NodeInfo({"out": TensorSpec((c_out, *out))}, params, macs)


def _pool(ctx: Ctx, n: int, avg=False):
    (x,) = ctx.inputs.values()
    ctx.expect_rank(x, (n + 1,), "[C, L]" if n == 1 else "[C, H, W]")
    ctx.expect_float(x)
    k = ctx.tuple("kernel_size", n)
    s = ctx.tuple("stride", n) or k
    p = ctx.tuple("padding", n)
    d = (1,) * n if avg else ctx.tuple("dilation", n)
    out = []
    for i in range(n):
        if p[i] > k[i] // 2:
            raise ctx.fail(f"padding ({p[i]}) must be at most half of kernel_size ({k[i]})")
        size = x.shape[1 + i]
        numerator = size + 2 * p[i] - d[i] * (k[i] - 1) - 1 + (s[i] - 1 if ctx.p["ceil_mode"] else 0)
        o = numerator // s[i] + 1
        if ctx.p["ceil_mode"] and (o - 1) * s[i] >= size + p[i]:
            o -= 1
        if o < 1:
            raise ctx.fail(f"input {fmt(x.shape)} is too small for kernel_size {k[i]}; "
                           "reduce kernel_size or remove a pooling layer before it")
        out.append(o)
    return NodeInfo({"out": TensorSpec((x.shape[0], *out))})


def _adaptive_avg_pool(ctx: Ctx):
    """torch pools the last two dims and keeps every dim before them."""
    (x,) = ctx.inputs.values()
    if len(x.shape) not in (2, 3):
        raise ctx.fail(f"expects input [C, H, W], got {fmt(x.shape)}")
    ctx.expect_float(x)
    return NodeInfo({"out": TensorSpec((*x.shape[:-2], *ctx.tuple("output_size", 2)))})


def _linear(ctx: Ctx):
    (x,) = ctx.inputs.values()
    if not x.shape:
        raise ctx.fail("expects input [*, features], got a scalar per sample []")
    ctx.expect_float(x)
    f_in, f_out = x.shape[-1], ctx.p["out_features"]
    lead = math.prod(x.shape[:-1])
    params = f_in * f_out + (f_out if ctx.p["bias"] else 0)
    return NodeInfo({"out": TensorSpec((*x.shape[:-1], f_out))}, params, lead * f_in * f_out)


def _embedding(ctx: Ctx):
    (x,) = ctx.inputs.values()
    if x.dtype != "int64":
        raise ctx.fail(f"needs int64 indices, got {x.dtype}; set the Input's dtype to int64")
    num, dim, pad = ctx.p["num_embeddings"], ctx.p["embedding_dim"], ctx.p["padding_idx"]
    if pad is not None and not -num <= pad < num:
        raise ctx.fail(f"padding_idx ({pad}) must be within num_embeddings ({num})")
    return NodeInfo({"out": TensorSpec((*x.shape, dim))}, num * dim)


def _batchnorm(ctx: Ctx, ranks, layout):
    (x,) = ctx.inputs.values()
    ctx.expect_rank(x, ranks, layout)
    ctx.expect_float(x)
    ctx.expect_positive("eps")  # in training mode
    params = 2 * x.shape[0] if ctx.p["affine"] else 0
    return NodeInfo({"out": x}, params)


def _layernorm(ctx: Ctx):
    (x,) = ctx.inputs.values()
    k = ctx.p["normalized_dims"]
    if len(x.shape) < k:
        raise ctx.fail(f"normalizes the last {k} dims but its input {fmt(x.shape)} has {len(x.shape)}; "
                       "lower normalized_dims")
    ctx.expect_float(x)
    features = math.prod(x.shape[len(x.shape) - k:])
    params = 0
    if ctx.p["elementwise_affine"]:
        params = features * (2 if ctx.p["bias"] else 1)
    return NodeInfo({"out": x}, params)


def _groupnorm(ctx: Ctx):
    (x,) = ctx.inputs.values()
    if not x.shape:
        raise ctx.fail("expects input [C, *], got []")
    ctx.expect_float(x)
    c, g = x.shape[0], ctx.p["num_groups"]
    if c % g:
        raise ctx.fail(f"num_groups ({g}) must divide the channels ({c})")
    return NodeInfo({"out": x}, 2 * c if ctx.p["affine"] else 0)


def _dropout(ctx: Ctx, spatial: bool):
    (x,) = ctx.inputs.values()
    if spatial:
        ctx.expect_rank(x, (3,), "[C, H, W]", "; use Dropout for other shapes")
    ctx.expect_float(x)
    return NodeInfo({"out": x})


def _recurrent(ctx: Ctx, gates: int):
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


def _mha(ctx: Ctx):
    x, t, e = _attention_size(ctx, "num_heads")
    bias = ctx.p["bias"]
    params = 4 * e * e + (4 * e if bias else 0)
    return NodeInfo({"out": x}, params, 4 * t * e * e + 2 * t * t * e)


def _encoder_layer(ctx: Ctx):
    x, t, e = _attention_size(ctx, "nhead")
    ff, bias = ctx.p["dim_feedforward"], ctx.p["bias"]
    b = 1 if bias else 0
    params = 4 * e * e + 4 * e * b + 2 * e * ff + (ff + e) * b + 2 * e * (1 + b)
    return NodeInfo({"out": x}, params, 4 * t * e * e + 2 * t * t * e + 2 * t * e * ff)


def _flatten(ctx: Ctx):
    (x,) = ctx.inputs.values()
    rank = len(x.shape)
    start = ctx.batched_dim(ctx.p["start_dim"], rank, "start_dim")
    end = ctx.batched_dim(ctx.p["end_dim"], rank, "end_dim")
    if start == 0 and math.prod(x.shape[:end]) != 1:
        raise ctx.fail("start_dim=0 would merge the batch dimension; use start_dim=1")
    if start == 0:  # merging the batch with size-1 dims only drops them
        return NodeInfo({"out": TensorSpec(x.shape[end:], x.dtype)})
    if start > end:
        raise ctx.fail(f"start_dim ({ctx.p['start_dim']}) comes after end_dim ({ctx.p['end_dim']})")
    if start == end:
        return NodeInfo({"out": x})
    full = (None, *x.shape)
    shape = (*full[1:start], math.prod(full[start:end + 1]), *full[end + 1:])
    return NodeInfo({"out": TensorSpec(shape, x.dtype)})


def _reshape(ctx: Ctx):
    (x,) = ctx.inputs.values()
    target = list(ctx.p["shape"])
    total = math.prod(x.shape)
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if known == 0 or total % known:
            raise ctx.fail(f"cannot reshape {fmt(x.shape)} ({total} values) to {fmt(target)}")
        target[target.index(-1)] = total // known
    elif known != total:
        raise ctx.fail(f"cannot reshape {fmt(x.shape)} ({total} values) to {fmt(target)} ({known} values)")
    return NodeInfo({"out": TensorSpec(tuple(target), x.dtype)})


def _permute(ctx: Ctx):
    (x,) = ctx.inputs.values()
    dims = ctx.p["dims"]
    if sorted(dims) != list(range(len(x.shape) + 1)):
        raise ctx.fail(f"dims {fmt(dims)} must be a permutation of 0..{len(x.shape)} "
                       f"for input batch + {fmt(x.shape)}")
    if dims[0] != 0:
        raise ctx.fail("must keep the batch first: dims must start with 0")
    full = (None, *x.shape)
    return NodeInfo({"out": TensorSpec(tuple(full[d] for d in dims[1:]), x.dtype)})


def _concat(ctx: Ctx):
    specs = list(ctx.inputs.values())
    first = specs[0]
    dim = ctx.batched_dim(ctx.p["dim"], len(first.shape))
    if dim == 0:
        raise ctx.fail("cannot concatenate along the batch (dim 0); use dim=1 for channels")
    for port, spec in ctx.inputs.items():
        if len(spec.shape) != len(first.shape) or any(
                a != b for i, (a, b) in enumerate(zip(spec.shape, first.shape)) if i != dim - 1):
            raise ctx.fail(f"inputs must match except along dim {ctx.p['dim']}: "
                           f"{fmt(first.shape)} and {fmt(spec.shape)} on '{port}'", port)
    shape = list(first.shape)
    shape[dim - 1] = sum(s.shape[dim - 1] for s in specs)
    dtype = "float32" if any(s.dtype == "float32" for s in specs) else first.dtype
    return NodeInfo({"out": TensorSpec(tuple(shape), dtype)})


def _elementwise(ctx: Ctx):
    specs = list(ctx.inputs.items())
    shape = list(specs[0][1].shape)
    for port, spec in specs[1:]:
        if len(spec.shape) != len(shape):
            raise ctx.fail(f"inputs must have the same number of dims: {fmt(shape)} and {fmt(spec.shape)} "
                           f"on '{port}'", port)
        for i, (a, b) in enumerate(zip(shape, spec.shape)):
            if a != b and 1 not in (a, b):
                raise ctx.fail(f"cannot broadcast {fmt(shape)} with {fmt(spec.shape)} on '{port}' "
                               f"(dim {i + 1}: {a} vs {b}); make the shapes equal, e.g. with a 1x1 Conv2d "
                               "or a Linear on the shortcut", port)
            shape[i] = max(a, b)
    dtype = "float32" if any(s.dtype == "float32" for _, s in specs) else specs[0][1].dtype
    return NodeInfo({"out": TensorSpec(tuple(shape), dtype)})


def _activation(ctx: Ctx):
    (x,) = ctx.inputs.values()
    ctx.expect_float(x)
    if "dim" in ctx.p:
        ctx.batched_dim(ctx.p["dim"], len(x.shape))
    return NodeInfo({"out": x})


_SCALAR = {"out": TensorSpec(())}


def _class_loss(ctx: Ctx, allow_probabilities: bool):
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


def _regression_loss(ctx: Ctx):
    x, y = ctx.inputs["input"], ctx.inputs["target"]
    ctx.expect_float(x, "input")
    if y.dtype != "float32":
        raise ctx.fail(f"needs a float32 target, got {y.dtype}; set the Target's dtype to float32", "target")
    if x.shape != y.shape:
        raise ctx.fail(f"input {fmt(x.shape)} and target {fmt(y.shape)} must have the same shape", "target")
    if "delta" in ctx.p:  # HuberLoss
        ctx.expect_positive("delta")
    return NodeInfo(_SCALAR)


def _data(ctx: Ctx):
    shape = ctx.p["shape"]
    if shape is None:
        raise ctx.fail("has no shape: set its shape, or pick a dataset to take it from")
    if ctx.type == "Input" and any(d < 1 for d in shape):
        raise ctx.fail(f"shape {fmt(shape)} must hold positive sizes")
    return NodeInfo({"out": TensorSpec(tuple(shape), ctx.p["dtype"])})


RULES = {
    "Input": _data, "Target": _data,
    "Linear": _linear,
    "Conv1d": lambda c: _conv(c, 1), "Conv2d": lambda c: _conv(c, 2),
    "ConvTranspose2d": lambda c: _conv(c, 2, transpose=True),
    "Embedding": _embedding,
    "MaxPool1d": lambda c: _pool(c, 1), "MaxPool2d": lambda c: _pool(c, 2),
    "AvgPool2d": lambda c: _pool(c, 2, avg=True), "AdaptiveAvgPool2d": _adaptive_avg_pool,
    "BatchNorm1d": lambda c: _batchnorm(c, (1, 2), "[C] or [C, L]"),
    "BatchNorm2d": lambda c: _batchnorm(c, (3,), "[C, H, W]"),
    "LayerNorm": _layernorm, "GroupNorm": _groupnorm,
    "Dropout": lambda c: _dropout(c, False), "Dropout2d": lambda c: _dropout(c, True),
    "LSTM": lambda c: _recurrent(c, 4), "GRU": lambda c: _recurrent(c, 3),
    "MultiheadAttention": _mha, "TransformerEncoderLayer": _encoder_layer,
    "Flatten": _flatten, "Reshape": _reshape, "Permute": _permute, "Concat": _concat,
    "Add": _elementwise, "Multiply": _elementwise,
    **{name: _activation for name in ("ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh",
                                      "Softmax", "LogSoftmax")},
    "CrossEntropyLoss": lambda c: _class_loss(c, True), "NLLLoss": lambda c: _class_loss(c, False),
    **{name: _regression_loss for name in ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
                                           "BCEWithLogitsLoss", "BCELoss")},
}


def infer_node(node_id: str, type_name: str, params: dict, inputs: dict) -> NodeInfo:
    """Output specs, params and MACs of one node; raises ShapeError on an impossible input.

    An output of more than MAX_INT values per sample is refused too: torch cannot hold it,
    and without the bound sizes could grow without limit along a chain of layers."""
    ctx = Ctx(node_id, type_name, params, inputs)
    info = RULES[type_name](ctx)
    for spec in info.outputs.values():
        if math.prod(spec.shape) > MAX_INT:
            raise ctx.fail(f"would output more than 2**63 - 1 values per sample ({len(spec.shape)} dims), "
                           "more than torch can hold; reduce its sizes")
    return info
