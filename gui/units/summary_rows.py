"""The model summary, folded per unit: an instance's row opens onto its unit's layers.

An instance or Repeat reads as one row (its unit, its outputs, params and MACs over all its layers)
marked ▸; unfolded (▾) it is followed by one row per node of its unit, indented, each from the
inference on the expanded model (`layer1.0.conv1`); a Repeat unfolds into its copies, and nested
instances fold the same way. Rows are `(id, cells, error text)` as `gui.summary` shows them; a row
inside an instance carries the flat id.
"""

from __future__ import annotations

from graphs.document import Graph
from graphs.validate import topological_order
from gui import formatting
from gui.units import core

FOLDED, UNFOLDED = "▸", "▾"
INDENT = "    "


def _order(graph: Graph) -> list[str]:
    try:
        return topological_order(graph)
    except Exception:  # a cycle from a loaded file
        return graph.node_ids()


def _cells(label, type_text, info, totals=None) -> tuple[str, ...]:
    shapes = ", ".join(formatting.shape(s.shape) for s in info.outputs.values()) if info else "?"
    params, macs = totals if totals is not None else ((info.params, info.macs) if info else (None, None))
    return (label, type_text, shapes, "–" if params is None else formatting.grouped(params),
            "–" if macs is None else formatting.grouped(macs))


def instance_type(model: Graph, node) -> str:
    """What the Type column says for an instance or Repeat (None for a plain node)."""
    unit = core.instance_unit(model, node)
    if unit is None:
        return None
    return f"{unit} ×{node.resolved_params().get('count', 1)}" if core.is_repeat(node) else f"{unit} (unit)"


def fold_mark(open_rows: set, row_id: str) -> str:
    return UNFOLDED if row_id in open_rows else FOLDED


def inner_rows(model: Graph, result, node, prefix: str, depth: int, open_rows: set) -> list:
    """The rows under unfolded instance (or Repeat) `node`, whose flat ids start with `prefix`."""
    flat, expanded = getattr(result, "flat", None), getattr(result, "expanded", None)
    if flat is None or expanded is None or depth > 16:
        return []
    from engine.unit_shapes import scope_totals

    totals = scope_totals(expanded, flat)
    unit = core.instance_unit(model, node)
    body = core.unit_graph(model, unit)
    indent = INDENT * depth
    rows = []
    if core.is_repeat(node):
        for i in range(node.resolved_params().get("count", 1)):
            copy_id = f"{prefix}.{i}"
            rows.append((copy_id, (f"{indent}{fold_mark(open_rows, copy_id)} {i}", f"{unit} copy {i}", "",
                                   *_totals_cells(totals.get(copy_id))), ""))
            if copy_id in open_rows:
                rows += _unit_rows(model, result, body, copy_id, depth + 1, open_rows, totals)
        return rows
    return _unit_rows(model, result, body, prefix, depth, open_rows, totals)


def _totals_cells(total) -> tuple[str, str]:
    return ("–", "–") if total is None else (formatting.grouped(total[0]), formatting.grouped(total[1]))


def _unit_rows(model, result, body, prefix, depth, open_rows, totals) -> list:
    ports = set(core.input_ports(body)) | set(core.output_ports(body))
    indent = INDENT * (depth + 1)
    rows = []
    for node_id in _order(body):
        if node_id in ports:
            continue
        node, flat_id = body.node(node_id), f"{prefix}.{node_id}"
        kind = instance_type(model, node)
        errors = "; ".join(e.message for e in result.flat.errors if e.node == flat_id)
        if kind is None:
            rows.append((flat_id, _cells(f"{indent}{node_id}", node.type, result.flat.info.get(flat_id)), errors))
            continue
        label = f"{indent}{fold_mark(open_rows, flat_id)} {node_id}"
        rows.append((flat_id, (label, kind, "", *_totals_cells(totals.get(flat_id))), errors))
        if flat_id in open_rows:
            rows += inner_rows(model, result, node, flat_id, depth + 1, open_rows)
    return rows
