"""The catalogue of node types, as data.

One `NodeType` per type: display name, category, ports, the params schema and
which constructor arguments are inferred from the incoming shape (so a user
never types `in_features`). Types are named after `torch.nn` classes and params
after their constructor arguments; how the engine builds and runs each type is
its entry in the engine's op table (`engine.ops`), found by the same name.

Dimension conventions (documented in the README):
- Shapes leave out the batch dimension.
- `dim`, `start_dim`, `end_dim` (Softmax, LogSoftmax, Concat, Flatten) and
  Permute's `dims` count the batch as dimension 0, exactly as in torch.
- Reshape's `shape` leaves out the batch: `x.reshape(x.shape[0], *shape)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.errors import ParamError, UnknownNodeTypeError, quoted
from graphs.params import ParamSpec

DTYPES = ("float32", "int64")


@dataclass(frozen=True)
class NodeType:
    """The description of one node type."""

    name: str
    category: str
    params: tuple[ParamSpec, ...] = ()
    inputs: tuple[str, ...] = ("in",)
    outputs: tuple[str, ...] = ("out",)
    doc: str = ""
    # constructor argument -> (input port, dimension index) of the incoming shape
    inferred: dict = field(default_factory=dict)
    variadic: bool = False  # inputs are in0..in{n-1}, n = params["inputs"]
    key_params: tuple[str, ...] = ()  # shown on the node face

    @property
    def is_loss(self) -> bool:
        return self.category == "Losses"

    @property
    def is_data(self) -> bool:
        return self.category == "Data"

    @property
    def display_name(self) -> str:
        return self.name

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def input_ports(self, params: dict | None = None) -> list[str]:
        if self.variadic:
            count = (params or {}).get("inputs", self.param("inputs").default)
            return [f"in{i}" for i in range(count)]
        return list(self.inputs)

    def output_ports(self, params: dict | None = None) -> list[str]:
        return list(self.outputs)

    def resolve_params(self, params: dict | None, node: str | None = None) -> dict:
        """All params with defaults filled in, each value checked against its schema."""
        params = dict(params or {})
        known = {spec.name for spec in self.params}
        for name in params:
            if name not in known:
                hint = f"; known params: {', '.join(sorted(known))}" if known else ""
                raise ParamError(f"{self.name} has no param {quoted(name)}{hint}", node=node, param=name)
        return {spec.name: spec.coerce(params.get(spec.name, spec.default), node) for spec in self.params}

    def check_params(self, params: dict | None, node: str | None = None) -> dict:
        """Check the given params (only those given) and return them in canonical form."""
        resolved = self.resolve_params(params, node)
        return {name: resolved[name] for name in (params or {})}


def _int(name, default, minimum=None, maximum=None, doc="", optional=False):
    return ParamSpec(name, "int", default, minimum, maximum, doc=doc, optional=optional)


def _float(name, default, minimum=None, maximum=None, doc=""):
    return ParamSpec(name, "float", default, minimum, maximum, doc=doc)


def _bool(name, default, doc=""):
    return ParamSpec(name, "bool", default, doc=doc)


def _choice(name, default, choices, doc=""):
    return ParamSpec(name, "choice", default, choices=tuple(choices), doc=doc)


def _tuple(name, default, length, minimum=0, optional=False, doc=""):
    kind = "optional_int_tuple" if optional else "int_tuple"
    return ParamSpec(name, kind, default, minimum, length=length, optional=optional, doc=doc)


def _shape(name, default=None, doc="", minus_one=False, optional=True):
    return ParamSpec(name, "int_list", default, 1, optional=optional, doc=doc, allow_minus_one=minus_one)


def _conv_params(n: int, transpose: bool = False):
    params = [
        _int("out_channels", 16, 1, 65536, "number of output channels"),
        _tuple("kernel_size", 3, n, 1, doc="size of the convolving kernel"),
        _tuple("stride", 1, n, 1),
        _tuple("padding", 0, n, 0),
    ]
    if transpose:
        params.append(_tuple("output_padding", 0, n, 0))
    params += [_int("groups", 1, 1, 65536), _bool("bias", True), _tuple("dilation", 1, n, 1)]
    if not transpose:
        params.append(_choice("padding_mode", "zeros", ("zeros", "reflect", "replicate", "circular")))
    return tuple(params)


def _pool_params(n: int, dilation: bool):
    params = [_tuple("kernel_size", 2, n, 1), _tuple("stride", None, n, 1, optional=True), _tuple("padding", 0, n, 0)]
    if dilation:
        params.append(_tuple("dilation", 1, n, 1))
    params.append(_bool("ceil_mode", False))
    return tuple(params)


_LAYOUTS = {1: "[C, L]", 2: "[C, H, W]", 3: "[C, D, H, W]"}
_CONV = "Dense and convolution"


def _convolution(n: int, transpose: bool = False):
    name = f"{'ConvTranspose' if transpose else 'Conv'}{n}d"
    doc = f"{n}-D {'transposed ' if transpose else ''}convolution over {_LAYOUTS[n]}."
    keys = ("out_channels", "kernel_size", "stride") + (() if transpose else ("padding",))
    return NodeType(name, _CONV, _conv_params(n, transpose), doc=doc, inferred={"in_channels": ("in", 0)},
                    key_params=keys)


def _max_pool(n: int):
    return NodeType(f"MaxPool{n}d", "Pooling", _pool_params(n, True), doc=f"Max pooling over {_LAYOUTS[n]}.",
                    key_params=("kernel_size", "stride"))


def _avg_pool(n: int):
    return NodeType(f"AvgPool{n}d", "Pooling", (*_pool_params(n, False), _bool("count_include_pad", True)),
                    doc=f"Average pooling over {_LAYOUTS[n]}.", key_params=("kernel_size", "stride"))


def _adaptive_pool(kind: str, n: int):
    word = {"Avg": "Average", "Max": "Max"}[kind]
    return NodeType(f"Adaptive{kind}Pool{n}d", "Pooling", (_tuple("output_size", 1, n, 1),),
                    doc=f"{word} pooling of {_LAYOUTS[n]} to a fixed [C, output_size].",
                    key_params=("output_size",))


_REDUCTION = _choice("reduction", "mean", ("mean", "sum"))
_LOSS_PORTS = ("input", "target")
_ACT = "Activations"


def _loss(name, *params, doc=""):
    return NodeType(name, "Losses", (*params, _REDUCTION), _LOSS_PORTS, ("out",), doc)


def _activation(name, *params, doc=""):
    return NodeType(name, _ACT, tuple(params), doc=doc, key_params=tuple(p.name for p in params))


def _recurrent(name):
    return NodeType(
        name, "Sequence",
        (_int("hidden_size", 64, 1, 65536), _int("num_layers", 1, 1, 64), _bool("bias", True),
         _float("dropout", 0.0, 0.0, 1.0), _bool("bidirectional", False),
         _choice("output", "sequence", ("sequence", "last"),
                 "'sequence' returns every time step [T, H]; 'last' only the final one [H]")),
        doc=f"{name} over [T, features], batch first.", inferred={"input_size": ("in", -1)},
        key_params=("hidden_size", "output"),
    )


_TYPES = [
    # Data
    NodeType("Input", "Data",
             (_shape("shape", doc="tensor shape without the batch dimension; empty = take it from the dataset"),
              _choice("dtype", "float32", DTYPES)),
             inputs=(), doc="A model input. Its shape leaves out the batch dimension.", key_params=("shape",)),
    NodeType("Target", "Data",
             (_shape("shape", doc="label shape without the batch dimension; [] for one class index per sample"),
              _choice("dtype", "int64", DTYPES)),
             inputs=(), doc="The labels fed to a loss's target port.", key_params=("shape", "dtype")),
    # Dense and convolution
    NodeType("Linear", "Dense and convolution",
             (_int("out_features", 64, 1, 1 << 20, "size of each output sample"), _bool("bias", True)),
             doc="y = x A^T + b over the last dimension.", inferred={"in_features": ("in", -1)},
             key_params=("out_features",)),
    *(_convolution(n) for n in (1, 2, 3)),
    *(_convolution(n, transpose=True) for n in (1, 2, 3)),
    NodeType("Embedding", "Dense and convolution",
             (_int("num_embeddings", 1000, 1, 1 << 24, "size of the vocabulary"),
              _int("embedding_dim", 64, 1, 1 << 16), _int("padding_idx", None, optional=True)),
             doc="Looks up int64 indices [*] and returns [*, embedding_dim].",
             key_params=("num_embeddings", "embedding_dim")),
    # Pooling
    *(_max_pool(n) for n in (1, 2, 3)),
    *(_avg_pool(n) for n in (1, 2, 3)),
    *(_adaptive_pool("Avg", n) for n in (1, 2, 3)),
    *(_adaptive_pool("Max", n) for n in (1, 2, 3)),
    # Normalisation and regularisation
    NodeType("BatchNorm1d", "Normalisation", (_float("eps", 1e-5, 0.0), _float("momentum", 0.1, 0.0, 1.0),
                                              _bool("affine", True), _bool("track_running_stats", True)),
             doc="Batch normalisation over [C] or [C, L].", inferred={"num_features": ("in", 0)}),
    NodeType("BatchNorm2d", "Normalisation", (_float("eps", 1e-5, 0.0), _float("momentum", 0.1, 0.0, 1.0),
                                              _bool("affine", True), _bool("track_running_stats", True)),
             doc="Batch normalisation over [C, H, W].", inferred={"num_features": ("in", 0)}),
    NodeType("LayerNorm", "Normalisation",
             (_int("normalized_dims", 1, 1, 8, "how many trailing dimensions normalized_shape covers"),
              _float("eps", 1e-5, 0.0), _bool("elementwise_affine", True), _bool("bias", True)),
             doc="Layer normalisation; normalized_shape is the input's trailing dimensions.",
             inferred={"normalized_shape": ("in", "trailing")},
             key_params=("normalized_dims",)),
    NodeType("GroupNorm", "Normalisation",
             (_int("num_groups", 8, 1, 65536), _float("eps", 1e-5, 0.0), _bool("affine", True)),
             doc="Group normalisation over [C, *]; num_channels is C.", inferred={"num_channels": ("in", 0)},
             key_params=("num_groups",)),
    NodeType("Dropout", "Normalisation", (_float("p", 0.5, 0.0, 1.0),), doc="Zeroes elements with probability p.",
             key_params=("p",)),
    NodeType("Dropout2d", "Normalisation", (_float("p", 0.5, 0.0, 1.0),),
             doc="Zeroes whole channels of [C, H, W] with probability p.", key_params=("p",)),
    # Sequence
    _recurrent("LSTM"),
    _recurrent("GRU"),
    NodeType("MultiheadAttention", "Sequence",
             (_int("num_heads", 4, 1, 1024), _float("dropout", 0.0, 0.0, 1.0), _bool("bias", True)),
             doc="Self-attention over [T, E] (query = key = value), batch first.",
             inferred={"embed_dim": ("in", -1)}, key_params=("num_heads",)),
    NodeType("TransformerEncoderLayer", "Sequence",
             (_int("nhead", 4, 1, 1024), _int("dim_feedforward", 2048, 1, 1 << 20), _float("dropout", 0.1, 0.0, 1.0),
              _choice("activation", "relu", ("relu", "gelu")), _float("layer_norm_eps", 1e-5, 0.0),
              _bool("norm_first", False), _bool("bias", True)),
             doc="One Transformer encoder layer over [T, d_model], batch first.",
             inferred={"d_model": ("in", -1)},
             key_params=("nhead", "dim_feedforward")),
    # Shape and merge
    NodeType("Flatten", "Shape and merge", (_int("start_dim", 1, -8, 8), _int("end_dim", -1, -8, 8)),
             doc="Flattens dims start_dim..end_dim (the batch is dim 0, as in torch)."),
    NodeType("Reshape", "Shape and merge", (_shape("shape", [-1], minus_one=True, optional=False,
                                                   doc="new shape without the batch; one -1 is inferred"),),
             doc="x.reshape(batch, *shape).", key_params=("shape",)),
    NodeType("Permute", "Shape and merge", (ParamSpec("dims", "int_list", [0, 2, 1], 0,
                                                      doc="a permutation of all dims; the batch (0) stays first"),),
             doc="x.permute(*dims), the batch counted as dim 0.", key_params=("dims",)),
    NodeType("Concat", "Shape and merge", (_int("inputs", 2, 2, 16), _int("dim", 1, -8, 8)),
             doc="torch.cat over dim (the batch is dim 0).", variadic=True, key_params=("dim",)),
    NodeType("Add", "Shape and merge", (_int("inputs", 2, 2, 16),), doc="Element-wise sum, with broadcasting.",
             variadic=True),
    NodeType("Multiply", "Shape and merge", (_int("inputs", 2, 2, 16),),
             doc="Element-wise product, with broadcasting.", variadic=True),
    # Activations
    _activation("ReLU"),
    _activation("LeakyReLU", _float("negative_slope", 0.01)),
    _activation("ELU", _float("alpha", 1.0)),
    _activation("GELU", _choice("approximate", "none", ("none", "tanh"))),
    _activation("SiLU"),
    _activation("Sigmoid"),
    _activation("Tanh"),
    _activation("Softmax", _int("dim", -1, -8, 8)),
    _activation("LogSoftmax", _int("dim", -1, -8, 8)),
    # Losses
    _loss("CrossEntropyLoss", _float("label_smoothing", 0.0, 0.0, 1.0),
          doc="Logits [C] (or [C, d...]) against class indices [] (or [d...]) or probabilities [C]."),
    _loss("NLLLoss", doc="Log-probabilities [C] against class indices []."),
    _loss("MSELoss", doc="Mean squared error; input and target have the same shape."),
    _loss("L1Loss", doc="Mean absolute error; input and target have the same shape."),
    _loss("SmoothL1Loss", _float("beta", 1.0, 0.0), doc="Smooth L1; input and target have the same shape."),
    _loss("HuberLoss", _float("delta", 1.0, 0.0), doc="Huber loss; input and target have the same shape."),
    _loss("BCEWithLogitsLoss", doc="Binary cross-entropy on logits; target holds floats in [0, 1]."),
    _loss("BCELoss", doc="Binary cross-entropy on probabilities; target holds floats in [0, 1]."),
]

CATALOGUE: dict[str, NodeType] = {t.name: t for t in _TYPES}
CATEGORIES: list[str] = list(dict.fromkeys(t.category for t in _TYPES))


def node_type(name: str, node: str | None = None) -> NodeType:
    """The catalogue entry for `name`, or UnknownNodeTypeError with close matches."""
    try:
        return CATALOGUE[name]
    except (KeyError, TypeError):
        import difflib

        close = difflib.get_close_matches(name, CATALOGUE, n=3) if isinstance(name, str) and len(name) < 64 else []
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownNodeTypeError(f"unknown node type {quoted(name)}{hint}", node=node) from None
