"""What a traced torch.fx value is bound to when it is not a plain tensor: a shape, the tuple a
recurrent layer or attention returns, or an LSTM/GRU's whole output sequence."""

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
class RecurrentSequence:
    """An LSTM/GRU's whole output sequence (a Value, marked so `[:, -1]` can pick output='last')."""

    value: Value
    rnn: str
