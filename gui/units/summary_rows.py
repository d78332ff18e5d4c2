"""The model summary, folded per unit: an instance's row opens onto its unit's layers.

An instance or Repeat reads as one row (its unit, its outputs, params and MACs over all its layers)
marked ▸; unfolded (▾) it is followed by the rows under it in the engine's summary tree
(`engine.unit_summary.summary_tree`): a Repeat's copies, an instance's layers and nested
instances, indented and each folding the same way. Rows are `(id, cells, error text)` as
`gui.summary` shows them; a row inside an instance carries its flat id (`layer1.0.conv1`).
"""

from __future__ import annotations

from engine.unit_summary import summary_tree
from graphs.document import Graph
from gui import formatting
from gui.units import core

FOLDED, UNFOLDED = "▸", "▾"
INDENT = "    "


def instance_type(model: Graph, node) -> str | None:
    """What the Type column says for an instance or Repeat (None for a plain node)."""
    unit = core.instance_unit(model, node)
    if unit is None:
        return None
    return f"{unit} ×{node.resolved_params().get('count', 1)}" if core.is_repeat(node) else f"{unit} (unit)"


def fold_mark(open_rows: set, row_id: str) -> str:
    return UNFOLDED if row_id in open_rows else FOLDED


def unit_trees(model: Graph, result) -> dict:
    """The summary tree's rows of the model's nodes, by node id (empty for a model without units)."""
    return {row.node: row for row in summary_tree(model, result)} if model.uses_units() else {}


def inner_rows(tree_row, result, open_rows: set, depth: int = 1) -> list:
    """The rows under an unfolded tree row, each unfolded one followed by its own."""
    flat = getattr(result, "flat", None)
    rows = []
    for child in tree_row.children:
        label = INDENT * depth + (f"{fold_mark(open_rows, child.node)} {child.name}" if child.children else child.name)
        errors = "; ".join(e.message for e in flat.errors if e.node == child.node) if flat is not None else ""
        rows.append((child.node, (label, child.type, child.shape_text, formatting.grouped(child.params),
                                  formatting.grouped(child.macs)), errors))
        if child.children and child.node in open_rows:
            rows += inner_rows(child, result, open_rows, depth + 1)
    return rows
