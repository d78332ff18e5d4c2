"""The `units` section of a version-2 project file.

    "units": [{"name": "BasicBlock", "doc": "...", "params": {"out_channels": 64, "stride": 1,
               "downsample": false}, "optional": {"downsample_0": "downsample", "downsample_1": "downsample"},
               "nodes": [...], "edges": [...]}, ...]

Each unit's `nodes` and `edges` read like the model's. Loading stays two-phase: every unit is
registered (name, doc, params) first, then every unit's nodes and the model's, then every edge, so a
unit may use a unit defined after it. A unit that would contain itself, an unknown unit, a reference
to a param the unit lacks and a wire to a port an instance's unit lacks are refused with a
`ProjectFormatError` naming the unit and the place, and so is an `optional` entry naming a node the
unit lacks, a node without one input and one output, or a switch that is not a bool param.
"""

from __future__ import annotations

from collections.abc import Callable

from graphs.document import Graph
from graphs.errors import GraphError, ProjectFormatError, printable, quoted
from graphs.unit_registry import unit_name_problem
from graphs.units.definition import UnitDefinition


def load_units(raw, graph: Graph, path) -> list[Callable]:
    """Register the file's units in `graph` (empty for now) and return, per unit, a function that given
    `graphs.project.add_nodes` or `add_edges` fills in its nodes or edges."""
    from graphs.project import _expect

    fills = []
    for i, unit in enumerate(_expect(raw, list, "units", "units", path)):
        where = f"units[{i}]"
        _expect(unit, dict, where, "a unit", path)
        name = _expect(unit.get("name"), str, f"{where}.name", "a unit's name", path)
        problem = unit_name_problem(name, graph.custom_types)
        if problem:
            raise ProjectFormatError(f"unit name {quoted(name)} {problem}", path, f"{where}.name")
        where = f"units[{i}] ({name!r})"
        if name in graph.units:
            raise ProjectFormatError(f"unit '{name}' is defined twice", path, where)
        doc = _expect(unit.get("doc", ""), str, f"{where}.doc", "a unit's doc", path)
        params = _expect(unit.get("params", {}), dict, f"{where}.params", "a unit's params", path)
        optional = _expect(unit.get("optional", {}), dict, f"{where}.optional", "a unit's optional layers", path)
        definition = UnitDefinition(name, Graph(units=graph.units), dict(params), doc, dict(optional))
        try:
            graph.add_unit(definition)
        except GraphError as error:
            param = getattr(error, "param", None)
            raise ProjectFormatError(error.message, path, f"{where}.params.{param}" if param else where) from None
        fills.append(_filler(definition, unit, where, path))
    return fills


def _filler(definition: UnitDefinition, raw: dict, where: str, path) -> Callable:
    def fill(add) -> None:
        section = "nodes" if add.__name__ == "add_nodes" else "edges"
        add(definition.graph, raw.get(section, []), f"{where}.{section}", path)
        if section == "edges":  # every unit's nodes are in by now: an instance's ports can be counted
            for node_id, why in definition.optional_problems():
                raise ProjectFormatError(why, path, f"{where}.optional.{printable(str(node_id))}")
    return fill
