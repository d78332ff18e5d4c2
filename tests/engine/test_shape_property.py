"""Shape inference is exact: for every node type, over its parameter space, the inferred
output shape equals the shape torch produces, the parameter count equals torch's, and
an input that inference refuses is one that torch refuses too (or, for the few rules
that are deliberately stricter than torch, one that would silently mix the batch).

The oracle below applies real torch modules and ops eagerly; the success branch also
runs the node through the compiler so the compiled module agrees as well.
"""

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from engine.compiler import compile_graph
from engine.modules import build_module
from engine.shape_rules import TensorSpec, infer_node
from graphs import CATALOGUE, Graph
from graphs.errors import ShapeError
from tests.engine import seqloss_cases, tensor_cases

BATCH = 2
# Rules stricter than torch on purpose, where torch only warns or broadcasts silently:
# a loss over mismatched shapes, Dropout2d on a non-image, LayerNorm asked for more dims
# than its input has. (Refusals where torch would read the batch as a channel are
# detected by the oracle itself: see `follows_batch`.)
STRICTER = {"MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "Dropout2d", "LayerNorm"}
# torch reads an input one dim short of these ranks as a single unbatched sample, i.e. our
# batch as its channels or time steps: inference refuses such inputs, and that is right.
SPATIAL = {1, 2, 3}
SPATIAL_FAMILIES = ("Conv", "ConvTranspose", "MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool")
BATCHED_RANKS = {"LSTM": 3, "GRU": 3, "RNN": 3, "MultiheadAttention": 3, "TransformerEncoderLayer": 3,
                 "TransformerEncoder": 3, "TransformerDecoderLayer": 3, "TransformerDecoder": 3,
                 **{f"{family}{n}d": n + 2 for family in SPATIAL_FAMILIES for n in SPATIAL}}
LOSSES = {name for name, t in CATALOGUE.items() if t.is_loss}

dims = st.integers(1, 6)


def shapes(min_rank=0, max_rank=4, size=dims):
    return st.lists(size, min_size=min_rank, max_size=max_rank).map(tuple)


def floats(min_rank=0, max_rank=4, size=dims):
    return shapes(min_rank, max_rank, size).map(TensorSpec)


def tup(n, lo, hi):
    return st.one_of(st.integers(lo, hi), st.lists(st.integers(lo, hi), min_size=n, max_size=n))


def conv_case(n, transpose=False):
    @st.composite
    def build(draw):
        params = {
            "out_channels": draw(st.integers(1, 6)), "kernel_size": draw(tup(n, 1, 5)),
            "stride": draw(tup(n, 1, 3)), "padding": draw(tup(n, 0, 3)), "dilation": draw(tup(n, 1, 3)),
            "groups": draw(st.integers(1, 3)), "bias": draw(st.booleans()),
        }
        if transpose:
            params["output_padding"] = draw(tup(n, 0, 2))
        else:
            params["padding_mode"] = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
        spec = draw(st.one_of(floats(n + 1, n + 1, st.integers(1, 10)), floats(0, 4)))
        return params, {"in": spec}
    return build()


def pool_case(n, avg=False):
    @st.composite
    def build(draw):
        params = {"kernel_size": draw(tup(n, 1, 4)), "stride": draw(st.one_of(st.none(), tup(n, 1, 3))),
                  "padding": draw(tup(n, 0, 2)), "ceil_mode": draw(st.booleans())}
        if avg:
            params["count_include_pad"] = draw(st.booleans())
        else:
            params["dilation"] = draw(tup(n, 1, 2))
        spec = draw(st.one_of(floats(n + 1, n + 1, st.integers(1, 9)), floats(0, 4)))
        return params, {"in": spec}
    return build()


def adaptive_case(n):
    return single(fixed(output_size=tup(n, 1, 4)), floats(1, n + 2))


def single(params_strategy, spec_strategy=None):
    spec_strategy = floats(0, 4) if spec_strategy is None else spec_strategy
    return st.tuples(params_strategy, spec_strategy.map(lambda s: {"in": s}))


def fixed(**params):
    return st.fixed_dictionaries({k: (v if isinstance(v, st.SearchStrategy) else st.just(v))
                                  for k, v in params.items()})


def recurrent():
    return single(fixed(hidden_size=st.integers(1, 5), num_layers=st.integers(1, 2), bias=st.booleans(),
                        dropout=st.sampled_from([0.0, 0.3]), bidirectional=st.booleans(),
                        output=st.sampled_from(["sequence", "last"])), floats(1, 3))


@st.composite
def multi_input(draw, kind):
    count = draw(st.integers(2, 3))
    base = list(draw(shapes(1, 3, st.integers(1, 4))))
    specs = {}
    for i in range(count):
        shape = list(base)
        if draw(st.booleans()) and shape:
            axis = draw(st.integers(0, len(shape) - 1))
            shape[axis] = draw(st.integers(1, 4))
        if draw(st.integers(0, 9)) == 0:
            shape = shape[1:]
        specs[f"in{i}"] = TensorSpec(tuple(shape))
    params = {"inputs": count}
    if kind == "Concat":
        params["dim"] = draw(st.integers(-4, 4))
    return params, specs


@st.composite
def loss_case(draw, name):
    x = draw(shapes(0, 3, st.integers(1, 4)))
    choice = draw(st.integers(0, 3))
    if choice == 0:
        target = TensorSpec(x[1:], "int64")
    elif choice == 1:
        target = TensorSpec(x, "float32")
    elif choice == 2:
        target = TensorSpec(draw(shapes(0, 3, st.integers(1, 4))), "int64")
    else:
        target = TensorSpec(draw(shapes(0, 3, st.integers(1, 4))), "float32")
    params = {"reduction": draw(st.sampled_from(["mean", "sum"]))}
    if name == "CrossEntropyLoss":
        params["label_smoothing"] = draw(st.sampled_from([0.0, 0.1]))
    return params, {"input": TensorSpec(x), "target": target}


@st.composite
def reshape_case(draw):
    spec = draw(floats(0, 3))
    target = draw(st.lists(st.sampled_from([-1, 1, 2, 3, 4, 6]), min_size=1, max_size=3))
    if target.count(-1) > 1:
        target = [d if d != -1 else 2 for d in target]
    return {"shape": target}, {"in": spec}


@st.composite
def permute_case(draw):
    spec = draw(floats(0, 3))
    dims_ = draw(st.permutations(range(len(spec.shape) + 1)))
    if draw(st.integers(0, 4)) == 0:
        dims_ = dims_[:-1] or [0, 0]
    return {"dims": list(dims_)}, {"in": spec}


@st.composite
def embedding_case(draw):
    params = {"num_embeddings": draw(st.integers(1, 10)), "embedding_dim": draw(st.integers(1, 5)),
              "padding_idx": draw(st.one_of(st.none(), st.integers(-12, 12)))}
    dtype = draw(st.sampled_from(["int64", "int64", "float32"]))
    return params, {"in": TensorSpec(draw(shapes(0, 3)), dtype)}


CASES = {
    "Linear": single(fixed(out_features=st.integers(1, 8), bias=st.booleans())),
    **{f"Conv{n}d": conv_case(n) for n in SPATIAL},
    **{f"ConvTranspose{n}d": conv_case(n, transpose=True) for n in SPATIAL},
    "Embedding": embedding_case(),
    **{f"MaxPool{n}d": pool_case(n) for n in SPATIAL},
    **{f"AvgPool{n}d": pool_case(n, avg=True) for n in SPATIAL},
    **{f"Adaptive{kind}Pool{n}d": adaptive_case(n) for kind in ("Avg", "Max") for n in SPATIAL},
    "BatchNorm1d": single(fixed(affine=st.booleans(), track_running_stats=st.booleans()), floats(0, 3)),
    "BatchNorm2d": single(fixed(affine=st.booleans()), floats(1, 4)),
    "LayerNorm": single(fixed(normalized_dims=st.integers(1, 3), elementwise_affine=st.booleans(),
                              bias=st.booleans())),
    "GroupNorm": single(fixed(num_groups=st.integers(1, 4), affine=st.booleans()), floats(0, 3, st.integers(1, 8))),
    "Dropout": single(fixed(p=st.sampled_from([0.0, 0.5]))),
    "Dropout2d": single(fixed(p=st.sampled_from([0.0, 0.5]))),
    "LSTM": recurrent(), "GRU": recurrent(),
    "MultiheadAttention": single(fixed(num_heads=st.integers(1, 4), bias=st.booleans()),
                                 floats(1, 3, st.integers(1, 8))),
    "TransformerEncoderLayer": single(
        fixed(nhead=st.integers(1, 4), dim_feedforward=st.integers(1, 8), dropout=0.0,
              activation=st.sampled_from(["relu", "gelu"]), norm_first=st.booleans(), bias=st.booleans()),
        floats(1, 3, st.integers(1, 8))),
    "Flatten": single(fixed(start_dim=st.integers(-4, 4), end_dim=st.integers(-4, 4))),
    "Reshape": reshape_case(), "Permute": permute_case(),
    "Concat": multi_input("Concat"), "Add": multi_input("Add"), "Multiply": multi_input("Multiply"),
    "LeakyReLU": single(fixed(negative_slope=st.sampled_from([0.01, 0.2]))),
    "ELU": single(fixed(alpha=st.sampled_from([1.0, 0.5]))),
    "GELU": single(fixed(approximate=st.sampled_from(["none", "tanh"]))),
    "Softmax": single(fixed(dim=st.integers(-5, 5))), "LogSoftmax": single(fixed(dim=st.integers(-5, 5))),
    **{name: single(fixed()) for name in ("ReLU", "SiLU", "Sigmoid", "Tanh")},
    **{name: loss_case(name) for name in LOSSES},
    **tensor_cases.CASES,
    **{name: seqloss_cases.open_target_case(loss_case(name)) for name in seqloss_cases.OPEN_TARGET},
    **seqloss_cases.CASES,
}

from tests.engine import family_cases  # noqa: E402  (it builds on the helpers above)

CASES.update(family_cases.CASES)
STRICTER |= family_cases.STRICTER
BATCHED_RANKS.update(family_cases.BATCHED_RANKS)


def _ints(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def test_every_computing_node_type_has_a_case():
    assert set(CASES) == {name for name, t in CATALOGUE.items() if not t.is_data}


def make_tensor(spec: TensorSpec, type_name: str, params: dict, port: str, inputs: dict, batch=BATCH):
    shape = (batch, *spec.shape)
    special = seqloss_cases.make_tensor(spec, type_name, params, port, inputs, batch)
    if special is not None:
        return special
    if spec.dtype == "int64":
        if type_name == "Embedding":
            return torch.randint(0, params["num_embeddings"], shape)
        classes = (inputs["input"].shape[0] if inputs["input"].shape else 1) if type_name in LOSSES else 3
        return torch.randint(0, classes, shape)
    if type_name in ("BCELoss", "BCEWithLogitsLoss") and port == "target" or type_name == "BCELoss":
        return torch.rand(shape)
    return torch.randn(shape)


def torch_apply(type_name, params, specs, tensors):
    """The oracle: apply the real torch module or op eagerly. Returns (output, parameter count)."""
    args = list(tensors.values())
    if type_name in tensor_cases.ORACLES:
        return tensor_cases.ORACLES[type_name](params, args, next(iter(tensors.values()), torch.empty(BATCH)).shape[0])
    applied = seqloss_cases.apply(type_name, params, specs, tensors)
    if applied is not None:
        return applied
    if type_name in ("Add", "Multiply"):
        out = args[0]
        for other in args[1:]:
            out = out + other if type_name == "Add" else out * other
        return out, 0
    if type_name == "Concat":
        return torch.cat(args, dim=params["dim"]), 0
    if type_name == "Reshape":
        return args[0].reshape(args[0].shape[0], *params["shape"]), 0
    if type_name == "Permute":
        return args[0].permute(*params["dims"]), 0
    module = build_module(type_name, params, specs)
    count = sum(p.numel() for p in module.parameters())
    if type_name in ("LSTM", "GRU"):
        out = module(args[0])[0]
        return (out[:, -1] if params["output"] == "last" else out), count
    if type_name == "MultiheadAttention":
        return module(args[0], args[0], args[0], need_weights=False)[0], count
    return module(*args), count


def follows_batch(type_name, params, specs, out) -> bool:
    """Whether torch maps the batch through: the same op on a batch of 3 gives [3, *rest]
    where a batch of 2 gave [2, *rest]. When it doesn't, torch read the batch as data
    (an "unbatched" input, or broadcasting across samples), which inference rightly refuses."""
    tensors = {port: make_tensor(spec, type_name, params, port, specs, batch=3) for port, spec in specs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out3, _ = torch_apply(type_name, params, specs, tensors)
        except Exception:
            return False
    if isinstance(out, tuple):  # several outputs (Split, Chunk): the first tells
        out, out3 = out[0], out3[0]
    return (out.dim() >= 1 and out3.dim() >= 1 and out.shape[0] == BATCH and out3.shape[0] == 3
            and out.shape[1:] == out3.shape[1:])


def compiled_output_shape(type_name, params, specs, tensors):
    g = Graph()
    for port, spec in specs.items():
        g.add_node("Input", {"shape": list(spec.shape), "dtype": spec.dtype}, f"x_{port}")
    g.add_node(type_name, params, "node")
    for port in specs:
        g.connect(f"x_{port}", "node", target_port=port)
    ports = CATALOGUE[type_name].output_ports(params)
    if "out" in ports and len(ports) > 1:  # a sink gives only `out`: pass every port on to be an output
        for port in ports:
            g.add_node("Identity", {}, f"pass_{port}")
            g.connect("node", f"pass_{port}", source_port=port)
    if not specs:  # a Parameter takes the batch size from the model's first input: add it to one
        g.add_node("Input", {"shape": params["shape"]}, "x_batch")
        g.add_node("Add", {}, "total")
        g.connect("node", "total", target_port="in0")
        g.connect("x_batch", "total", target_port="in1")
        tensors = {"x_batch": torch.randn(BATCH, *params["shape"])}
    compiled = compile_graph(g)
    outputs = compiled.model(*tensors.values())
    return [tuple(out.shape[1:]) for out in (outputs if isinstance(outputs, tuple) else (outputs,))]


@pytest.mark.parametrize("type_name", sorted(CASES))
@settings(max_examples=60)
@given(data=st.data())
def test_inferred_shape_equals_torch(type_name, data):
    raw_params, specs = data.draw(CASES[type_name])
    params = CATALOGUE[type_name].resolve_params(raw_params)
    try:
        info = infer_node("node", type_name, params, specs)
    except ShapeError as error:
        assert error.node == "node" and type_name in error.message
        info = None
    torch.manual_seed(0)
    tensors = {port: make_tensor(spec, type_name, params, port, specs) for port, spec in specs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out, count = torch_apply(type_name, params, specs, tensors)
        except Exception as error:  # torch refused the combination
            assert info is None, f"inference accepted what torch refused: {error}"
            return
    if info is None:
        unbatched = any(len(s.shape) + 1 == BATCHED_RANKS.get(type_name, -9) - 1 for s in specs.values())
        # torch's adaptive pooling has a mean() fast path for output 1 that takes any rank
        fast_path = type_name.startswith("AdaptiveAvgPool") and set(_ints(params["output_size"])) == {1}
        first = out[0] if isinstance(out, tuple) else out
        if type_name in STRICTER or unbatched or first.numel() == 0 or fast_path or \
                tensor_cases.refused_on_purpose(type_name, params, specs, out):
            return
        assert not follows_batch(type_name, params, specs, out), \
            f"inference refused what torch accepts, output {tuple(out.shape)}"
        return
    expected = [spec.shape for spec in info.outputs.values()]
    outs = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape) for o in outs] == [(BATCH, *e) if type_name not in LOSSES else e for e in expected]
    assert count == info.params
    if type_name not in LOSSES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert compiled_output_shape(type_name, params, specs, tensors) == expected


def test_loss_output_is_a_scalar_only_for_mean_and_sum():
    assert {p.name: p.choices for p in CATALOGUE["MSELoss"].params}["reduction"] == ("mean", "sum")


def test_parameter_counts_of_examples_equal_torch():
    import glob
    import os

    from engine.shapes import infer
    from graphs import load_project

    root = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "examples")
    for path in sorted(glob.glob(os.path.join(root, "*.json"))):
        project = load_project(path)
        compiled = compile_graph(project.graph)
        counted = sum(p.numel() for p in compiled.model.parameters())
        shapes = infer(project.graph)  # per node of the model: a unit instance's params are its layers'
        assert shapes.total_params == counted, path
        for node_id, module in compiled.model.named_children():
            assert shapes.info[node_id].params == sum(p.numel() for p in module.parameters())
        assert isinstance(compiled.model, nn.Module)
