"""Linking an inner node's param to a param of the open unit, from the inspector.

In a unit's definition, each param row of the inspector gets a link button and a context menu:
"Use Unit Parameter" (an existing param of a compatible type, or "New Unit Parameter from This
Value…", which makes one with the current value as its default and links it: one undo step) and
"Unlink" (back to a plain value, the one the reference reads now). A linked param shows "= planes"
in place of its editor, beside the link button: its value is set on the instances."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLabel, QLineEdit, QMenu, QStyle, QToolButton

from graphs.errors import GraphError
from graphs.unit_registry import REF, is_ref
from gui.units import params as unit_params


def unit_of(controller) -> str | None:
    """The unit open on the canvas (whose graph the inspector shows), or None."""
    return controller.scope[-1].unit if controller.scope else None


def decorate(inspector, spec, row, label) -> None:
    """Give `row` (param `spec` of the node the inspector shows, named by `label`) its link button,
    its context menu (on the row and on the label) and its look."""
    controller = inspector.controller
    if unit_of(controller) is None:
        return
    button = QToolButton(row)
    button.setObjectName(f"linkButton_{spec.name}")
    button.setIcon(row.style().standardIcon(QStyle.StandardPixmap.SP_FileLinkIcon))
    button.setAutoRaise(True)
    button.setFixedSize(22, 22)
    button.setToolTip("Use a param of the unit for this value, set by each instance")
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    button.setMenu(QMenu(button))
    button.menu().aboutToShow.connect(lambda: fill_menu(inspector, spec, button.menu()))
    link = QLabel(row)
    link.setObjectName(f"linkLabel_{spec.name}")
    link.setStyleSheet("color: #7aa7ff;")
    row.link_button, row.link_label = button, link
    row.editor.layout().addWidget(link)
    row.editor.layout().addWidget(button)
    for widget in (row, label):
        widget.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        widget.customContextMenuRequested.connect(
            lambda position, widget=widget: popup(inspector, spec, widget, position))
    show(inspector, spec.name, row)


def popup(inspector, spec, widget, position) -> None:
    menu = QMenu(widget)
    fill_menu(inspector, spec, menu)
    menu.exec(widget.mapToGlobal(position))


def show(inspector, name: str, row) -> None:
    """Show whether param `name` of the shown node is linked: "= planes" in place of its editor."""
    if getattr(row, "link_label", None) is None or inspector.node_id is None:
        return
    value = inspector.controller.scope_graph.node(inspector.node_id).params.get(name)
    linked = is_ref(value)
    row.link_label.setText(f"= {value[REF]}" if linked else "")
    row.link_label.setVisible(linked)
    layout = row.editor.layout()
    for i in range(layout.count()):  # the value is each instance's to set: no editor for it here
        child = layout.itemAt(i).widget()
        if child is not None and child not in (row.link_label, row.link_button):
            child.setVisible(not linked)
    row.editor.setToolTip(f"Linked to unit param '{value[REF]}': each instance sets it (right-click: Unlink)"
                          if linked else "")


def fill_menu(inspector, spec, menu: QMenu) -> None:
    """The link actions for param `spec` of the shown node."""
    menu.clear()
    controller, node_id = inspector.controller, inspector.node_id
    unit = unit_of(controller)
    if unit is None or node_id is None:
        return
    model = controller.graph
    current = controller.scope_graph.node(node_id).params.get(spec.name)
    use = menu.addMenu("Use Unit Parameter")
    use.setObjectName("useUnitParamMenu")
    for name in unit_params.linkable(model, unit, spec.kind):
        action = use.addAction(name, lambda name=name: link(inspector, spec.name, name))
        action.setCheckable(True)
        action.setChecked(is_ref(current) and current[REF] == name)
    if use.actions():
        use.addSeparator()
    new = use.addAction("New Unit Parameter from This Value…", lambda: link_new(inspector, spec.name))
    new.setObjectName("newUnitParamAction")
    unlink_action = menu.addAction("Unlink", lambda: unlink(inspector, spec.name))
    unlink_action.setEnabled(is_ref(current))


def _apply(inspector, name: str, text: str, plan) -> bool:
    row = inspector.rows.get(name)
    try:
        done = unit_params.push(inspector.controller, text, plan())
    except GraphError as error:
        if row is not None:
            row.show_error(error.message)
        return False
    if row is not None:
        row.show_error("")
    return done


def link(inspector, key: str, name: str) -> bool:
    """Make param `key` of the shown node refer to unit param `name` (one undo step)."""
    controller, node_id = inspector.controller, inspector.node_id
    unit = unit_of(controller)
    return _apply(inspector, key, f"Link '{node_id}.{key}' to unit param '{name}'",
                  lambda: unit_params.plan_link(controller.graph, unit, node_id, key, name))


def link_new(inspector, key: str, name: str | None = None) -> bool:
    """Make a unit param with the current value of `key` as its default, and link `key` to it: one
    undo step. The name is asked for (suggested: the param's own name) when not given."""
    controller, node_id = inspector.controller, inspector.node_id
    unit = unit_of(controller)
    model = controller.graph
    value = controller.scope_graph.node(node_id).resolved_params()[key]
    if isinstance(value, tuple):
        value = list(value)
    if name is None:
        name, ok = QInputDialog.getText(inspector, "New unit parameter",
                                        f"Name of the new param of unit {unit} (default {value!r}):",
                                        QLineEdit.EchoMode.Normal, unit_params.fresh_param_name(model, unit, key))
        if not ok:
            return False
        name = name.strip()
    return _apply(inspector, key, f"Make unit param '{name}' from '{node_id}.{key}'",
                  lambda: unit_params.plan_link(model, unit, node_id, key, name, value))


def unlink(inspector, key: str) -> bool:
    controller, node_id = inspector.controller, inspector.node_id
    unit = unit_of(controller)
    return _apply(inspector, key, f"Unlink '{node_id}.{key}'",
                  lambda: unit_params.plan_unlink(controller.graph, unit, node_id, key))
