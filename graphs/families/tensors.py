"""Tensor and arithmetic node types: a learned Parameter, element-wise arithmetic and maths, reductions,
the shape ops that take one tensor apart or put several together (Split, Chunk, Select, Slice, Stack...),
ToDtype, which casts a tensor's element type (float codes to int64 indices for an Embedding), and Sample,
the reparameterisation of a VAE.

Named after the torch functions they call (`torch.sub`, `torch.amax` as Max, `x.unflatten`); every `dim`
counts the batch as dim 0, exactly as in torch. Split and Chunk have one output port per piece
(`out0`, `out1`, ...), their number read from the params.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphs.node_type import DTYPES, NodeType, bool_param, choice_param, float_param, int_param, shape_param
from graphs.params import ParamSpec

ARITHMETIC = "Tensors and arithmetic"
SHAPE = "Shape and merge"
_BINARY_PORTS = ("input", "other")


@dataclass(frozen=True)
class PiecesType(NodeType):
    """A node type with one output port per piece: `out0`..`out{n-1}`, n read from its params by `pieces`."""

    pieces: object = None  # (params) -> int

    def output_ports(self, params: dict | None = None) -> list[str]:
        resolved = {spec.name: spec.default for spec in self.params}
        resolved.update(params or {})
        return [f"out{i}" for i in range(self.pieces(resolved))]


def _dim(default=1, doc="the batch is dim 0, as in torch"):
    return int_param("dim", default, -8, 8, doc)


def _binary(name, doc):
    return NodeType(name, ARITHMETIC, (), _BINARY_PORTS, doc=doc)


def _unary(name, doc, *params):
    return NodeType(name, ARITHMETIC, tuple(params), doc=doc, key_params=tuple(p.name for p in params))


def _reduction(name, doc):
    return NodeType(name, ARITHMETIC,
                    (ParamSpec("dim", "int_list", [-1], -8, 8, doc="the dims reduced; the batch (0) cannot be one"),
                     bool_param("keepdim", False, "keep each reduced dim with size 1")),
                    doc=doc, key_params=("dim",))


TYPES = [
    NodeType("Parameter", ARITHMETIC,
             (shape_param("shape", [8], "the tensor's shape without the batch", optional=False),
              choice_param("init", "normal", ("zeros", "ones", "normal", "uniform")),
              float_param("std", 0.02, 0.0, doc="standard deviation of init='normal'"),
              float_param("bound", 0.1, 0.0, doc="init='uniform' draws from [-bound, bound]")),
             inputs=(), doc="A learned tensor (a class token, a positional embedding), the same for every sample.",
             key_params=("shape", "init")),
    _binary("Subtract", "input - other, with broadcasting."),
    _binary("Divide", "input / other, with broadcasting."),
    _binary("Maximum", "Element-wise maximum of input and other (torch.maximum)."),
    _binary("Minimum", "Element-wise minimum of input and other (torch.minimum)."),
    NodeType("MatMul", ARITHMETIC, (), _BINARY_PORTS,
             doc="torch.matmul(input, other): batched matrix product over the last two dims."),
    _unary("Scale", "scale * x + bias, with constant scale and bias.", float_param("scale", 0.5),
           float_param("bias", 0.0)),
    _unary("Exp", "Element-wise exponential."),
    _unary("Log", "Element-wise natural logarithm."),
    _unary("Sqrt", "Element-wise square root."),
    _unary("Abs", "Element-wise absolute value."),
    _unary("Pow", "x ** exponent, element-wise.", float_param("exponent", 2.0)),
    _unary("Clamp", "Limits x to [min, max] (or one side only), as torch.clamp (max wins where min > max).",
           choice_param("bounds", "min and max", ("min and max", "min", "max"), "which bounds apply"),
           float_param("min", 0.0), float_param("max", 1.0)),
    _reduction("Mean", "Mean over dims (x.mean(dim, keepdim))."),
    _reduction("Sum", "Sum over dims (x.sum(dim, keepdim))."),
    _reduction("Max", "Maximum over dims (torch.amax(x, dim, keepdim))."),
    _reduction("Min", "Minimum over dims (torch.amin(x, dim, keepdim))."),
    NodeType("ToDtype", ARITHMETIC, (choice_param("dtype", "int64", DTYPES, "the element type of the output"),),
             doc="Casts x to dtype (x.to(dtype)); float to int64 truncates toward zero, as torch does.",
             key_params=("dtype",)),
    NodeType("Sample", ARITHMETIC, (), ("mean", "logvar"),
             doc="mean + exp(0.5 * logvar) * noise while training (a VAE's reparameterisation); mean in eval."),
    NodeType("Unflatten", SHAPE,
             (_dim(), ParamSpec("unflattened_size", "int_list", [2, -1], 1, allow_minus_one=True,
                                doc="the sizes dim becomes; one -1 is inferred")),
             doc="Splits one dim into several (nn.Unflatten).", key_params=("dim", "unflattened_size")),
    NodeType("Squeeze", SHAPE, (_dim(),), doc="Removes dim when its size is 1.", key_params=("dim",)),
    NodeType("Unsqueeze", SHAPE, (_dim(),), doc="Inserts a dim of size 1 at dim.", key_params=("dim",)),
    NodeType("Transpose", SHAPE, (_dim(1, "the first dim swapped"), int_param("dim1", 2, -8, 8)),
             doc="Swaps two dims (x.transpose(dim, dim1)).", key_params=("dim", "dim1")),
    NodeType("Expand", SHAPE,
             (ParamSpec("size", "int_list", [8], 1, doc="the output's sizes without the batch"),),
             doc="Repeats dims of size 1 to the given sizes, without copying (x.expand(-1, *size)).",
             key_params=("size",)),
    PiecesType("Split", SHAPE,
               (ParamSpec("split_size_or_sections", "int_list", [4, 4], 1, doc="the size of each piece along dim"),
                _dim()),
               doc="Cuts x along dim into pieces of the given sizes, one output each.",
               key_params=("split_size_or_sections", "dim"), pieces=lambda p: len(p["split_size_or_sections"])),
    PiecesType("Chunk", SHAPE, (int_param("chunks", 2, 1, 16), _dim()),
               doc="Cuts x along dim into `chunks` equal pieces, one output each.", key_params=("chunks", "dim"),
               pieces=lambda p: p["chunks"]),
    NodeType("Select", SHAPE, (_dim(), int_param("index", 0, -(1 << 31), 1 << 31)),
             doc="x.select(dim, index): one index of dim, which disappears (x[:, 0]).", key_params=("dim", "index")),
    NodeType("Slice", SHAPE,
             (_dim(), int_param("start", 0, -(1 << 31), 1 << 31), int_param("end", 1, -(1 << 31), 1 << 31,
                                                                             optional=True),
              int_param("step", 1, 1, 1 << 31)),
             doc="x[:, start:end:step] along dim.", key_params=("dim", "start", "end")),
    NodeType("Stack", SHAPE, (int_param("inputs", 2, 2, 16), _dim()),
             doc="torch.stack over a new dim (the batch is dim 0).", variadic=True, key_params=("dim",)),
]
