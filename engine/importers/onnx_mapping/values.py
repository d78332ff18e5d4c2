"""How the ONNX importer sees the tensors of a model while it maps them, and small readers of ONNX nodes.

A value bound to an ONNX tensor name is one of: a numpy array (a constant,
computed at import), `Sym` (shape arithmetic with the batch size as a
symbol), `Filled` (a constant broadcast to a shape that involves the batch),
`Dyn` (a tensor the Neurocanvas graph computes, possibly seen through a
transpose/squeeze view), or `POISON` (its node could not be mapped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from engine.importers.common import BATCH, Value

FUSED_DOMAIN = "neurocanvas.fused"
_FLOAT, _INT64 = 1, 7
DTYPES = {_FLOAT: "float32", _INT64: "int64"}
NONDETERMINISTIC = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                    "Bernoulli"}


@dataclass(frozen=True)
class Part:
    """One of the two ONNX axes that a Neurocanvas axis is split into: (directions, hidden) of a
    bidirectional LSTM/GRU output. `index` 0 is the outer part (of size `count`), 1 the inner one."""

    axis: int
    index: int
    count: int


@dataclass(eq=False)
class Dyn:
    """A tensor computed by the model: a Neurocanvas value seen through a view.

    `axes[i]` is the Neurocanvas axis (0 = batch) behind ONNX axis i, or None for
    an inserted axis of size 1; None means the identity view. Neurocanvas axes of
    size 1 may be left out (squeezed). `kind`/`rnn` mark recurrent outputs.
    """

    value: Value
    axes: tuple | None = None
    origin: str = ""  # the ONNX node that made the view (names the Permute/Reshape it may become)
    kind: str = ""  # "rnn_seq" or "rnn_last"
    rnn: str | None = None
    materialized: Dyn | None = field(default=None, repr=False)

    @property
    def nc_rank(self) -> int:
        return len(self.value.spec.shape) + 1

    def axes_list(self) -> list:
        return list(self.axes) if self.axes is not None else list(range(self.nc_rank))

    @property
    def canonical(self) -> bool:
        return self.axes_list() == list(range(self.nc_rank))

    def dims(self) -> list:
        full = (BATCH, *self.value.spec.shape)
        return [1 if a is None else (a.count if a.index == 0 else full[a.axis] // a.count) if isinstance(a, Part)
                else full[a] for a in self.axes_list()]

    def view(self, axes, origin: str) -> Dyn:
        return Dyn(self.value, tuple(axes), origin, self.kind, self.rnn)


@dataclass(frozen=True)
class Sym:
    """A small int vector (or scalar) from shape arithmetic; entries are ints or BATCH."""

    items: tuple
    scalar: bool = False


@dataclass(frozen=True)
class Filled:
    """ConstantOfShape over a shape that involves the batch: a tensor filled with `value`."""

    value: float


def symbolic(items, scalar=False):
    items = tuple(items)
    if all(isinstance(i, (int, np.integer)) for i in items):
        array = np.array(items, dtype=np.int64)
        return array.reshape(()) if scalar else array
    return Sym(items, scalar)


def node_attributes(node) -> dict:
    from onnx import helper

    out = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        out[attribute.name] = value
    return out


def node_label(node) -> str:
    return node.name or (node.output[0] if node.output else node.op_type)


def node_hint(node) -> str:
    """A readable id for the node made from `node`: the module scope of a torch export (`/fc1/Gemm` -> fc1)."""
    name = node.name or ""
    if name.startswith("node_"):  # torch's dynamo exporter: node_lstm__2, node_Reshape_112
        return re.sub(r"_+\d+$", "", name[len("node_"):]).lower()
    parts = [p for p in name.split("/") if p]
    if name.startswith("/"):
        return parts[-2] if len(parts) >= 2 else ""
    if name:
        return name
    output = node.output[0] if node.output else ""
    if output and not output.startswith(("/", "onnx::")):
        return output
    return ""


def clean_float(value) -> float:
    """A float attribute without float32 noise (1e-05, not 9.999999747378752e-06)."""
    return float(f"{float(value):.7g}")


def dims_text(dims) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"
