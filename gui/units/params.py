"""Editing a unit's params from the editor: add, rename, change the default of, remove one, and link
an inner node's param to one (or unlink it).

Each edit is planned as a list of `Step`s (a unit's new params, or one node's new params), tried
first on a copy of the model, so a refused edit says why and leaves the document as it was; the
steps then become one undo macro of `ReplaceUnitParams` and `gui.commands.SetParams` commands,
all through the document's public API (`Graph.replace_unit`, `Graph.set_params`).

A rename goes in three moves so that every intermediate state is a valid document: the unit gets
the new param beside the old one, every reference and every instance's and Repeat's value moves
to the new name, then the old param goes. A removal replaces the references by the default first.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QUndoCommand

from graphs.document import Graph
from graphs.errors import GraphError, quoted
from graphs.families.units import OVERRIDES_PARAM
from graphs.unit_registry import REF, check_unit_params, is_ref, param_spec
from graphs.units import UnitDefinition
from gui import commands

KIND_LABELS = {"int": "int", "float": "float", "bool": "bool", "str": "text", "int_list": "list of ints"}
# which unit param kinds an inner param of a given kind may refer to
COMPATIBLE = {"int": {"int"}, "float": {"float", "int"}, "bool": {"bool"}, "str": {"str"}, "choice": {"str"},
              "int_list": {"int_list"}, "int_tuple": {"int", "int_list"}, "optional_int_tuple": {"int", "int_list"}}


@dataclass(frozen=True)
class Step:
    """One change: unit `unit`'s params become `params` (node None), or node `node` of the graph of
    unit `unit` (None: the model) gets `params`."""

    unit: str | None
    params: dict
    node: str | None = None
    renamed: tuple[str, str] | None = None  # a unit param renamed (old, new): optional layers it switches follow
    optional: dict | None = None  # the unit's new `optional` (None: kept, following a renamed or removed switch)


def kind_of(default) -> str:
    """The kind of a unit param, from its default (int, float, bool, str, int_list)."""
    return param_spec("p", default).kind


def kind_label(default) -> str:
    return KIND_LABELS[kind_of(default)]


def graph_of(model: Graph, unit: str | None) -> Graph:
    return model if unit is None else model.unit_graph(unit)


def refs_to(body: Graph, name: str) -> list[tuple[str, str]]:
    """(node id, param) of every inner param of `body` that refers to unit param `name`."""
    return [(node.id, key) for node in body.nodes() for key, value in node.params.items()
            if is_ref(value) and value[REF] == name]


def users(model: Graph, unit: str) -> list[tuple[str | None, str]]:
    """(unit whose graph holds it or None, node id) of every instance and Repeat of `unit`."""
    return list(model.units.users(unit))


def compatible(inner_kind: str, default) -> bool:
    """Whether an inner param of kind `inner_kind` may refer to a unit param with this default."""
    return kind_of(default) in COMPATIBLE.get(inner_kind, {inner_kind})


def linkable(model: Graph, unit: str, inner_kind: str) -> list[str]:
    """The params of `unit` an inner param of kind `inner_kind` may refer to."""
    return [name for name, default in model.units[unit].params.items() if compatible(inner_kind, default)]


# ---- planning ---------------------------------------------------------------
def _with(params: dict, name: str, value) -> dict:
    return {**params, name: value}


def _without(params: dict, name: str) -> dict:
    return {k: v for k, v in params.items() if k != name}


def _moved(params: dict, old: str, new: str | None) -> dict:
    """An instance's or Repeat's params with its value (and overrides) of `old` moved to `new`
    (dropped when `new` is None)."""
    out = {}
    for key, value in params.items():
        if key == old:
            if new is not None:
                out[new] = value
        elif key == OVERRIDES_PARAM.name and isinstance(value, dict):
            out[key] = {index: {(new if k == old else k): v for k, v in changes.items() if k != old or new}
                        for index, changes in value.items()}
            out[key] = {index: changes for index, changes in out[key].items() if changes}
        else:
            out[key] = value
    return out


def _check_name(definition: UnitDefinition, name) -> None:
    if not isinstance(name, str) or not name:
        raise GraphError("a unit param needs a name")
    if name in definition.params:
        raise GraphError(f"unit '{definition.name}' has a param {quoted(name)} already")
    check_unit_params({name: 0})


def plan_add(model: Graph, unit: str, name: str, default) -> list[Step]:
    definition = model.units[unit]
    _check_name(definition, name)
    return [Step(unit, _with(definition.params, name, default))]


def plan_default(model: Graph, unit: str, name: str, default) -> list[Step]:
    definition = model.units[unit]
    return [Step(unit, _with(definition.params, name, default))]


def plan_rename(model: Graph, unit: str, old: str, new: str) -> list[Step]:
    """Rename param `old` of `unit` to `new`: every reference, instance value and Repeat override follows."""
    definition = model.units[unit]
    _check_name(definition, new)
    params = definition.params
    both = {(new if k == old else k): v for k, v in params.items()}
    both[old] = params[old]
    steps = [Step(unit, both)]
    body = definition.graph
    for node_id in dict.fromkeys(node for node, _ in refs_to(body, old)):
        node = body.node(node_id)
        steps.append(Step(unit, {k: ({REF: new} if is_ref(v) and v[REF] == old else v)
                                 for k, v in node.params.items()}, node_id))
    steps += _instance_steps(model, unit, old, new)
    steps.append(Step(unit, {(new if k == old else k): v for k, v in params.items()}, renamed=(old, new)))
    return steps


def plan_remove(model: Graph, unit: str, name: str) -> list[Step]:
    """Remove param `name` of `unit`: references become its default, instances stop setting it."""
    definition = model.units[unit]
    default = definition.params[name]
    body = definition.graph
    steps = []
    for node_id in dict.fromkeys(node for node, _ in refs_to(body, name)):
        node = body.node(node_id)
        steps.append(Step(unit, {k: (default if is_ref(v) and v[REF] == name else v)
                                 for k, v in node.params.items()}, node_id))
    steps += _instance_steps(model, unit, name, None)
    steps.append(Step(unit, _without(definition.params, name)))
    return steps


def _instance_steps(model: Graph, unit: str, old: str, new: str | None) -> list[Step]:
    steps = []
    for where, node_id in users(model, unit):
        node = graph_of(model, where).node(node_id)
        moved = _moved(node.params, old, new)
        if moved != node.params:
            steps.append(Step(where, moved, node_id))
    return steps


def plan_link(model: Graph, unit: str, node_id: str, key: str, name: str, default=None) -> list[Step]:
    """Make param `key` of inner node `node_id` refer to unit param `name`; with `default`, make
    that param first (the node's current value as its default)."""
    definition = model.units[unit]
    steps = []
    if default is not None:
        _check_name(definition, name)
        steps.append(Step(unit, _with(definition.params, name, default)))
    elif name not in definition.params:
        raise GraphError(f"unit '{unit}' has no param {quoted(name)}")
    node = definition.graph.node(node_id)
    steps.append(Step(unit, _with(node.params, key, {REF: name}), node_id))
    return steps


def plan_unlink(model: Graph, unit: str, node_id: str, key: str) -> list[Step]:
    """Give param `key` of inner node `node_id` the value its reference reads now (the default)."""
    definition = model.units[unit]
    node = definition.graph.node(node_id)
    value = node.params.get(key)
    if not is_ref(value):
        return []
    return [Step(unit, _with(node.params, key, definition.params[value[REF]]), node_id)]


def fresh_param_name(model: Graph, unit: str, stem: str) -> str:
    taken = model.units[unit].params
    if stem not in taken:
        return stem
    n = 2
    while f"{stem}{n}" in taken:
        n += 1
    return f"{stem}{n}"


# ---- applying -----------------------------------------------------------------
def apply(model: Graph, step: Step) -> None:
    """Make `step` on `model` (through its public API)."""
    if step.node is None:
        old = model.units[step.unit]
        switches = {node: (step.renamed[1] if step.renamed and param == step.renamed[0] else param)
                    for node, param in old.optional.items()}
        switches = {node: param for node, param in switches.items() if param in step.params}  # a removed switch
        if step.optional is not None:
            switches = dict(step.optional)
        definition = UnitDefinition(step.unit, old.graph, dict(step.params), old.doc, switches)
        try:
            model.replace_unit(definition)
        except GraphError:
            old.graph.unit = old  # the new definition claimed the graph when it was made
            raise
    else:
        graph_of(model, step.unit).set_params(step.node, step.params)


def check(model: Graph, steps: list[Step]) -> None:
    """Raise GraphError, saying why, when `steps` cannot all be made (tried on a copy of `model`)."""
    scratch = model.copy()
    for step in steps:
        apply(scratch, step)


class ReplaceUnitParams(QUndoCommand):
    """Give a unit new params (names and defaults) and, with `optional`, new optional layers, keeping its
    graph; undo gives the old ones back, the optional layers included."""

    def __init__(self, model: Graph, unit: str, params: dict, renamed: tuple[str, str] | None = None,
                 optional: dict | None = None):
        super().__init__(f"Change the params of unit '{unit}'")
        self.model, self.unit, self.new, self.renamed, self.optional = model, unit, dict(params), renamed, optional
        self.old: dict | None = None
        self.old_optional: dict | None = None

    def redo(self) -> None:
        definition = self.model.units[self.unit]
        self.old, self.old_optional = dict(definition.params), dict(definition.optional)
        apply(self.model, Step(self.unit, self.new, renamed=self.renamed, optional=self.optional))

    def undo(self) -> None:
        apply(self.model, Step(self.unit, self.old, optional=self.old_optional))


def to_commands(model: Graph, steps: list[Step]) -> list[QUndoCommand]:
    made = []
    for step in steps:
        if step.node is None:
            made.append(ReplaceUnitParams(model, step.unit, step.params, step.renamed, step.optional))
        else:
            graph = graph_of(model, step.unit)
            made.append(commands.SetParams(graph, step.node, graph.node(step.node).params, step.params))
    return made


def push(controller, text: str, steps: list[Step]) -> bool:
    """Check `steps` on a copy, then push them as one undo step named `text`. Raises GraphError (after
    saying why on the controller's `message`) when refused."""
    if not steps:
        return False
    model = controller.graph
    try:
        check(model, steps)
    except GraphError as error:
        controller.message.emit(error.message)
        raise
    commands.push_macro(controller.undo_stack, text, to_commands(model, steps))
    return True
