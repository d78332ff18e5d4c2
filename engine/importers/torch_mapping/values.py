"""What a traced torch.fx value is bound to when it is not a plain tensor: a shape, the tuple a
recurrent layer or attention returns, a recurrent layer's whole output sequence or its final state."""

from __future__ import annotations

from dataclasses import dataclass

from engine.importers.common import Value
from engine.shape_rules import TensorSpec


@dataclass
class TracedShape:
    """x.shape / x.size(): a tuple whose first entry is the batch."""

    dims: tuple


@dataclass
class LayerTuple:
    """The tuple a recurrent layer or attention returns; only item 0 maps."""

    node: str
    kind: str  # "rnn" or "attention"
    spec: TensorSpec


@dataclass
class RecurrentState:
    """A recurrent layer's final state (item 1 of what it returns), in torch's [layers, batch, hidden] layout,
    so it maps only as another recurrent layer's initial state: h_n (and c_n) wired to h0 (and c0). An LSTM's
    is the pair (h_n, c_n) until indexed."""

    node: str
    ports: tuple[str, ...]  # ("h_n",), ("c_n",) or ("h_n", "c_n")
    spec: TensorSpec  # [num_layers * directions, hidden_size] per sample
    batch_first: bool = False  # transposed (0, 1): exactly the node's h_n (c_n) port, a plain tensor


@dataclass
class RecurrentSequence:
    """An LSTM/GRU's whole output sequence (a Value, marked so `[:, -1]` can pick output='last')."""

    value: Value
    rnn: str
