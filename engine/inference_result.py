"""What a shape inference gives: shapes, params and MACs per node, and every error, structural and shape
(`engine.shapes` makes it, live edit by edit or in one go). This module imports no torch."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from engine.shape_rules import NodeInfo, TensorSpec
from graphs.errors import GraphError


@dataclass
class InferenceResult:
    """Shapes, params and MACs per node, and every error (structural and shape)."""

    info: dict[str, NodeInfo] = field(default_factory=dict)  # only nodes that were inferred
    inputs: dict[str, dict[str, TensorSpec]] = field(default_factory=dict)
    errors: list[GraphError] = field(default_factory=list)
    # a graph with units: its expansion (`graphs.units.Expanded`) and the result on the flat graph
    expanded: object = None
    flat: InferenceResult | None = None
    # from live inference: the result this one follows (`basis`) and the nodes whose shapes or inputs may
    # differ from it (`changed`); None when unknown (panels then compare the two results)
    basis: InferenceResult | None = field(default=None, repr=False, compare=False)
    changed: set | None = field(default=None, repr=False, compare=False)  # (read it, never change it)

    @property
    def valid(self) -> bool:
        return not self.errors

    def output_shapes(self, node_id: str) -> dict[str, tuple] | None:
        info = self.info.get(node_id)
        return None if info is None else {port: spec.shape for port, spec in info.outputs.items()}

    @functools.cached_property
    def errors_by_node(self) -> dict[str | None, list[GraphError]]:
        """The errors grouped by the node they name (None: the graph as a whole), read once the
        result is complete."""
        grouped: dict[str | None, list[GraphError]] = {}
        for error in self.errors:
            grouped.setdefault(error.node, []).append(error)
        return grouped

    def errors_for(self, node_id: str) -> list[GraphError]:
        return self.errors_by_node.get(node_id, [])

    @property
    def total_params(self) -> int:
        return sum(i.params for i in self.info.values())

    @property
    def total_macs(self) -> int:
        return sum(i.macs for i in self.info.values())
