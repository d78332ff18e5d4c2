"""The parts of a graph document: a wire (`Edge`), a node (`Node`), and the checks of a node's id and
training options. `graphs.document.Graph` holds them; they are read from there too."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphs.catalogue import node_type
from graphs.errors import GraphError, quoted
from graphs.names import id_problem
from graphs.node_type import SHARES

if TYPE_CHECKING:
    from graphs.document import Graph


@dataclass(frozen=True)
class Edge:
    """A wire from an output port to an input port."""

    source: str
    target: str
    source_port: str = "out"
    target_port: str = "in"

    def as_dict(self) -> dict:
        d = {"source": self.source, "target": self.target}
        if self.source_port != "out":
            d["source_port"] = self.source_port
        if self.target_port != "in":
            d["target_port"] = self.target_port
        return d


@dataclass
class Node:
    """One node: a stable id, a catalogue type, the params the user set, a position, and how training
    treats its weights: `trainable` False freezes them, `lr_mult` scales the learning rate for them."""

    id: str
    type: str
    params: dict = field(default_factory=dict)
    position: tuple[float, float] = (0.0, 0.0)
    trainable: bool = True
    lr_mult: float = 1.0
    # the Graph holding the node: it finds the type of a unit instance and the unit params a
    # reference {"ref": name} reads (None: a free-standing node, catalogue types only)
    scope: Graph | None = field(default=None, repr=False, compare=False)

    @property
    def spec(self):
        if self.scope is not None:
            return self.scope.spec_of(self.type, self.params, self.id)
        return node_type(self.type, self.id)

    @property
    def shares(self) -> str | None:
        """The id of the node whose weights this node uses (its own weights when None)."""
        return self.params.get(SHARES)

    def resolved_params(self) -> dict:
        """All params, defaults filled in."""
        params = self.scope.concrete(self.params) if self.scope is not None else self.params
        return self.spec.resolve_params(params, self.id)

    def input_ports(self) -> list[str]:
        return self.spec.input_ports(self.resolved_params())

    def output_ports(self) -> list[str]:
        return self.spec.output_ports(self.resolved_params())

    def clone(self) -> Node:
        """A copy sharing nothing mutable (params hold only scalars and lists of ints)."""
        return Node(self.id, self.type, copy_params(self.params), self.position, self.trainable, self.lr_mult,
                    self.scope)

    def as_dict(self) -> dict:
        d = {"id": self.id, "type": self.type}
        if self.params:
            d["params"] = copy.deepcopy(self.params)
        d["position"] = [round(self.position[0], 2), round(self.position[1], 2)]
        if not self.trainable:
            d["trainable"] = False
        if self.lr_mult != 1.0:
            d["lr_mult"] = self.lr_mult
        return d


def copy_params(params: dict) -> dict:
    return {k: (list(v) if isinstance(v, list) else copy.deepcopy(v) if isinstance(v, dict) else v)
            for k, v in params.items()}


MAX_LR_MULT = 1e6


def check_training_options(node_id: str, trainable, lr_mult) -> tuple[bool, float]:
    """(trainable, lr_mult) checked: a bool, and a finite number from 0 to MAX_LR_MULT; else GraphError."""
    if not isinstance(trainable, bool):
        raise GraphError(f"node '{node_id}': trainable must be true or false, got {quoted(trainable)}", node=node_id)
    if (not isinstance(lr_mult, (int, float)) or isinstance(lr_mult, bool) or lr_mult != lr_mult
            or not 0 <= lr_mult <= MAX_LR_MULT):
        raise GraphError(f"node '{node_id}': lr_mult must be a number from 0 to {MAX_LR_MULT:g}, got "
                         f"{quoted(lr_mult)}", node=node_id)
    return trainable, float(lr_mult)


def check_node_id(node_id) -> None:
    """Raise GraphError unless `node_id` can name a node (see `graphs.names`)."""
    problem = id_problem(node_id)
    if problem:
        raise GraphError(f"node id {quoted(node_id)} {problem}", node=node_id if isinstance(node_id, str) else None)
