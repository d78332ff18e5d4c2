"""Property-test cases for the sequence and loss types of graphs/families/ (tests/engine/test_shape_property.py
draws them): per type, a strategy of (params, input specs by port), and where the generic oracle would not do,
how torch applies the type (`apply`) and which values its inputs must hold (`make_tensor`)."""

import math

import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from torch import nn

from engine.modules import build_module
from engine.shape_rules import TensorSpec

sizes = st.integers(1, 4)


def shapes(min_rank=0, max_rank=3):
    return st.lists(sizes, min_size=min_rank, max_size=max_rank).map(tuple)


@st.composite
def ports_case(draw, ports, params=None, base_rank=(0, 3), dtypes=None, related=None):
    """Specs for `ports`, usually all of one base shape (or `related(base)` per port), sometimes any shape."""
    base = draw(shapes(*base_rank))
    specs = {}
    for port in ports:
        dtype = (dtypes or {}).get(port, "float32")
        if draw(st.integers(0, 5)) == 0:
            dtype = draw(st.sampled_from(["float32", "int64"]))
        shape = related(port, base) if related else base
        if draw(st.integers(0, 5)) == 0:
            shape = draw(shapes(0, 3))
        specs[port] = TensorSpec(tuple(shape), dtype)
    drawn = {"reduction": draw(st.sampled_from(["mean", "sum"]))}
    for name, strategy in (params or {}).items():
        drawn[name] = draw(strategy)
    return drawn, specs


def _gaussian_var(port, base):
    if port != "var" or not base:
        return base
    return [base, base[:-1], (*base[:-1], 1)][len(base) % 3]


def _class_target(port, base):
    return () if port == "target" else base


CASES = {
    "KLDivLoss": ports_case(("input", "target"), {"log_target": st.booleans(),
                                                  "reduction": st.sampled_from(["mean", "sum", "batchmean"])}),
    "PoissonNLLLoss": ports_case(("input", "target"), {"log_input": st.booleans(), "full": st.booleans()}),
    "GaussianNLLLoss": ports_case(("input", "target", "var"), {"full": st.booleans()}, related=_gaussian_var),
    "CosineEmbeddingLoss": ports_case(("input1", "input2", "target"), {"margin": st.sampled_from([0.0, 0.5])},
                                      base_rank=(1, 1), related=lambda p, b: () if p == "target" else b,
                                      dtypes={"target": "int64"}),
    "MarginRankingLoss": ports_case(("input1", "input2", "target"), {"margin": st.sampled_from([0.0, 0.5])}),
    "TripletMarginLoss": ports_case(("anchor", "positive", "negative"),
                                    {"margin": st.sampled_from([1.0, 0.5]), "swap": st.booleans()}, (1, 2)),
    "MultiLabelSoftMarginLoss": ports_case(("input", "target"), base_rank=(1, 2)),
    "MultiMarginLoss": ports_case(("input", "target"), {"p": st.integers(1, 2)}, base_rank=(1, 2),
                                  related=_class_target, dtypes={"target": "int64"}),
    "SoftMarginLoss": ports_case(("input", "target")),
    "CTCLoss": ports_case(("log_probs", "targets"), {"blank": st.integers(0, 4), "zero_infinity": st.booleans()},
                          base_rank=(2, 2), related=lambda p, b: b[:1] if p == "targets" else b,
                          dtypes={"targets": "int64"}),
}


@st.composite
def recurrent_case(draw, name):
    """A sequence [T, F], and now and then an initial state (of the right shape, or not)."""
    params = {"hidden_size": draw(st.integers(1, 5)), "num_layers": draw(st.integers(1, 2)), "bias": draw(st.booleans()),
              "dropout": draw(st.sampled_from([0.0, 0.3])), "bidirectional": draw(st.booleans()),
              "output": draw(st.sampled_from(["sequence", "last"]))}
    if name == "RNN":
        params["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    specs = {"in": TensorSpec(draw(st.one_of(shapes(2, 2), shapes(1, 3))))}
    state = (params["num_layers"] * (2 if params["bidirectional"] else 1), params["hidden_size"])
    for port in ("h0", "c0") if name == "LSTM" else ("h0",):
        if draw(st.booleans()):
            specs[port] = TensorSpec(state if draw(st.integers(0, 4)) else draw(shapes(1, 2)))
    return params, specs


def attention_case(heads: str, memory: bool = False, **extra):
    """Usually [T, E] with E a multiple of the heads, sometimes any shape; a decoder's memory usually [S, E]."""
    @st.composite
    def build(draw):
        params = draw(st.fixed_dictionaries({heads: st.integers(1, 4), "bias": st.booleans(),
                                             "causal": st.booleans(), **extra}))
        fitting = (draw(sizes), params[heads] * draw(st.integers(1, 2)))
        specs = {"in": TensorSpec(draw(st.one_of(st.just(fitting), shapes(1, 3))))}
        if memory:
            specs["memory"] = TensorSpec(draw(st.one_of(st.just((draw(sizes), fitting[1])), shapes(1, 3))))
        return params, specs
    return build()


_LAYER = dict(dim_feedforward=st.integers(1, 8), dropout=st.just(0.0), activation=st.sampled_from(["relu", "gelu"]),
              norm_first=st.booleans())
_STACK = dict(num_layers=st.integers(1, 2), norm=st.booleans())
TRANSFORMERS = ("TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder")


CASES.update({
    **{name: recurrent_case(name) for name in ("RNN", "LSTM", "GRU")},
    "MultiheadAttention": attention_case("num_heads"),
    "TransformerEncoderLayer": attention_case("nhead", **_LAYER),
    "TransformerEncoder": attention_case("nhead", **_LAYER, **_STACK),
    "TransformerDecoderLayer": attention_case("nhead", memory=True, **_LAYER),
    "TransformerDecoder": attention_case("nhead", memory=True, **_LAYER, **_STACK),
})


@st.composite
def positional_case(draw):
    """[T, E] with max_len around T; sometimes another rank."""
    params = {"max_len": draw(st.integers(1, 6))}
    shape = draw(st.one_of(st.tuples(sizes, st.sampled_from([2, 4, 6, 3])), shapes(1, 3)))
    return params, {"in": TensorSpec(tuple(shape))}


CASES.update({"LearnedPositionalEncoding": positional_case(), "SinusoidalPositionalEncoding": positional_case()})
RECURRENT = ("RNN", "LSTM", "GRU")


def sinusoids(max_len: int, size: int) -> torch.Tensor:
    """The table of "Attention Is All You Need", built as its authors' code does."""
    table = torch.zeros(max_len, size)
    position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
    rate = torch.exp(torch.arange(0, size, 2).float() * (-math.log(10000.0) / size))
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)
    return table
# losses whose target may be left open (zeros): drawn both ways
OPEN_TARGET = ("MSELoss", "L1Loss")


def open_target_case(generic):
    return st.one_of(generic, generic.map(lambda case: (case[0], {"input": case[1]["input"]})))


def make_tensor(spec: TensorSpec, type_name: str, params: dict, port: str, inputs: dict, batch: int):
    """Values the type needs on `port` (positive variances, valid class indices, log-probabilities), or
    None for the generic ones."""
    shape = (batch, *spec.shape)
    if type_name == "GaussianNLLLoss" and port == "var" and spec.dtype == "float32":
        return torch.rand(shape) + 0.1
    if type_name in ("CosineEmbeddingLoss", "MarginRankingLoss", "SoftMarginLoss") and port == "target":
        signs = torch.randint(0, 2, shape) * 2 - 1
        return signs if spec.dtype == "int64" else signs.float()
    if type_name == "MultiMarginLoss" and spec.dtype == "int64":
        scores = inputs["input"].shape
        return torch.randint(0, scores[0] if scores else 1, shape)
    if type_name == "CTCLoss" and spec.dtype == "int64":
        classes = inputs["log_probs"].shape[-1] if inputs["log_probs"].shape else 1
        return torch.randint(0, classes, shape)
    if type_name == "CTCLoss" and port == "log_probs":
        return torch.randn(shape).log_softmax(-1)
    if type_name in CASES and spec.dtype == "int64":
        return torch.randint(0, 2, shape)
    if type_name == "MultiLabelSoftMarginLoss" and port == "target":
        return torch.randint(0, 2, shape).float()
    return None


def apply(type_name: str, params: dict, specs: dict, tensors: dict):
    """(output, parameter count) from torch itself, or None for the generic oracle."""
    if type_name in OPEN_TARGET and "target" not in specs:
        x = tensors["input"]
        return build_module(type_name, params, specs)(x, torch.zeros_like(x)), 0
    if type_name == "CTCLoss":
        log_probs, targets = tensors["log_probs"], tensors["targets"]
        lengths = [int((row != params["blank"]).sum()) for row in targets]
        out = F.ctc_loss(log_probs.permute(1, 0, 2), targets, [log_probs.shape[1]] * len(targets), lengths,
                         blank=params["blank"], reduction=params["reduction"], zero_infinity=params["zero_infinity"])
        return out, 0
    if type_name.endswith("PositionalEncoding") and tensors["in"].dim() != 3:
        raise ValueError("the reference encodings take [batch, T, E]")
    if type_name == "LearnedPositionalEncoding":
        x = tensors["in"]
        module = build_module(type_name, params, specs)
        return x + module(torch.arange(x.shape[1])), module.weight.numel()
    if type_name == "SinusoidalPositionalEncoding":
        x = tensors["in"]
        if x.shape[-1] % 2:  # E = 1 slips through the reference's slicing; sines and cosines come in pairs
            raise ValueError("the sinusoidal encoding needs an even size")
        return x + sinusoids(params["max_len"], x.shape[-1])[torch.arange(x.shape[1])], 0
    if type_name in RECURRENT:
        module = build_module(type_name, params, specs)
        count = sum(p.numel() for p in module.parameters())
        states = [tensors[port].transpose(0, 1).contiguous() for port in ("h0", "c0") if port in tensors]
        if type_name == "LSTM" and len(states) == 1:
            raise ValueError("torch's LSTM takes (h0, c0) together")
        call = (tensors["in"], *([tuple(states) if type_name == "LSTM" else states[0]] if states else []))
        out, final = module(*call)
        out = out[:, -1] if params["output"] == "last" else out
        finals = final if type_name == "LSTM" else (final,)  # (h_n, c_n) or h_n, layers first in torch
        return (out, *(state.transpose(0, 1) for state in finals)), count
    if type_name in ("MultiheadAttention", *TRANSFORMERS):
        module = build_module(type_name, params, specs)
        count = sum(p.numel() for p in module.parameters())
        x = tensors["in"]
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1]) if params["causal"] else None
        if type_name == "MultiheadAttention":
            return module(x, x, x, need_weights=False, attn_mask=mask)[0], count
        if "memory" in tensors:
            return module(x, tensors["memory"], tgt_mask=mask), count
        return module(x, mask=mask) if type_name == "TransformerEncoder" else module(x, src_mask=mask), count
    if type_name in CASES:
        return build_module(type_name, params, specs)(*tensors.values()), 0
    return None
