"""Hypothesis cases and torch oracles for the tensor and arithmetic types (graphs/families/tensors.py),
merged into tests/engine/test_shape_property.py's `CASES` and used by its `torch_apply`.

Each case draws (params, input specs); each oracle applies the plain torch call eagerly and returns
(output or tuple of outputs, parameter count)."""

import math

import torch
from hypothesis import strategies as st

from engine.shape_rules import TensorSpec

dims = st.integers(1, 5)
small_dim = st.integers(-5, 4)


def _specs(min_rank=1, max_rank=4, size=dims):
    return st.lists(size, min_size=min_rank, max_size=max_rank).map(lambda s: TensorSpec(tuple(s)))


def _single(**params):
    return st.tuples(st.fixed_dictionaries(params), _specs().map(lambda s: {"in": s}))


@st.composite
def _pair(draw, matmul=False):
    rank = draw(st.integers(2 if matmul else 1, 4))
    base = draw(st.lists(dims, min_size=rank, max_size=rank))
    other = list(base)
    if matmul:
        other[-2], other[-1] = base[-1] if draw(st.integers(0, 5)) else draw(dims), draw(dims)
    for i in range(rank - (2 if matmul else 0)):
        if draw(st.booleans()):
            (base if draw(st.booleans()) else other)[i] = 1
    if draw(st.integers(0, 9)) == 0:
        other = other[1:]
    return {}, {"input": TensorSpec(tuple(base)), "other": TensorSpec(tuple(other))}


@st.composite
def _parameter(draw):
    params = {"shape": draw(st.lists(dims, min_size=1, max_size=3)),
              "init": draw(st.sampled_from(["zeros", "ones", "normal", "uniform"]))}
    return params, {}


@st.composite
def _reduction(draw):
    spec = draw(_specs())
    dim = draw(st.lists(st.integers(-5, 4), min_size=0, max_size=3, unique=True))
    return {"dim": dim, "keepdim": draw(st.booleans())}, {"in": spec}


@st.composite
def _unflatten(draw):
    spec = draw(_specs(1, 3, st.integers(1, 12)))
    sizes = draw(st.lists(st.sampled_from([-1, 1, 2, 3, 4]), min_size=1, max_size=3))
    if sizes.count(-1) > 1:
        sizes = [2 if d == -1 else d for d in sizes]
    return {"dim": draw(small_dim), "unflattened_size": sizes}, {"in": spec}


@st.composite
def _expand(draw):
    spec = draw(_specs(1, 3, st.integers(1, 3)))
    size = draw(st.lists(st.sampled_from([1, 2, 3]), min_size=len(spec.shape), max_size=len(spec.shape)))
    if draw(st.integers(0, 9)) == 0:
        size = size + [2]
    return {"size": size}, {"in": spec}


@st.composite
def _split(draw):
    spec = draw(_specs(1, 3, st.integers(1, 8)))
    sections = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    return {"split_size_or_sections": sections, "dim": draw(small_dim)}, {"in": spec}


@st.composite
def _sample(draw):
    spec = draw(_specs())
    logvar = spec if draw(st.integers(0, 5)) else draw(_specs())
    return {}, {"mean": spec, "logvar": logvar}


@st.composite
def _stack(draw):
    count = draw(st.integers(2, 3))
    spec = draw(_specs(0, 3))
    specs = {f"in{i}": spec for i in range(count)}
    if draw(st.integers(0, 5)) == 0:
        specs["in1"] = draw(_specs(0, 3))
    return {"inputs": count, "dim": draw(st.integers(-5, 5))}, specs


_INDEX = st.integers(-6, 6)
CASES = {
    "Parameter": _parameter(),
    **{name: _pair() for name in ("Subtract", "Divide", "Maximum", "Minimum")},
    "MatMul": _pair(matmul=True),
    "Scale": _single(scale=st.sampled_from([1.0, 0.5, -2.0]), bias=st.sampled_from([0.0, 1.0])),
    **{name: _single() for name in ("Exp", "Log", "Sqrt", "Abs")},
    "Pow": _single(exponent=st.sampled_from([2.0, 0.5, -1.0, 3.0])),
    "Clamp": _single(bounds=st.sampled_from(["min and max", "min", "max"]), min=st.sampled_from([-0.5, 0.0]),
                     max=st.sampled_from([0.5, -1.0])),
    **{name: _reduction() for name in ("Mean", "Sum", "Max", "Min")},
    "Sample": _sample(),
    "ToDtype": _single(dtype=st.sampled_from(["int64", "float32"])),
    "Unflatten": _unflatten(),
    "Squeeze": _single(dim=small_dim), "Unsqueeze": _single(dim=st.integers(-6, 5)),
    "Transpose": _single(dim=small_dim, dim1=small_dim),
    "Expand": _expand(),
    "Split": _split(),
    "Chunk": _single(chunks=st.integers(1, 5), dim=small_dim),
    "Select": _single(dim=small_dim, index=_INDEX),
    "Slice": _single(dim=small_dim, start=_INDEX, end=st.one_of(st.none(), _INDEX), step=st.integers(1, 3)),
    "Stack": _stack(),
}


def _parameter_oracle(params, args, batch):
    shape = params["shape"]
    return torch.zeros(1, *shape).expand(batch, *shape), math.prod(shape)


def _reduce(function):
    def apply(params, args, batch):
        dim = params["dim"]
        if not dim:  # torch reduces every dim, the batch too
            return function(args[0], dim=None if function is not torch.amax else [], keepdim=params["keepdim"]), 0
        return function(args[0], dim=tuple(dim), keepdim=params["keepdim"]), 0
    return apply


def _clamp(params, args, batch):
    bounds = params["bounds"]
    return torch.clamp(args[0], **{s: params[s] for s in ("min", "max") if bounds in (s, "min and max")}), 0


def _index(params, last):
    dim = params["dim"]
    return (Ellipsis, last, *[slice(None)] * (-dim - 1)) if dim < 0 else (*[slice(None)] * dim, last)


def _sample_oracle(params, args, batch):
    mean, logvar = args
    return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean), 0


def _plain(function):
    return lambda params, args, batch: (function(params, *args), 0)


ORACLES = {
    "Parameter": _parameter_oracle,
    "Subtract": _plain(lambda p, a, b: a - b), "Divide": _plain(lambda p, a, b: a / b),
    "Maximum": _plain(lambda p, a, b: torch.maximum(a, b)), "Minimum": _plain(lambda p, a, b: torch.minimum(a, b)),
    "MatMul": _plain(lambda p, a, b: torch.matmul(a, b)),
    "Scale": _plain(lambda p, x: p["scale"] * x + p["bias"]),
    "Exp": _plain(lambda p, x: torch.exp(x)), "Log": _plain(lambda p, x: torch.log(x)),
    "Sqrt": _plain(lambda p, x: torch.sqrt(x)), "Abs": _plain(lambda p, x: torch.abs(x)),
    "Pow": _plain(lambda p, x: torch.pow(x, p["exponent"])),
    "Clamp": _clamp,
    "Mean": _reduce(torch.mean), "Sum": _reduce(torch.sum), "Max": _reduce(torch.amax), "Min": _reduce(torch.amin),
    "Sample": _sample_oracle,
    "ToDtype": _plain(lambda p, x: x.to({"int64": torch.int64, "float32": torch.float32}[p["dtype"]])),
    "Unflatten": _plain(lambda p, x: x.unflatten(p["dim"], p["unflattened_size"])),
    "Squeeze": _plain(lambda p, x: x.squeeze(p["dim"])), "Unsqueeze": _plain(lambda p, x: x.unsqueeze(p["dim"])),
    "Transpose": _plain(lambda p, x: x.transpose(p["dim"], p["dim1"])),
    "Expand": _plain(lambda p, x: x.expand(-1, *p["size"])),
    "Split": _plain(lambda p, x: torch.split(x, p["split_size_or_sections"], dim=p["dim"])),
    "Chunk": _plain(lambda p, x: torch.chunk(x, p["chunks"], dim=p["dim"])),
    "Select": _plain(lambda p, x: x[_index(p, p["index"])]),
    "Slice": _plain(lambda p, x: x[_index(p, slice(p["start"], p["end"], p["step"]))]),
    "Stack": lambda params, args, batch: (torch.stack(args, dim=params["dim"]), 0),
}


def refused_on_purpose(type_name, params, specs, out) -> bool:
    """Whether inference refuses on purpose what torch takes: a dim param naming the batch, which torch
    may take as a no-op (x.squeeze(0) of a batch of 2, x[0:], torch.chunk(x, 1, 0)), or a Chunk that torch
    cuts into fewer pieces than asked for (the node's output ports are fixed by `chunks`)."""
    if type_name == "Chunk" and len(out) != params["chunks"]:
        return True
    if type_name == "Sample":  # torch would broadcast a mean against a logvar of another shape
        return specs["mean"].shape != specs["logvar"].shape
    if type_name not in CASES or not isinstance(params.get("dim"), int) or not specs:
        return False
    rank = len(next(iter(specs.values())).shape) + (2 if type_name in ("Unsqueeze", "Stack") else 1)
    dims = [params["dim"], params.get("dim1", params["dim"])]
    return any(-rank <= d < rank and d % rank == 0 for d in dims)
