"""Units travelling with copied nodes: copy and paste, also from one project into another.

`units_needed(graph, node_ids)` lists the definitions some nodes use, with the units those use, each
after the units it uses. `paste_units(target, definitions, add)` brings them into document `target`:
a unit that is already there with the same content is reused, one whose name is taken by another
unit gets a fresh name (`BasicBlock2`), and the renames are applied to the units pasted after it.
It returns the renames, for the pasted nodes' types (`renamed_unit_type`).
"""

from __future__ import annotations

from collections.abc import Callable

from graphs.document import Graph
from graphs.families.units import REPEAT
from graphs.units.definition import UnitDefinition


def units_needed(graph: Graph, node_ids) -> list[UnitDefinition]:
    """Copies of the definitions `node_ids` (nodes of `graph`) use, directly or not, dependencies first."""
    order: list[str] = []

    def visit(name: str, seen: set) -> None:
        if name in order or name in seen or name not in graph.units:
            return
        seen.add(name)
        for used in sorted(graph.units.used_by(graph.units[name].graph)):
            visit(used, seen)
        order.append(name)

    for node_id in node_ids:
        node = graph.node(node_id)
        visit(node.params.get("unit") if node.type == REPEAT else node.type, set())
    return [graph.units[name].clone() for name in order]


def renamed_unit_type(node: dict, renames: dict[str, str]) -> dict:
    """A node's file form (`Node.as_dict()`) with its unit, or its Repeat's unit, renamed."""
    node = dict(node)
    if node.get("type") == REPEAT and node.get("params", {}).get("unit") in renames:
        node["params"] = {**node["params"], "unit": renames[node["params"]["unit"]]}
    elif node.get("type") in renames:
        node["type"] = renames[node["type"]]
    return node


def paste_units(target: Graph, definitions: list[UnitDefinition],
                add: Callable[[UnitDefinition], None] | None = None) -> dict[str, str]:
    """Add `definitions` (dependencies first, as `units_needed` gives them) to document `target` through
    `add` (default `target.add_unit`; the editor passes its undoable command); returns old -> new names."""
    add = add or target.add_unit
    renames: dict[str, str] = {}
    for definition in definitions:
        data = definition.as_dict()
        data["nodes"] = [renamed_unit_type(node, renames) for node in data["nodes"]]
        name = definition.name
        existing = target.units.get(name)
        if existing is not None and existing.as_dict() == data:
            continue
        if existing is not None:
            n = 2
            while f"{name}{n}" in target.units:
                n += 1
            renames[name] = name = f"{name}{n}"
        add(definition_from_dict({**data, "name": name}, target))
    return renames


def definition_from_dict(data: dict, document: Graph) -> UnitDefinition:
    """A definition from its file form (`UnitDefinition.as_dict()`), its graph using `document`'s units."""
    from graphs.project import add_edges, add_nodes

    definition = UnitDefinition(data["name"], Graph(units=document.units), dict(data.get("params", {})),
                                data.get("doc", ""))
    add_nodes(definition.graph, data.get("nodes", []), f"units ({data['name']}).nodes", None)
    add_edges(definition.graph, data.get("edges", []), f"units ({data['name']}).edges", None)
    return definition
