"""The units a document defines, and the node types they make (see docs/units.md).

`UnitRegistry` is the read-only, dict-like `graph.units` of a document: unit name ->
`UnitDefinition`. It is changed only through the document's methods (`Graph.add_unit`,
`replace_unit`, `remove_unit`, `rename_unit`), which check the change and emit events; a unit's
inner graph is a `Graph` sharing this registry, edited through its own methods, and each of its
edits is announced on the document as `unit_changed(name)`. The registry makes the `NodeType` of
an instance (ports = the unit's UnitInput / UnitOutput node ids, params = the unit's params) and of
a `Repeat` of a unit, cached until a unit changes. This module imports neither Qt nor torch, and not
`graphs.document` (which imports it).
"""

from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass, field, replace

from graphs.catalogue import CATALOGUE, node_type
from graphs.errors import GraphError, ParamError, UnknownNodeTypeError, quoted
from graphs.families.units import (
    CATEGORY,
    COUNT_PARAM,
    OVERRIDES_PARAM,
    REPEAT,
    STRUCTURE,
    UNIT_PARAM,
)
from graphs.name_mapping import NameMapping
from graphs.node_type import SHARES, NodeType
from graphs.params import ParamSpec

REF = "ref"
RESERVED_PARAMS = frozenset({"unit", "count", "overrides", SHARES, "inputs"})
_KINDS = {bool: "bool", int: "int", float: "float", str: "str", list: "int_list"}


class RecursiveUnitError(GraphError):
    """A unit that would contain itself, directly or through the units it uses."""


class UnitUseError(GraphError):
    """A unit change that its instances would not survive (a unit still in use, a param they set)."""


def is_ref(value) -> bool:
    """Whether a param value is a reference to a unit param: {"ref": "out_channels"}."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(REF), str)


def unit_name_problem(name, custom_types=()) -> str | None:
    """Why `name` cannot name a unit (it becomes a node type and a Python class), or None; `custom_types`:
    the project's own layer types (graphs.custom_types), whose names are taken too."""
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        return "must be a Python class name: letters, digits and '_', starting with a letter"
    if len(name) > 100:
        return "is longer than 100 characters"
    if keyword.iskeyword(name) or name in dir(builtins) or name.startswith("_"):
        return "is a Python name (a keyword or builtin); pick another"
    if name in CATALOGUE or name in STRUCTURE:
        return "is the name of a catalogue node type; pick another"
    if name in custom_types:
        return "is the name of one of the project's custom layers; pick another"
    return None


def param_spec(name: str, default) -> ParamSpec:
    """The schema of one unit param, from its default: int, float, bool, str or a list of ints."""
    kind = _KINDS.get(type(default))
    if kind is None or (kind == "int_list" and not all(isinstance(v, int) and not isinstance(v, bool)
                                                        for v in default)):
        raise ParamError(f"unit param {quoted(name)}: a default must be an int, a float, true or false, a string or "
                         f"a list of ints, got {quoted(default)}", param=name)
    return ParamSpec(name, kind, list(default) if kind == "int_list" else default, doc="a param of the unit")


def check_unit_params(params) -> dict:
    """The unit's params (name -> default) checked and in canonical form, or ParamError."""
    if not isinstance(params, dict):
        raise ParamError(f"a unit's params must be an object of name -> default, got {quoted(params)}")
    for name in params:
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or name in RESERVED_PARAMS:
            raise ParamError(f"unit param {quoted(name)} must be a Python name other than "
                             f"{', '.join(sorted(RESERVED_PARAMS))}", param=name if isinstance(name, str) else None)
    return {name: param_spec(name, value).default for name, value in params.items()}


@dataclass(frozen=True)
class RepeatType(NodeType):
    """A Repeat's node type for one unit: unit, count, overrides and the unit's params; resolving
    checks the overrides against the count and the unit's params."""

    unit_params: tuple[ParamSpec, ...] = field(default=())

    def resolve_params(self, params: dict | None, node: str | None = None) -> dict:
        resolved = super().resolve_params(params, node)
        specs = {spec.name: spec for spec in self.unit_params}
        checked = {}
        for index, changes in resolved["overrides"].items():
            if int(index) >= resolved["count"]:
                raise ParamError(f"Repeat overrides copy {index}, but it has {resolved['count']} copies (0 to "
                                 f"{resolved['count'] - 1})", node=node, param="overrides")
            for name, value in changes.items():
                if name not in specs:
                    raise ParamError(f"Repeat overrides {quoted(name)} in copy {index}: unit "
                                     f"{quoted(resolved['unit'])} has no such param"
                                     f"{'; its params: ' + ', '.join(specs) if specs else ''}", node=node,
                                     param="overrides")
                if is_ref(value):
                    raise ParamError(f"Repeat overrides {quoted(name)} in copy {index}: an override is a value, "
                                     "not a reference", node=node, param="overrides")
            checked[index] = {name: specs[name].coerce(value, node) for name, value in changes.items()}
        resolved["overrides"] = checked
        return resolved


def repeat_problem(definition) -> str | None:
    """Why a Repeat cannot stack `definition` (it needs one input and one output), or None."""
    inputs, outputs = definition.inputs(), definition.outputs()
    if len(inputs) == 1 and len(outputs) == 1:
        return None
    return (f"unit '{definition.name}' has {len(inputs)} inputs and {len(outputs)} outputs; a Repeat needs a unit "
            "with one input and one output, so that each copy feeds the next")


class UnitRegistry(NameMapping):
    """Unit name -> UnitDefinition, read-only; the document's methods change it."""

    def __init__(self):
        self._units: dict = {}
        self._specs: dict = {}  # type name or ("Repeat", unit) -> NodeType, until a unit changes
        self._listeners: dict[str, object] = {}  # unit name -> its inner graph's `changed` subscriber
        self.owner = None  # the document (set by it): the events go there

    # ---- reads ----------------------------------------------------------------
    def _by_name(self) -> dict:
        return self._units

    def spec(self, type_name: str, params: dict | None = None, node_id: str | None = None) -> NodeType:
        """The NodeType of a node of `type_name` in a graph of this registry (not a catalogue layer)."""
        if type_name == REPEAT:
            return self.repeat_spec((params or {}).get("unit"), node_id)
        if type_name in STRUCTURE:
            return STRUCTURE[type_name]
        if type_name in self._units:
            spec = self._specs.get(type_name)
            if spec is None:
                spec = self._specs[type_name] = self._instance_spec(self._units[type_name])
            return spec
        if type_name not in CATALOGUE and self._units and isinstance(type_name, str) and len(type_name) < 64:
            import difflib

            close = difflib.get_close_matches(type_name, [*self._units, *CATALOGUE], n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownNodeTypeError(f"unknown node type or unit {quoted(type_name)}{hint}", node=node_id)
        return node_type(type_name, node_id, self.owner.custom_types if self.owner is not None else None)

    def repeat_spec(self, unit: str | None, node_id: str | None = None) -> NodeType:
        """The Repeat type for `unit`: its one input and output, its params next to unit, count, overrides."""
        definition = self._units.get(unit) if isinstance(unit, str) else None
        if definition is None:
            known = f"; the units of this project: {', '.join(self._units)}" if self._units else \
                "; this project defines no units yet"
            raise ParamError(f"Repeat: unit {quoted(unit)} is not defined{known}", node=node_id, param="unit")
        key = (REPEAT, unit)
        spec = self._specs.get(key)
        if spec is None:
            inputs, outputs = definition.inputs(), definition.outputs()
            instance = self.spec(unit)
            spec = RepeatType(REPEAT, CATEGORY, (replace(UNIT_PARAM, default=unit), COUNT_PARAM, OVERRIDES_PARAM,
                                                 *instance.params),
                              tuple(inputs), tuple(outputs), STRUCTURE[REPEAT].doc, key_params=("unit", "count"),
                              unit_params=instance.params)
            self._specs[key] = spec
        return spec

    def _instance_spec(self, definition) -> NodeType:
        params = tuple(param_spec(name, value) for name, value in definition.params.items())
        return NodeType(definition.name, CATEGORY, params, tuple(definition.inputs()), tuple(definition.outputs()),
                        definition.doc or f"An instance of unit {definition.name}.",
                        key_params=tuple(definition.params)[:3])

    def used_by(self, graph) -> set[str]:
        """The units a graph uses directly (its instances and Repeats)."""
        used = set()
        for node in graph.nodes():
            if node.type == REPEAT and isinstance(node.params.get("unit"), str):
                used.add(node.params["unit"])
            elif node.type in self._units:
                used.add(node.type)
        return used

    def cycle(self, start: str) -> list[str] | None:
        """A chain of units from `start` back to itself (start -> ... -> start), or None."""
        stack = [(start, [start])]
        seen = set()
        while stack:
            name, path = stack.pop()
            definition = self._units.get(name)
            if definition is None:
                continue
            for used in sorted(self.used_by(definition.graph)):
                if used == start:
                    return [*path, start]
                if used not in seen:
                    seen.add(used)
                    stack.append((used, [*path, used]))
        return None

    def contains(self, outer: str, inner: str) -> bool:
        """Whether unit `outer` uses unit `inner`, directly or through other units (or is it)."""
        if outer == inner:
            return True
        stack, seen = [outer], {outer}
        while stack:
            definition = self._units.get(stack.pop())
            for used in self.used_by(definition.graph) if definition else ():
                if used == inner:
                    return True
                if used not in seen:
                    seen.add(used)
                    stack.append(used)
        return False

    def users(self, name: str) -> list[tuple[str | None, str]]:
        """Where unit `name` is used: (None for the model or the unit name, node id) pairs."""
        places = [(None, self.owner)] if self.owner is not None else []
        places += [(unit, definition.graph) for unit, definition in self._units.items()]
        return [(where, node.id) for where, graph in places for node in graph.nodes()
                if node.type == name or (node.type == REPEAT and node.params.get("unit") == name)]

    def check_use(self, graph, type_name: str, params: dict | None, node_id: str | None) -> None:
        """Refuse a node in `graph` (a unit's inner graph) that would make its unit contain itself. (A Repeat
        of a unit without one input and one output is reported by `validate`: a file may define the unit
        after the Repeat.)"""
        unit = getattr(graph, "unit", None)
        used = (params or {}).get("unit") if type_name == REPEAT else type_name
        if unit is None or used not in self._units:
            return
        if self.contains(used, unit.name):
            raise RecursiveUnitError(f"unit {quoted(unit.name)} cannot contain {quoted(used)}: "
                                     f"{'it would contain itself' if used == unit.name else 'that unit contains it'}",
                                     node=node_id)

    # ---- changes (called by the document) -------------------------------------
    def _invalidate(self) -> None:
        self._specs.clear()

    def _adopt(self, definition) -> None:
        """Register `definition` (checked by the caller); its inner graph joins this registry."""
        definition.graph.units = self
        definition.graph.unit = definition
        self._units[definition.name] = definition
        listener = _InnerListener(self, definition)
        self._listeners[definition.name] = listener
        definition.graph.changed.sub(listener)
        self._invalidate()

    def _drop(self, name: str):
        definition = self._units.pop(name)
        definition.graph.changed.unsub(self._listeners.pop(name))
        self._invalidate()
        return definition


class _InnerListener:
    """Announces an edit of a unit's inner graph on the document (by the unit's current name)."""

    def __init__(self, registry: UnitRegistry, definition):
        self.registry, self.definition = registry, definition

    def __call__(self) -> None:
        self.registry._invalidate()
        owner = self.registry.owner
        if owner is not None:
            owner.unit_changed.emit(self.definition.name)
            owner.changed.emit()
