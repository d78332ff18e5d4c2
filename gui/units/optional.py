"""Optional layers of a unit, made in the editor, and kept in step with the nodes they name.

In an open unit, the inspector of an inner node shows "Optional: switched by [— | a bool unit param |
New switch…]". Choosing one changes the unit's `optional` (see docs/units.md, Optional layers) in one
undo step, planned as `gui.units.params` steps (a new switch is a bool unit param, default true so that
the instances keep the layer until one switches it off). A node that cannot be optional (a port, or a
node without exactly one input and one output) shows why instead.

Renaming an optional node moves its entry, and removing it drops its entry: `after_rename` and
`before_remove` give the steps the controller adds to the same undo macro.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QInputDialog, QLabel, QLineEdit

from graphs.errors import GraphError, quoted
from graphs.families.units import UNIT_INPUT, UNIT_OUTPUT
from gui.units import params as unit_params
from gui.units.links import unit_of
from gui.units.look import switch_of

NEW_SWITCH = "\0new"  # the combo's "New switch…" entry
NONE_TEXT = "— (always there)"


def why_not(graph, node_id: str) -> str | None:
    """Why inner node `node_id` cannot be optional, or None when it can."""
    node = graph.node(node_id)
    if node.type in (UNIT_INPUT, UNIT_OUTPUT):
        return "a port of the unit cannot be optional"
    try:
        ins, outs = len(node.input_ports()), len(node.output_ports())
    except GraphError as error:
        return error.message
    if (ins, outs) != (1, 1):
        return (f"only a node with one input and one output can be optional, so that skipping it passes its "
                f"input on; {quoted(node_id)} has {ins} input{'s' if ins != 1 else ''} and {outs} "
                f"output{'s' if outs != 1 else ''}")
    return None


def switches(model, unit: str) -> list[str]:
    """The bool params of `unit`, which may switch a layer."""
    return [name for name, value in model.units[unit].params.items() if isinstance(value, bool)]


def _optional_step(model, unit: str, optional: dict, params: dict | None = None) -> unit_params.Step:
    definition = model.units[unit]
    return unit_params.Step(unit, dict(definition.params if params is None else params), optional=optional)


def plan_switch(model, unit: str, node_id: str, param: str | None, new: bool = False) -> list[unit_params.Step]:
    """Make inner node `node_id` switched by bool param `param` (None: always there); with `new`, make
    that param first (default true)."""
    definition = model.units[unit]
    optional = {k: v for k, v in definition.optional.items() if k != node_id}
    if param is None:
        return [] if optional == definition.optional else [_optional_step(model, unit, optional)]
    problem = why_not(definition.graph, node_id)
    if problem:
        raise GraphError(f"{quoted(node_id)} cannot be optional: {problem}", node=node_id)
    steps = unit_params.plan_add(model, unit, param, True) if new else []
    if not new and not isinstance(definition.params.get(param), bool):
        raise GraphError(f"unit '{unit}' has no bool param {quoted(param)} to switch {quoted(node_id)}")
    optional[node_id] = param
    if optional == definition.optional:
        return []
    return [*steps, _optional_step(model, unit, optional, steps[-1].params if steps else None)]


def after_rename(controller, old: str, new: str) -> list:
    """The commands that move an optional node's entry to its new id (after its RenameNode)."""
    unit = unit_of(controller)
    if unit is None or old not in controller.graph.units[unit].optional:
        return []
    optional = {(new if k == old else k): v for k, v in controller.graph.units[unit].optional.items()}
    return unit_params.to_commands(controller.graph, [_optional_step(controller.graph, unit, optional)])


def before_remove(controller, node_ids) -> list:
    """The commands that drop the entries of the optional nodes among `node_ids` (before they go)."""
    unit = unit_of(controller)
    if unit is None:
        return []
    definition = controller.graph.units[unit]
    optional = {k: v for k, v in definition.optional.items() if k not in set(node_ids)}
    if optional == definition.optional:
        return []
    return unit_params.to_commands(controller.graph, [_optional_step(controller.graph, unit, optional)])


def after_group(controller, plan) -> list:
    """The commands that give the switch of grouped optional layers to the new instance (after Group)."""
    unit = unit_of(controller)
    if unit is None or plan.switch is None:
        return []
    kept = {k: v for k, v in controller.graph.units[unit].optional.items() if k not in set(plan.removed)}
    optional = {**kept, plan.instance.id: plan.switch}
    return unit_params.to_commands(controller.graph, [_optional_step(controller.graph, unit, optional)])


# ---- the inspector's row -------------------------------------------------------
def decorate(inspector) -> None:
    """Add the "optional" row to the inspector of an inner node of the open unit."""
    controller, node_id = inspector.controller, inspector.node_id
    if unit_of(controller) is None or node_id is None:
        return
    from gui.inspector import ParamRow  # the inspector imports this module

    combo = QComboBox()
    combo.setObjectName("optionalCombo")
    combo.setToolTip("Switch this layer on and off per instance with a true/false param of the unit: where "
                     "it is false, the layer is skipped and its input passed on (torchvision's downsample)")
    combo.activated.connect(lambda _index: choose(inspector, combo.currentData()))
    row = ParamRow(combo)
    row.reason = QLabel(row)
    row.reason.setObjectName("optionalReason")
    row.reason.setWordWrap(True)
    row.reason.setStyleSheet("color: #9aa1ab;")
    row.layout().addWidget(row.reason)
    label = QLabel("optional")
    label.setToolTip(combo.toolTip())
    inspector.form.addRow(label, row)
    inspector.optional_row = row
    refresh(inspector)


def refresh(inspector) -> None:
    """Fill the "optional" row from the unit as it is now (after an edit, an undo or a redo)."""
    row = getattr(inspector, "optional_row", None)
    controller, node_id = inspector.controller, inspector.node_id
    unit = unit_of(controller)
    if row is None or unit is None or node_id is None or not controller.scope_graph.has_node(node_id):
        return
    node = controller.scope_graph.node(node_id)
    current = switch_of(node)
    problem = why_not(controller.scope_graph, node_id)
    combo = row.editor
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(NONE_TEXT, None)
    for name in switches(controller.graph, unit):
        combo.addItem(f"switched by {name}", name)
    if current is not None and combo.findData(current) < 0:
        combo.addItem(f"switched by {current} (not a bool param)", current)
    if not problem:
        combo.addItem("New switch…", NEW_SWITCH)
    combo.setCurrentIndex(max(combo.findData(current), 0) if current is not None else 0)
    combo.setEnabled(not problem or current is not None)
    combo.blockSignals(False)
    row.reason.setText(f"Cannot be optional: {problem}" if problem else "")
    row.reason.setVisible(bool(problem))


def choose(inspector, data, name: str | None = None) -> bool:
    """Switch the shown node by unit param `data` (None: always there; NEW_SWITCH: a new bool param,
    named `name` or as asked), in one undo step. A refusal shows its reason under the combo."""
    controller, node_id = inspector.controller, inspector.node_id
    unit = unit_of(controller)
    row = getattr(inspector, "optional_row", None)
    if unit is None or node_id is None:
        return False
    new = data == NEW_SWITCH
    if new and name is None:
        suggested = unit_params.fresh_param_name(controller.graph, unit, node_id.rstrip("0123456789").rstrip("_")
                                                 or node_id)
        name, ok = QInputDialog.getText(inspector, "New switch",
                                        f"Name of the new true/false param of unit {unit} that switches "
                                        f"{node_id} on (default true: the instances keep it):",
                                        QLineEdit.EchoMode.Normal, suggested)
        if not ok:
            refresh(inspector)
            return False
        name = name.strip()
    param = name if new else data
    text = (f"Make '{node_id}' optional, switched by '{param}'" if param is not None
            else f"Make '{node_id}' always there")
    try:
        try:
            steps = plan_switch(controller.graph, unit, node_id, param, new)
        except GraphError as error:
            controller.message.emit(error.message)
            raise
        done = unit_params.push(controller, text, steps)  # says why on `message` when refused
    except GraphError as error:
        if row is not None:
            row.show_error(error.message)
            refresh(inspector)
        return False
    if row is not None:
        row.show_error("")
    refresh(inspector)
    return done
