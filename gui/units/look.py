"""What an instance shows on its face besides ports and shapes: the summary line. And what an
optional layer inside a unit shows: the param that switches it ("optional  if downsample").

An instance of BasicBlock reads "unit · 7 nodes"; a Repeat of it "BasicBlock ×4 · 7 nodes each".
The parameter count comes with the inference result, as for any node.
"""

from __future__ import annotations

from graphs.document import Graph, Node
from gui.units import core


def unit_line(model: Graph, node: Node) -> str | None:
    """The summary line for an instance or a Repeat, or None for any other node."""
    unit = core.instance_unit(model, node)
    if unit is None:
        return None
    body = core.unit_graph(model, unit)
    ports = set(core.input_ports(body)) | set(core.output_ports(body))
    inner = len([n for n in body.node_ids() if n not in ports])
    nodes = f"{inner} node{'s' if inner != 1 else ''}"
    if core.is_repeat(node):
        count = node.params.get("count", 2)
        return f"{unit} ×{count} · {nodes} each"
    return f"unit · {nodes}"


def switch_of(node) -> str | None:
    """The bool unit param that switches `node` on, when it is an optional layer of the unit holding it."""
    unit = getattr(node.scope, "unit", None) if node is not None else None
    return unit.optional.get(node.id) if unit is not None else None
