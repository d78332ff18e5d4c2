"""Op entries of the tensor and arithmetic types (graphs/families/tensors.py): Parameter, Subtract & co,
maths, reductions, ToDtype, Unflatten, Squeeze, Transpose, Expand, Split, Chunk, Select, Slice, Stack, Sample.

All but Unflatten are functional: their `forward` recipe names the torch call. Every `dim` counts the
batch as dim 0, as in torch, and a rule refuses a dim that would reach into the batch. No torch here.
"""

from __future__ import annotations

import math

from engine.ops.base import Ctx, Emitter, NodeInfo, Op, TensorSpec, fmt, module_op
from engine.ops.tensor_ops import _elementwise


def _one(ctx: Ctx) -> TensorSpec:
    (x,) = ctx.inputs.values()
    return x


def _feature_dim(ctx: Ctx, x: TensorSpec, name: str = "dim", extra: int = 0) -> int:
    """A torch dim of x normalised to 1..rank (+extra); dim 0, the batch, is refused."""
    dim = ctx.batched_dim(ctx.p[name], len(x.shape) + extra, name)
    if dim == 0:
        raise ctx.fail(f"{name}={ctx.p[name]} is the batch (dim 0); the batch is never cut, moved or reduced: "
                       "use a dim from 1 on")
    return dim


# ---- Parameter ----------------------------------------------------------------
def _parameter(ctx: Ctx) -> NodeInfo:
    shape = tuple(ctx.p["shape"])
    return NodeInfo({"out": TensorSpec(shape)}, params=math.prod(shape))


def parameter_init(params: dict) -> tuple[str, dict]:
    """The `torch.nn.init` function and its arguments that give a Parameter its first value."""
    init = params["init"]
    if init == "normal":
        return "normal_", {"std": params["std"]}
    if init == "uniform":
        return "uniform_", {"a": -params["bound"], "b": params["bound"]}
    return f"{init}_", {}


def _emit_parameter(e: Emitter, params: dict, args: list):
    """The stored tensor [1, *shape] (so `state_dict` reads like a class token's), expanded over the batch."""
    name, kwargs = parameter_init(params)
    weight = e.parameter((1, *params["shape"]), name, kwargs)
    return e.method("expand", (weight, e.batch_size(), *params["shape"]))  # sizes, not -1: plain in ONNX


# ---- arithmetic -----------------------------------------------------------------
def _float_elementwise(ctx: Ctx) -> NodeInfo:
    info = _elementwise(ctx)
    return NodeInfo({"out": TensorSpec(info.outputs["out"].shape)})


def _matmul(ctx: Ctx) -> NodeInfo:
    a, b = ctx.inputs["input"], ctx.inputs["other"]
    for port, spec in (("input", a), ("other", b)):
        ctx.expect_float(spec, port)
        if len(spec.shape) < 2:
            raise ctx.fail(f"needs matrices [..., n, m] on both ports (the batch apart), got {fmt(spec.shape)} on "
                           f"'{port}'; add an Unsqueeze to make a row", port)
    if len(a.shape) != len(b.shape):
        raise ctx.fail(f"inputs must have the same number of dims: {fmt(a.shape)} and {fmt(b.shape)}", "other")
    if a.shape[-1] != b.shape[-2]:
        raise ctx.fail(f"cannot multiply {fmt(a.shape)} by {fmt(b.shape)}: {a.shape[-1]} columns against "
                       f"{b.shape[-2]} rows", "other")
    lead = []
    for i, (x, y) in enumerate(zip(a.shape[:-2], b.shape[:-2])):
        if x != y and 1 not in (x, y):
            raise ctx.fail(f"cannot broadcast {fmt(a.shape)} with {fmt(b.shape)} (dim {i + 1}: {x} vs {y})", "other")
        lead.append(max(x, y))
    out = (*lead, a.shape[-2], b.shape[-1])
    return NodeInfo({"out": TensorSpec(out)}, macs=math.prod(out) * a.shape[-1])


def _float_unary(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    ctx.expect_float(x)
    return NodeInfo({"out": x})


def _emit_scale(e: Emitter, params: dict, args: list):
    if params["bias"] == 0.0:
        return e.function("operator.mul", (args[0], params["scale"]))
    scaled = e.function("operator.mul", (args[0], params["scale"]), helper="scaled")
    return e.function("operator.add", (scaled, params["bias"]))


def _emit_clamp(e: Emitter, params: dict, args: list):
    bounds = params["bounds"]
    kwargs = {side: params[side] for side in ("min", "max") if bounds in (side, "min and max")}
    return e.function("torch.clamp", (args[0],), kwargs)


def _function(name: str, *constants: str):
    """A call of `name` on the input, then the named params in order."""
    def emit(e: Emitter, params: dict, args: list):
        return e.function(name, (*args, *(params[c] for c in constants)))
    return emit


def _to_dtype(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    return NodeInfo({"out": TensorSpec(x.shape, ctx.p["dtype"])})


_CASTS = {"float32": "float", "int64": "long"}  # x.float(), x.long(): plain Python, one ONNX Cast


def _emit_to_dtype(e: Emitter, params: dict, args: list):
    return e.method(_CASTS[params["dtype"]], (args[0],))


# ---- reductions ------------------------------------------------------------------
def _reduction(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    if ctx.type == "Mean":
        ctx.expect_float(x)
    dims = ctx.p["dim"]
    if not dims:
        raise ctx.fail("needs at least one dim to reduce (an empty list would reduce the batch too)")
    full = len(x.shape) + 1
    normal = []
    for dim in dims:
        if not -full <= dim < full:
            raise ctx.fail(f"dim={dim} is out of range for input of {full} dims (batch + {fmt(x.shape)})")
        normal.append(dim % full)
    if 0 in normal:
        raise ctx.fail("cannot reduce over the batch (dim 0): each sample keeps its own result; "
                       "reduce dims from 1 on, and let the loss average over the batch")
    if len(set(normal)) != len(normal):
        raise ctx.fail(f"dim {fmt(dims)} names a dim twice")
    if ctx.p["keepdim"]:
        shape = tuple(1 if i + 1 in normal else d for i, d in enumerate(x.shape))
    else:
        shape = tuple(d for i, d in enumerate(x.shape) if i + 1 not in normal)
    return NodeInfo({"out": TensorSpec(shape, x.dtype)})


def _emit_reduction(function: str, method: bool):
    def emit(e: Emitter, params: dict, args: list):
        dims = tuple(params["dim"]) if len(params["dim"]) > 1 else params["dim"][0]
        if method:
            return e.method(function, (args[0], dims), {"keepdim": True} if params["keepdim"] else {})
        return e.function(function, (args[0], dims), {"keepdim": True} if params["keepdim"] else {})
    return emit


# ---- shape ops ----------------------------------------------------------------------
def _unflatten(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    dim = _feature_dim(ctx, x)
    sizes = list(ctx.p["unflattened_size"])
    size = x.shape[dim - 1]
    known = math.prod(d for d in sizes if d != -1)
    if -1 in sizes:
        if size % known:
            raise ctx.fail(f"cannot unflatten size {size} into {fmt(sizes)}")
        sizes[sizes.index(-1)] = size // known
    elif known != size:
        raise ctx.fail(f"cannot unflatten size {size} into {fmt(sizes)} ({known} values)")
    return NodeInfo({"out": TensorSpec((*x.shape[:dim - 1], *sizes, *x.shape[dim:]), x.dtype)})


def _squeeze(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    dim = _feature_dim(ctx, x)
    if x.shape[dim - 1] != 1:  # torch leaves a dim of another size as it is
        return NodeInfo({"out": x})
    return NodeInfo({"out": TensorSpec(x.shape[:dim - 1] + x.shape[dim:], x.dtype)})


def _unsqueeze(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    dim = _feature_dim(ctx, x, extra=1)
    return NodeInfo({"out": TensorSpec((*x.shape[:dim - 1], 1, *x.shape[dim - 1:]), x.dtype)})


def _transpose(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    a = ctx.batched_dim(ctx.p["dim"], len(x.shape))
    b = ctx.batched_dim(ctx.p["dim1"], len(x.shape), "dim1")
    if a == b:
        return NodeInfo({"out": x})
    _feature_dim(ctx, x), _feature_dim(ctx, x, "dim1")
    shape = list(x.shape)
    shape[a - 1], shape[b - 1] = shape[b - 1], shape[a - 1]
    return NodeInfo({"out": TensorSpec(tuple(shape), x.dtype)})


def _expand(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    size = ctx.p["size"]
    if len(size) != len(x.shape):
        raise ctx.fail(f"size {fmt(size)} must give one size per dim of the input {fmt(x.shape)}")
    shape = []
    for i, (old, new) in enumerate(zip(x.shape, size)):
        if new != old and old != 1:
            raise ctx.fail(f"can only expand a dim of size 1: dim {i + 1} has size {old}, asked for {new}")
        shape.append(new)
    return NodeInfo({"out": TensorSpec(tuple(shape), x.dtype)})


def _pieces(ctx: Ctx, sizes: list[int]) -> NodeInfo:
    x = _one(ctx)
    dim = _feature_dim(ctx, x)
    return NodeInfo({f"out{i}": TensorSpec((*x.shape[:dim - 1], size, *x.shape[dim:]), x.dtype)
                     for i, size in enumerate(sizes)})


def _split(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    dim = _feature_dim(ctx, x)
    sections, size = ctx.p["split_size_or_sections"], x.shape[dim - 1]
    if sum(sections) != size:
        raise ctx.fail(f"sections {fmt(sections)} add up to {sum(sections)}, but dim {ctx.p['dim']} has size {size}")
    return _pieces(ctx, sections)


def _chunk(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    dim = _feature_dim(ctx, x)
    chunks, size = ctx.p["chunks"], x.shape[dim - 1]
    step = -(-size // chunks)
    sizes = [min(step, size - start) for start in range(0, size, step)]
    if len(sizes) != chunks:
        raise ctx.fail(f"size {size} of dim {ctx.p['dim']} makes {len(sizes)} chunks of {step}, not {chunks} "
                       "(torch.chunk gives fewer pieces then); pick a chunks that divides it, or use Split")
    return _pieces(ctx, sizes)


def _emit_pieces(function: str, param: str):
    def emit(e: Emitter, params: dict, args: list):
        pieces = e.function(function, (args[0], params[param]), {"dim": params["dim"]})
        return {f"out{i}": e.item(pieces, i, f"out{i}") for i in range(
            params[param] if isinstance(params[param], int) else len(params[param]))}
    return emit


def _select(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    dim = _feature_dim(ctx, x)
    size, index = x.shape[dim - 1], ctx.p["index"]
    if not -size <= index < size:
        raise ctx.fail(f"index {index} is out of range for dim {ctx.p['dim']} of size {size}")
    return NodeInfo({"out": TensorSpec(x.shape[:dim - 1] + x.shape[dim:], x.dtype)})


def _slice(ctx: Ctx) -> NodeInfo:
    x = _one(ctx)
    dim = _feature_dim(ctx, x)
    size = x.shape[dim - 1]
    length = len(range(*slice(ctx.p["start"], ctx.p["end"], ctx.p["step"]).indices(size)))
    if length == 0:
        raise ctx.fail(f"[{ctx.p['start']}:{ctx.p['end']}] selects nothing of dim {ctx.p['dim']} (size {size})")
    return NodeInfo({"out": TensorSpec((*x.shape[:dim - 1], length, *x.shape[dim:]), x.dtype)})


def _index(params: dict, last):
    dim = params["dim"]
    if dim < 0:
        return (Ellipsis, last, *[slice(None)] * (-dim - 1))
    return (*[slice(None)] * dim, last)


def _emit_select(e: Emitter, params: dict, args: list):
    return e.function("operator.getitem", (args[0], _index(params, params["index"])))


def _emit_slice(e: Emitter, params: dict, args: list):
    step = None if params["step"] == 1 else params["step"]
    start = params["start"] or None
    return e.function("operator.getitem", (args[0], _index(params, slice(start, params["end"], step))))


def _stack(ctx: Ctx) -> NodeInfo:
    specs = list(ctx.inputs.items())
    first = specs[0][1]
    for port, spec in specs[1:]:
        if spec.shape != first.shape:
            raise ctx.fail(f"inputs must have the same shape: {fmt(first.shape)} and {fmt(spec.shape)} on '{port}'",
                           port)
    dim = _feature_dim(ctx, first, extra=1)
    dtype = "float32" if any(s.dtype == "float32" for _, s in specs) else first.dtype
    return NodeInfo({"out": TensorSpec((*first.shape[:dim - 1], len(specs), *first.shape[dim - 1:]), dtype)})


def _emit_stack(e: Emitter, params: dict, args: list):
    return e.function("torch.stack", (list(args),), {"dim": params["dim"]})


# ---- Sample ------------------------------------------------------------------------
def _sample(ctx: Ctx) -> NodeInfo:
    mean, logvar = ctx.inputs["mean"], ctx.inputs["logvar"]
    ctx.expect_float(mean, "mean")
    ctx.expect_float(logvar, "logvar")
    if mean.shape != logvar.shape:
        raise ctx.fail(f"mean {fmt(mean.shape)} and logvar {fmt(logvar.shape)} must have the same shape", "logvar")
    return NodeInfo({"out": mean})


def _emit_sample(e: Emitter, params: dict, args: list):
    """mean + exp(0.5 * logvar) * (randn_like(mean) * float(self.training)): the noise is drawn from torch's
    generator (so a seeded run repeats) and multiplied by 0 in eval mode, which leaves the mean."""
    mean, logvar = args
    half = e.function("operator.mul", (0.5, logvar), helper="half_logvar")
    std = e.function("torch.exp", (half,), helper="std")
    noise = e.function("torch.randn_like", (mean,), helper="noise")
    on = e.function("builtins.float", (e.training(),), helper="training_factor")  # 1.0 or 0.0, for any exporter
    noise = e.function("operator.mul", (noise, on), helper="training_noise")
    spread = e.function("operator.mul", (std, noise), helper="spread")
    return e.function("operator.add", (mean, spread))


def _binary(function: str, shape=_elementwise):
    return Op(shape, forward=lambda e, params, args: e.function(function, tuple(args)))


OPS = {
    "Parameter": Op(_parameter, forward=_emit_parameter),
    "Subtract": _binary("operator.sub"),
    "Divide": _binary("operator.truediv", _float_elementwise),
    "Maximum": _binary("torch.maximum"), "Minimum": _binary("torch.minimum"),
    "MatMul": _binary("operator.matmul", _matmul),
    "Scale": Op(_float_unary, forward=_emit_scale),
    "Exp": Op(_float_unary, forward=_function("torch.exp")),
    "Log": Op(_float_unary, forward=_function("torch.log")),
    "Sqrt": Op(_float_unary, forward=_function("torch.sqrt")),
    "Abs": Op(_float_unary, forward=_function("torch.abs")),
    "Pow": Op(_float_unary, forward=_function("torch.pow", "exponent")),
    "Clamp": Op(_float_unary, forward=_emit_clamp),
    "ToDtype": Op(_to_dtype, forward=_emit_to_dtype),
    "Mean": Op(_reduction, forward=_emit_reduction("mean", method=True)),
    "Sum": Op(_reduction, forward=_emit_reduction("sum", method=True)),
    "Max": Op(_reduction, forward=_emit_reduction("torch.amax", method=False)),
    "Min": Op(_reduction, forward=_emit_reduction("torch.amin", method=False)),
    "Sample": Op(_sample, forward=_emit_sample),
    "Unflatten": module_op(_unflatten, "Unflatten"),
    "Squeeze": Op(_squeeze, forward=lambda e, p, args: e.method("squeeze", (args[0], p["dim"]))),
    "Unsqueeze": Op(_unsqueeze, forward=lambda e, p, args: e.method("unsqueeze", (args[0], p["dim"]))),
    "Transpose": Op(_transpose, forward=lambda e, p, args: e.method("transpose", (args[0], p["dim"], p["dim1"]))),
    "Expand": Op(_expand, forward=lambda e, p, args: e.method("expand", (args[0], -1, *p["size"]))),
    "Split": Op(_split, forward=_emit_pieces("torch.split", "split_size_or_sections")),
    "Chunk": Op(_chunk, forward=_emit_pieces("torch.chunk", "chunks")),
    "Select": Op(_select, forward=_emit_select),
    "Slice": Op(_slice, forward=_emit_slice),
    "Stack": Op(_stack, forward=_emit_stack),
}
