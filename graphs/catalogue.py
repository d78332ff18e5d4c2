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

from graphs.errors import UnknownNodeTypeError, quoted
from graphs.families import activations, losses, normalisation, resampling, sequence, tensors
from graphs.node_type import (  # noqa: F401  (DTYPES and NodeType are read from here too)
    DTYPES,
    NodeType,
    bool_param,
    choice_param,
    float_param,
    int_param,
    shape_param,
    tuple_param,
)
from graphs.params import ParamSpec


def _conv_params(n: int, transpose: bool = False):
    params = [
        int_param("out_channels", 16, 1, 65536, "number of output channels"),
        tuple_param("kernel_size", 3, n, 1, doc="size of the convolving kernel"),
        tuple_param("stride", 1, n, 1),
        tuple_param("padding", 0, n, 0),
    ]
    if transpose:
        params.append(tuple_param("output_padding", 0, n, 0))
    params += [int_param("groups", 1, 1, 65536), bool_param("bias", True), tuple_param("dilation", 1, n, 1)]
    if not transpose:
        params.append(choice_param("padding_mode", "zeros", ("zeros", "reflect", "replicate", "circular")))
    return tuple(params)


def _pool_params(n: int, dilation: bool):
    params = [tuple_param("kernel_size", 2, n, 1), tuple_param("stride", None, n, 1, optional=True), tuple_param("padding", 0, n, 0)]
    if dilation:
        params.append(tuple_param("dilation", 1, n, 1))
    params.append(bool_param("ceil_mode", False))
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
    return NodeType(f"AvgPool{n}d", "Pooling", (*_pool_params(n, False), bool_param("count_include_pad", True)),
                    doc=f"Average pooling over {_LAYOUTS[n]}.", key_params=("kernel_size", "stride"))


def _adaptive_pool(kind: str, n: int):
    word = {"Avg": "Average", "Max": "Max"}[kind]
    return NodeType(f"Adaptive{kind}Pool{n}d", "Pooling", (tuple_param("output_size", 1, n, 1),),
                    doc=f"{word} pooling of {_LAYOUTS[n]} to a fixed [C, output_size].",
                    key_params=("output_size",))


_REDUCTION = choice_param("reduction", "mean", ("mean", "sum"))
_LOSS_PORTS = ("input", "target")
_ACT = "Activations"


def _loss(name, *params, doc="", optional=()):
    return NodeType(name, "Losses", (*params, _REDUCTION, losses.LOSS_WEIGHT), _LOSS_PORTS, ("out",), doc,
                    optional=optional)


_NO_TARGET = "; leave target open for zeros (a regulariser on the input)"


def _activation(name, *params, doc=""):
    return NodeType(name, _ACT, tuple(params), doc=doc, key_params=tuple(p.name for p in params))


_TYPES = [
    # Data
    NodeType("Input", "Data",
             (shape_param("shape", doc="tensor shape without the batch dimension; empty = take it from the dataset"),
              choice_param("dtype", "float32", DTYPES)),
             inputs=(), doc="A model input. Its shape leaves out the batch dimension.", key_params=("shape",)),
    NodeType("Target", "Data",
             (shape_param("shape", doc="label shape without the batch dimension; [] for one class index per sample"),
              choice_param("dtype", "int64", DTYPES)),
             inputs=(), doc="The labels fed to a loss's target port.", key_params=("shape", "dtype")),
    # Dense and convolution
    NodeType("Linear", "Dense and convolution",
             (int_param("out_features", 64, 1, 1 << 20, "size of each output sample"), bool_param("bias", True)),
             doc="y = x A^T + b over the last dimension.", inferred={"in_features": ("in", -1)},
             key_params=("out_features",)),
    *(_convolution(n) for n in (1, 2, 3)),
    *(_convolution(n, transpose=True) for n in (1, 2, 3)),
    NodeType("Embedding", "Dense and convolution",
             (int_param("num_embeddings", 1000, 1, 1 << 24,
                        "size of the vocabulary; None = the vocabulary of the text dataset", optional=True),
              int_param("embedding_dim", 64, 1, 1 << 16), int_param("padding_idx", None, optional=True)),
             doc="Looks up int64 indices [*] and returns [*, embedding_dim].",
             key_params=("num_embeddings", "embedding_dim")),
    # Pooling
    *(_max_pool(n) for n in (1, 2, 3)),
    *(_avg_pool(n) for n in (1, 2, 3)),
    *(_adaptive_pool("Avg", n) for n in (1, 2, 3)),
    *(_adaptive_pool("Max", n) for n in (1, 2, 3)),
    # Normalisation and regularisation
    NodeType("BatchNorm1d", "Normalisation", (float_param("eps", 1e-5, 0.0), float_param("momentum", 0.1, 0.0, 1.0),
                                              bool_param("affine", True), bool_param("track_running_stats", True)),
             doc="Batch normalisation over [C] or [C, L].", inferred={"num_features": ("in", 0)}),
    NodeType("BatchNorm2d", "Normalisation", (float_param("eps", 1e-5, 0.0), float_param("momentum", 0.1, 0.0, 1.0),
                                              bool_param("affine", True), bool_param("track_running_stats", True)),
             doc="Batch normalisation over [C, H, W].", inferred={"num_features": ("in", 0)}),
    NodeType("LayerNorm", "Normalisation",
             (int_param("normalized_dims", 1, 1, 8, "how many trailing dimensions normalized_shape covers"),
              float_param("eps", 1e-5, 0.0), bool_param("elementwise_affine", True), bool_param("bias", True)),
             doc="Layer normalisation; normalized_shape is the input's trailing dimensions.",
             inferred={"normalized_shape": ("in", "trailing")},
             key_params=("normalized_dims",)),
    NodeType("GroupNorm", "Normalisation",
             (int_param("num_groups", 8, 1, 65536), float_param("eps", 1e-5, 0.0), bool_param("affine", True)),
             doc="Group normalisation over [C, *]; num_channels is C.", inferred={"num_channels": ("in", 0)},
             key_params=("num_groups",)),
    NodeType("Dropout", "Normalisation", (float_param("p", 0.5, 0.0, 1.0),), doc="Zeroes elements with probability p.",
             key_params=("p",)),
    NodeType("Dropout2d", "Normalisation", (float_param("p", 0.5, 0.0, 1.0),),
             doc="Zeroes whole channels of [C, H, W] with probability p.", key_params=("p",)),
    # Sequence
    sequence.recurrent("LSTM"),
    sequence.recurrent("GRU"),
    *sequence.TYPES,
    NodeType("MultiheadAttention", "Sequence",
             (int_param("num_heads", 4, 1, 1024), float_param("dropout", 0.0, 0.0, 1.0), bool_param("bias", True),
              sequence.CAUSAL),
             doc="Self-attention over [T, E] (query = key = value), batch first; causal masks later positions.",
             inferred={"embed_dim": ("in", -1)}, key_params=("num_heads",)),
    NodeType("TransformerEncoderLayer", "Sequence",
             (int_param("nhead", 4, 1, 1024), int_param("dim_feedforward", 2048, 1, 1 << 20), float_param("dropout", 0.1, 0.0, 1.0),
              choice_param("activation", "relu", ("relu", "gelu")), float_param("layer_norm_eps", 1e-5, 0.0),
              bool_param("norm_first", False), bool_param("bias", True), sequence.CAUSAL),
             doc="One Transformer encoder layer over [T, d_model], batch first; causal masks later positions.",
             inferred={"d_model": ("in", -1)},
             key_params=("nhead", "dim_feedforward")),
    # Shape and merge
    NodeType("Flatten", "Shape and merge", (int_param("start_dim", 1, -8, 8), int_param("end_dim", -1, -8, 8)),
             doc="Flattens dims start_dim..end_dim (the batch is dim 0, as in torch)."),
    NodeType("Reshape", "Shape and merge", (shape_param("shape", [-1], minus_one=True, optional=False,
                                                   doc="new shape without the batch; one -1 is inferred"),),
             doc="x.reshape(batch, *shape).", key_params=("shape",)),
    NodeType("Permute", "Shape and merge", (ParamSpec("dims", "int_list", [0, 2, 1], 0,
                                                      doc="a permutation of all dims; the batch (0) stays first"),),
             doc="x.permute(*dims), the batch counted as dim 0.", key_params=("dims",)),
    NodeType("Concat", "Shape and merge", (int_param("inputs", 2, 2, 16), int_param("dim", 1, -8, 8)),
             doc="torch.cat over dim (the batch is dim 0).", variadic=True, key_params=("dim",)),
    NodeType("Add", "Shape and merge", (int_param("inputs", 2, 2, 16),), doc="Element-wise sum, with broadcasting.",
             variadic=True),
    NodeType("Multiply", "Shape and merge", (int_param("inputs", 2, 2, 16),),
             doc="Element-wise product, with broadcasting.", variadic=True),
    # Activations
    _activation("ReLU"),
    _activation("LeakyReLU", float_param("negative_slope", 0.01)),
    _activation("ELU", float_param("alpha", 1.0)),
    _activation("GELU", choice_param("approximate", "none", ("none", "tanh"))),
    _activation("SiLU"),
    _activation("Sigmoid"),
    _activation("Tanh"),
    _activation("Softmax", int_param("dim", -1, -8, 8)),
    _activation("LogSoftmax", int_param("dim", -1, -8, 8)),
    *activations.TYPES, *normalisation.TYPES, *resampling.TYPES,
    # Losses
    _loss("CrossEntropyLoss", float_param("label_smoothing", 0.0, 0.0, 1.0),
          doc="Logits [C] (or [C, d...]) against class indices [] (or [d...]) or probabilities [C]."),
    _loss("NLLLoss", doc="Log-probabilities [C] against class indices []."),
    _loss("MSELoss", doc="Mean squared error; input and target have the same shape" + _NO_TARGET + ".",
          optional=("target",)),
    _loss("L1Loss", doc="Mean absolute error; input and target have the same shape" + _NO_TARGET + ".",
          optional=("target",)),
    _loss("SmoothL1Loss", float_param("beta", 1.0, 0.0), doc="Smooth L1; input and target have the same shape."),
    _loss("HuberLoss", float_param("delta", 1.0, 0.0), doc="Huber loss; input and target have the same shape."),
    _loss("BCEWithLogitsLoss", doc="Binary cross-entropy on logits; target holds floats in [0, 1]."),
    _loss("BCELoss", doc="Binary cross-entropy on probabilities; target holds floats in [0, 1]."),
    *tensors.TYPES,
    *losses.TYPES,
]

CATALOGUE: dict[str, NodeType] = {t.name: t for t in _TYPES}
CATEGORIES: list[str] = list(dict.fromkeys(t.category for t in _TYPES))


def node_type(name: str, node: str | None = None, custom=None) -> NodeType:
    """The catalogue entry for `name`, or the project's own type of that name (`custom`, a
    `graphs.custom_types.CustomTypes`), or UnknownNodeTypeError with close matches."""
    try:
        return CATALOGUE[name]
    except (KeyError, TypeError):
        import difflib

        if custom and isinstance(name, str) and name in custom:
            return custom[name]
        if custom is not None and hasattr(custom, "unknown_type"):
            custom.unknown_type(name, node)  # raises, naming the project's code files
        close = difflib.get_close_matches(name, CATALOGUE, n=3) if isinstance(name, str) and len(name) < 64 else []
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        if not close and custom is not None and not getattr(custom, "files", ()):  # a project without code
            hint = ("; if it is a custom layer, define its class in custom_layers.py beside the project "
                    "(see docs/custom_layers.md)")
        raise UnknownNodeTypeError(f"unknown node type {quoted(name)}{hint}", node=node) from None
