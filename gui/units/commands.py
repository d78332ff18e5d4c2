"""Undo commands for the units registry, and the steps of Group and Ungroup.

Like `gui.commands`, each command edits through the document's public API only (here the
units registry, through `gui.units.core`), so undo fires the same events as the edit.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from graphs.document import Graph
from gui import commands
from gui.units import core
from gui.units.grouping import GroupPlan, ReplacePlan, UngroupPlan


class AddUnit(QUndoCommand):
    """Add a unit definition to the project."""

    def __init__(self, model: Graph, definition):
        super().__init__(f"Add unit '{core.definition_name(definition)}'")
        self.model, self.definition = model, definition

    def redo(self) -> None:
        core.add_unit(self.model, self.definition)

    def undo(self) -> None:
        core.remove_unit(self.model, core.definition_name(self.definition))


class RemoveUnit(QUndoCommand):
    """Remove a unit definition that nothing uses any more (undo puts the same definition back)."""

    def __init__(self, model: Graph, name: str):
        super().__init__(f"Remove unit '{name}'")
        self.model, self.name = model, name
        self.definition = core.definition(model, name)

    def redo(self) -> None:
        core.remove_unit(self.model, self.name)

    def undo(self) -> None:
        core.add_unit(self.model, self.definition)


class RenameUnit(QUndoCommand):
    """Rename a unit, and with it every instance's type and every Repeat's unit."""

    def __init__(self, model: Graph, old: str, new: str):
        super().__init__(f"Rename unit '{old}' to '{new}'")
        self.model, self.old, self.new = model, old, new

    def redo(self) -> None:
        self.model.rename_unit(self.old, self.new)

    def undo(self) -> None:
        self.model.rename_unit(self.new, self.old)


def group(model: Graph, graph: Graph, plan: GroupPlan) -> list[QUndoCommand]:
    """The steps of Group: the unit, then the selection out, the instance in, its wires."""
    return [AddUnit(model, plan.definition), commands.RemoveNodes(graph, plan.removed),
            commands.AddNode(graph, plan.instance, plan.index),
            *(commands.Connect(graph, edge) for edge in plan.edges)]


def ungroup(model: Graph, graph: Graph, plan: UngroupPlan) -> list[QUndoCommand]:
    """The steps of Ungroup: the instance out, its nodes and wires in, the unit gone if unused."""
    steps = [commands.RemoveNodes(graph, [plan.instance]),
             *(commands.AddNode(graph, node, plan.index + i) for i, node in enumerate(plan.nodes)),
             *(commands.Connect(graph, edge) for edge in plan.edges)]
    if plan.drop_unit:
        steps.append(RemoveUnit(model, plan.unit))
    return steps


def replace_node(graph: Graph, plan: ReplacePlan) -> list[QUndoCommand]:
    """The steps of swapping a node for another (an instance for a Repeat): out, in, wired again."""
    return [commands.RemoveNodes(graph, [plan.old]), commands.AddNode(graph, plan.node, plan.index),
            *(commands.Connect(graph, edge) for edge in plan.edges)]
