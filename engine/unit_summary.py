"""The model summary as a tree that folds per unit: a row per node of the model, and under an
instance or a Repeat a row per copy and per inner layer, each with its output shape, params and MACs
(an instance's are the sums over its layers). The CLI's `check` prints it indented; the editor shows
it folded. This module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.shapes import InferenceResult, fmt
from engine.unit_shapes import scope_totals
from graphs.document import Graph


@dataclass
class SummaryRow:
    """One row: `node` is the model's node id, or the flat id inside an instance (`layer1.0.conv1`);
    `name` the last part of it; `children` the rows folded under an instance, a Repeat or a copy."""

    node: str
    name: str
    type: str
    shapes: list[tuple] = field(default_factory=list)
    params: int = 0
    macs: int = 0
    children: list[SummaryRow] = field(default_factory=list)

    @property
    def shape_text(self) -> str:
        return ", ".join(fmt(shape) for shape in self.shapes) if self.shapes else ("" if self.children else "?")

    def walk(self, depth: int = 0):
        """(depth, row) for this row and every row under it, in order."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)

    def as_dict(self) -> dict:
        data = {"node": self.node, "type": self.type, "output_shapes": [list(s) for s in self.shapes],
                "params": self.params, "macs": self.macs}
        if self.children:
            data["children"] = [child.as_dict() for child in self.children]
        return data


def summary_tree(graph: Graph, result: InferenceResult) -> list[SummaryRow]:
    """A row per node of `graph` in node order; an instance's or Repeat's rows hold its inner rows."""
    rows = []
    for node in graph.nodes():
        info = result.info.get(node.id)
        rows.append(SummaryRow(node.id, node.id, node.type, [s.shape for s in info.outputs.values()] if info else [],
                               info.params if info else 0, info.macs if info else 0))
    expanded, flat = result.expanded, result.flat
    if expanded is None or flat is None:
        return rows
    totals = scope_totals(expanded, flat)
    scope_rows = {scope.prefix: SummaryRow(scope.prefix, scope.prefix.rpartition(".")[2], scope.unit,
                                           _scope_shapes(expanded, flat, scope.prefix),
                                           *totals.get(scope.prefix, (0, 0)))
                  for scope in expanded.scopes}
    for row in rows:  # the model's own instances: their rows, with their output shapes
        if row.node in scope_rows:
            row.children = scope_rows[row.node].children
            scope_rows[row.node] = row
    for scope in expanded.scopes:
        if scope.parent and scope.parent in scope_rows:
            scope_rows[scope.parent].children.append(scope_rows[scope.prefix])
    for node_id in expanded.graph.node_ids():
        parent = node_id.rpartition(".")[0]
        if parent in scope_rows:
            info = flat.info.get(node_id)
            scope_rows[parent].children.append(SummaryRow(
                node_id, node_id.rpartition(".")[2], expanded.graph.node(node_id).type,
                [s.shape for s in info.outputs.values()] if info else [], info.params if info else 0,
                info.macs if info else 0))
    order = {node_id: i for i, node_id in enumerate(expanded.graph.node_ids())}
    for scope in reversed(expanded.scopes):  # layers and nested scopes in node order, innermost first
        scope_rows[scope.prefix].children.sort(key=lambda row: _first(row, order))
    return rows


def _scope_shapes(expanded, flat: InferenceResult, prefix: str) -> list[tuple]:
    """The output shapes of one instance, Repeat or copy (empty when one is unknown)."""
    shapes = []
    for source, port in expanded.scope_outputs.get(prefix, {}).values():
        spec = flat.info[source].outputs.get(port) if source in flat.info else None
        if spec is None:
            return []
        shapes.append(spec.shape)
    return shapes


def _first(row: SummaryRow, order: dict) -> int:
    if row.node in order:
        return order[row.node]
    return min((_first(child, order) for child in row.children), default=len(order))
