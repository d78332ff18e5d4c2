"""Copy and paste of node selections, as JSON in the project format.

The clipboard holds, as JSON text, a small project (`format: neurocanvas`) with the selected
nodes and the wires between them, so it is read back with the project loader's
checks, and a project file's text pasted from elsewhere works too. Pasting gives
every node a fresh id (`Graph.new_id` on a scratch copy of the document, so ids
never clash with each other or with existing nodes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from PySide6.QtCore import QMimeData

from graphs.document import Edge, Graph, Node, renamed
from graphs.errors import GraphError, ProjectFormatError
from graphs.project import FORMAT, VERSION, project_from_dict
from graphs.units.transfer import paste_units, renamed_unit_type, units_needed
from gui.units.core import check_not_inside_itself

MIME_TYPE = "application/x-neurocanvas-nodes"


def selection_data(graph: Graph, node_ids) -> dict:
    """The selected nodes and the wires with both ends in the selection, and the definitions of the
    units they use (so a paste into another project brings them along). Copied out of a unit's
    definition, a param that refers to a unit param holds the param's default instead."""
    ids = [n for n in graph.node_ids() if n in set(node_ids)]
    nodes = []
    for node_id in ids:
        node = graph.node(node_id)
        node.params = graph.concrete(node.params)
        nodes.append(node.as_dict())
    edges = [e.as_dict() for e in graph.edges() if e.source in ids and e.target in ids]
    units = units_needed(graph, ids)
    return {"format": FORMAT, "version": VERSION if units else 1, "name": "clipboard",
            **({"units": [unit.as_dict() for unit in units]} if units else {}), "nodes": nodes, "edges": edges}


def to_text(data: dict) -> str:
    """The clipboard text for `data`: plain JSON, so it also pastes into a text editor.

    (Plain text rather than a QMimeData with a private type: Qt's offscreen
    platform crashes at exit when the clipboard owns a QMimeData.)"""
    return json.dumps(data, indent=1)


def from_mime(mime: QMimeData | None) -> dict | None:
    """The clipboard's node data, or None when it holds nothing Neurocanvas can paste."""
    if mime is None:
        return None
    if mime.hasFormat(MIME_TYPE):
        text = bytes(mime.data(MIME_TYPE)).decode("utf-8", "replace")
    elif mime.hasText():
        text = mime.text()
    else:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


@dataclass
class PastePlan:
    nodes: list[Node]
    edges: list[Edge]
    units: list = field(default_factory=list)  # definitions the project lacks, to add first


def plan_paste(graph: Graph, data: dict, offset=(40.0, 40.0)) -> PastePlan:
    """Nodes with fresh ids and shifted positions, and their wires renamed to match.

    Raises `ProjectFormatError` or `GraphError` when the data is not a valid selection."""
    source = project_from_dict(data, "clipboard", custom_types=graph.custom_types).graph  # runs no code
    scratch = graph.copy()
    units: list = []  # the units the project lacks, named as they will be added (a clash gets a new name)

    def add(unit) -> None:
        scratch.add_unit(unit)
        units.append(unit)

    renames = paste_units(scratch, [source.units[name] for name in source.units], add)
    pasted = [_renamed(node, renames) for node in source.nodes()]
    check_not_inside_itself(graph, pasted)
    mapping: dict[str, str] = {}
    for node in pasted:
        mapping[node.id] = scratch.new_id(node.type)
        scratch.add_node(node.type, node.params, mapping[node.id])
    nodes: list[Node] = []
    for node in pasted:
        position = (round(node.position[0] + offset[0]), round(node.position[1] + offset[1]))
        params = dict(node.params)
        if node.shares in mapping:  # the pasted copies share each other's weights, not the originals'
            params["shares"] = mapping[node.shares]
        nodes.append(Node(mapping[node.id], node.type, params, (float(position[0]), float(position[1])),
                          node.trainable, node.lr_mult))
    edges = []
    for edge in source.edges():
        new = renamed(edge, mapping)
        try:
            scratch.check_connect(new)
        except GraphError:
            continue  # a malformed selection: keep the nodes, drop the wire
        scratch.connect(new.source, new.target, new.source_port, new.target_port)
        edges.append(new)
    return PastePlan(nodes, edges, [unit.clone(units=graph.units) for unit in units])


def _renamed(node: Node, renames: dict) -> Node:
    """`node` of the clipboard as pasted: its unit (or its Repeat's) under the name the paste gave it."""
    data = renamed_unit_type(node.as_dict(), renames)
    return Node(node.id, data["type"], data.get("params", {}), node.position, node.trainable, node.lr_mult)


__all__ = ["MIME_TYPE", "PastePlan", "ProjectFormatError", "from_mime", "plan_paste", "selection_data", "to_text"]
