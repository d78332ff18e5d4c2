"""The editor's one door to `graphs.units`: every call the GUI makes on unit definitions,
instances and Repeats goes through these small functions, so the rest of `gui.units` reads in the
editor's own words and a change in the core's API is met here."""

from __future__ import annotations

import re

from graphs.catalogue import CATALOGUE
from graphs.document import Graph, Node
from graphs.errors import GraphError, quoted
from graphs.unit_registry import unit_name_problem
from graphs.units import REPEAT, UNIT_INPUT, UNIT_OUTPUT, UnitDefinition, is_ref
from graphs.units.transfer import paste_units

CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9_]*")
NOT_GROUPED = {"Data": "is a data node: keep it outside the unit", "Losses": "is a loss: keep it outside the unit"}

__all__ = ["REPEAT", "UNIT_INPUT", "UNIT_OUTPUT", "is_ref"]


# ---- definitions ----------------------------------------------------------
def unit_names(model: Graph) -> list[str]:
    return list(model.units)


def definition(model: Graph, name: str) -> UnitDefinition:
    return model.units[name]


def definition_name(unit: UnitDefinition) -> str:
    return unit.name


def unit_graph(model: Graph, name: str | None) -> Graph | None:
    """The live definition graph of unit `name`, or None when the project has no such unit."""
    return model.unit_graph(name) if isinstance(name, str) and name in model.units else None


def bring_in(model: Graph, definitions: list, name: str) -> tuple[str, list]:
    """What adding `definitions` (from a library file, dependencies first) to `model` takes: the name
    unit `name` will have there and the definitions to add, ready for `model`. An identical unit the
    project has is reused; one whose name is taken by a different unit is renamed (`BasicBlock2`)."""
    scratch, added = model.copy(), []

    def add(unit) -> None:
        scratch.add_unit(unit)
        added.append(unit)

    renames = paste_units(scratch, definitions, add)
    return renames.get(name, name), [unit.clone(units=model.units) for unit in added]


def units_used(unit: UnitDefinition, model: Graph | None = None) -> set[str]:
    """The units `unit`'s graph uses; with `model`, also those they use, all the way down."""
    found: set[str] = set()
    pending = [unit]
    while pending:
        current = pending.pop()
        for node in current.graph.nodes():
            name = node.params.get("unit") if node.type == REPEAT else node.type
            if name in found or name in CATALOGUE or node.type in (UNIT_INPUT, UNIT_OUTPUT):
                continue
            if isinstance(name, str):
                found.add(name)
                if model is not None and name in model.units:
                    pending.append(model.units[name])
    return found


def new_unit(model: Graph, name: str, params: dict | None = None) -> UnitDefinition:
    """An empty unit `name` with `params` (name -> default), its graph able to hold instances of the
    project's other units and references to its own params, not yet added to the project."""
    unit = UnitDefinition(name, Graph(units=model.units), dict(params or {}))
    unit.graph.unit = unit  # so its nodes may refer to its params before it is added
    return unit


def add_unit(model: Graph, unit: UnitDefinition) -> None:
    model.add_unit(unit)


def remove_unit(model: Graph, name: str) -> None:
    model.remove_unit(name)


def input_ports(body: Graph) -> list[str]:
    return body.node_ids_of_type(UNIT_INPUT)


def output_ports(body: Graph) -> list[str]:
    return body.node_ids_of_type(UNIT_OUTPUT)


def name_problem(model: Graph, name) -> str | None:
    """Why `name` cannot name a new unit of `model`, or None."""
    if not isinstance(name, str) or not name:
        return "a unit needs a name"
    problem = unit_name_problem(name, model.custom_types)
    if problem:
        return f"unit name {quoted(name)} {problem}"
    if not CLASS_NAME.fullmatch(name):
        return f"unit name {quoted(name)} should start with a capital letter, as a class name does (BasicBlock)"
    if name in model.units:
        return f"the project has a unit {name} already: pick another name"
    return None


def check_new_unit_name(model: Graph, name) -> None:
    problem = name_problem(model, name)
    if problem:
        raise GraphError(problem)


def free_unit_name(model: Graph, stem: str = "Unit") -> str:
    """Unit1, Unit2, ...: the first that names no unit or type."""
    n = 1
    while name_problem(model, f"{stem}{n}"):
        n += 1
    return f"{stem}{n}"


# ---- nodes ------------------------------------------------------------------
def group_problem(node: Node) -> str | None:
    """Why `node` cannot go into a unit (data nodes, losses and port nodes stay outside), or None."""
    if node.type in (UNIT_INPUT, UNIT_OUTPUT):
        return "is a port of the unit being edited: keep it outside the group"
    spec = CATALOGUE.get(node.type)
    return NOT_GROUPED.get(spec.category) if spec is not None else None


def is_repeat(node: Node) -> bool:
    return node.type == REPEAT


def instance_unit(model: Graph, node: Node) -> str | None:
    """The unit an instance or a Repeat node uses, or None for any other node."""
    if node.type == REPEAT:
        unit = node.params.get("unit")
        return unit if unit in model.units else None
    return node.type if node.type in model.units else None


def instance_values(model: Graph, node: Node) -> dict:
    """The unit's params as instance `node` sets them (the unit's defaults where it does not)."""
    unit = model.units[instance_unit(model, node)]
    return {**unit.params, **{k: v for k, v in node.params.items() if k in unit.params}}


def resolve_refs(params: dict, values: dict) -> dict:
    """Inner node params with every {"ref": name} replaced by the instance's value."""
    return {k: (values[v["ref"]] if is_ref(v) else v) for k, v in params.items()}


def uses(model: Graph, unit: str, ignore=(None, None)) -> int:
    """How many instances and Repeats of `unit` the model and every unit's graph hold (not counting
    node `ignore[1]` of graph `ignore[0]`)."""
    graph, node_id = ignore
    where = graph.unit.name if graph is not None and graph.unit is not None else None
    return len([use for use in model.units.users(unit) if use != (where, node_id)])


def fresh_id(taken: set, type_name: str) -> str:
    """An id such as `conv2d_3` for a node of this type, none of `taken`."""
    base = re.sub(r"[^a-z0-9_]", "", type_name.lower()) or "node"
    n = 1
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def nested_info(model: Graph, graph: Graph, result, head: str) -> dict:
    """NodeInfo of the instances and Repeats of `graph` (a unit's graph, seen as the instance whose flat
    ids start with `head`): their outputs, and params and MACs summed over their layers."""
    from engine.ops.base import NodeInfo
    from engine.unit_shapes import scope_totals

    totals = scope_totals(result.expanded, result.flat)
    found = {}
    for node in graph.nodes():
        if instance_unit(model, node) is None:
            continue
        outputs = {}
        for port, (source, source_port) in result.expanded.scope_outputs.get(head + node.id, {}).items():
            info = result.flat.info.get(source)
            if info is not None and source_port in info.outputs:
                outputs[port] = info.outputs[source_port]
        if outputs:
            found[node.id] = NodeInfo(outputs, *totals.get(head + node.id, (0, 0)))
    return found


def units_from_data(data, source: str) -> dict:
    """name -> UnitDefinition of a unit file or clipboard text: a project with a `units` section, or
    one unit's definition on its own (read with the project loader's checks)."""
    from graphs.project import FORMAT, project_from_dict

    if isinstance(data, dict) and data.get("format") != FORMAT and "nodes" in data and "name" in data:
        data = {"format": FORMAT, "version": 2, "name": source, "units": [data], "nodes": [], "edges": []}
    units = project_from_dict(data, source).graph.units
    return {name: units[name] for name in units}


def check_not_inside_itself(graph: Graph, nodes) -> None:
    """Refuse nodes that would make the unit whose graph `graph` is contain itself."""
    if graph.unit is None:
        return
    for node in nodes:
        name = node.params.get("unit") if node.type == REPEAT else node.type
        if isinstance(name, str) and name in graph.units and graph.units.contains(name, graph.unit.name):
            raise GraphError(f"unit '{graph.unit.name}' cannot contain {quoted(name)}: a unit cannot contain "
                             "itself", node=node.id)
