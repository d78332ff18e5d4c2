"""Adding an instance from the palette: a unit of the project, or one of the library (whose
definition, with the units it uses, is copied into the project in the same undo step).

Inside a unit's definition, a unit that is it or contains it is refused (a unit cannot contain
itself), with a message.
"""

from __future__ import annotations

from graphs.document import Node
from graphs.errors import GraphError
from gui import commands
from gui.units import core
from gui.units.commands import AddUnit
from gui.units.library import PREFIX, definitions_to_add, library_unit


def is_unit_entry(model, type_name: str) -> bool:
    """Whether a palette entry names a unit (the project's or the library's) rather than a layer."""
    return type_name.startswith(PREFIX) or type_name in core.unit_names(model)


def add_instance(controller, type_name: str, position) -> str:
    """Add an instance of the unit `type_name` names at `position`, as one step; its id, or "" when
    refused (the controller's `message` says why)."""
    model, graph = controller.graph, controller.scope_graph
    name, definitions = type_name, []
    if type_name.startswith(PREFIX):
        name = type_name[len(PREFIX):]
        unit = library_unit(name)
        if unit is None:
            controller.message.emit(f"The unit library has no unit {name}")
            return ""
        try:
            name, definitions = core.bring_in(model, definitions_to_add(unit), name)
        except (OSError, ValueError, GraphError) as error:
            controller.message.emit(f"Cannot add {name}: {error}")
            return ""
    if controller.scope and name in core.unit_names(model):
        inside = controller.scope[-1].unit
        if name == inside or inside in core.units_used(core.definition(model, name), model):
            controller.message.emit(f"Cannot add {name} inside {inside}: a unit cannot contain itself")
            return ""
    node = Node(core.fresh_id(set(graph.node_ids()), name), name, {},
                (float(round(position[0])), float(round(position[1]))))
    steps = [*(AddUnit(model, d) for d in definitions), commands.AddNode(graph, node)]
    commands.push_macro(controller.undo_stack, f"Add {name} '{node.id}'", steps)
    if definitions:
        controller.message.emit(f"Copied unit{'s' if len(definitions) > 1 else ''} "
                                f"{', '.join(core.definition_name(d) for d in definitions)} from the library")
    return node.id
