"""The units actions of the main window: Group, Ungroup, opening a unit's definition and going back.

- Group (Ctrl+G): the selected nodes become a new unit and one instance of it, in one undo step;
  the name is asked for with a free default (Unit1, Unit2...) and a bad one is refused with a
  message saying why.
- Ungroup (Ctrl+Shift+G): the selected instance's nodes come back in its place, in one step.
- Unit Parameters… (Edit menu): the params of the unit open on the canvas, in a dialog of their own
  (`gui.units.params_panel`; the inspector shows them too when nothing is selected).
- Double-click an instance or a Repeat (or Open Unit, Ctrl+Enter): the canvas shows the unit's
  definition, with the breadcrumb bar above it; edits there change every instance and undo from
  the same stack. Esc, Alt+Up, the toolbar's Up button or the breadcrumb go back.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QVBoxLayout, QWidget

from graphs.errors import GraphError, printable
from gui import commands
from gui.actions import _action
from gui.units import commands as unit_commands
from gui.units import core, optional
from gui.units.breadcrumb import Breadcrumb
from gui.units.grouping import plan_group, plan_repeat, plan_ungroup
from gui.units.palette_section import UnitsSection
from gui.units.params_panel import UnitParamsDialog
from gui.units.scope import Scope


class UnitsEditor(QObject):
    """Group / Ungroup / open / leave, for one main window."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.scene = window.scene
        self.view = window.view
        w = window
        self.group_action = _action(w, "&Group into Unit…", self.group_selection, None,
                                    "Make the selected nodes a unit, used here once (Ctrl+G)")
        self.ungroup_action = _action(w, "U&ngroup", self.ungroup_selection, None,
                                      "Put the selected instance's nodes back in its place (Ctrl+Shift+G)")
        self.repeat_action = _action(w, "&Repeat Instance…", self.repeat_selection, None,
                                     "Make the selected instance a Repeat: N copies of its unit in sequence")
        self.rename_action = _action(w, "Rena&me Unit…", self.rename_unit, None,
                                     "Rename the unit of the selected instance (or the unit open on the canvas)")
        self.params_action = _action(w, "Unit &Parameters…", self.edit_params, None,
                                     "Add, rename, remove the params of the unit open on the canvas, or set their defaults")
        self.params_dialog: UnitParamsDialog | None = None
        self.open_action = _action(w, "&Open Unit Definition", self.open_selected, canvas_only=True,
                                   tip="Edit the definition of the selected instance: every instance changes")
        self.up_action = _action(w, "&Up to Containing Graph", self.leave, "arrow-up",
                                 "Back from the unit's definition to the graph that uses it (Esc, Alt+Up)")
        self.group_action.setShortcut("Ctrl+G")
        self.ungroup_action.setShortcut("Ctrl+Shift+G")
        self.open_action.setShortcut("Ctrl+Return")
        self.up_action.setShortcuts(["Alt+Up"])
        self.up_action.setIconText("Up")
        self.escape_action = _action(w, "Leave Unit", self.escape, canvas_only=True)
        self.escape_action.setShortcut("Esc")
        edit = w.menus["edit"]
        edit.addSeparator()
        edit.addActions([self.group_action, self.ungroup_action, self.repeat_action, self.rename_action,
                         self.params_action])
        view = w.menus["view"]
        view.addSeparator()
        view.addActions([self.open_action, self.up_action])
        w.toolbar.addSeparator()
        w.toolbar.addAction(self.up_action)

        self.breadcrumb = Breadcrumb(self.document)
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.breadcrumb)
        w.takeCentralWidget()
        layout.addWidget(self.view)
        w.setCentralWidget(holder)

        self.palette_section = UnitsSection(window.palette, self.document)
        self.scene.nodeDoubleClicked.connect(self.open_instance)
        self.scene.selectionChanged.connect(self._update_actions)
        self.document.scopeChanged.connect(self._scope_changed)
        self.document.projectReset.connect(self._update_actions)
        self._update_actions()

    # ---- state ------------------------------------------------------------
    def _selected_instance(self) -> str | None:
        ids = self.scene.selected_node_ids()
        if len(ids) == 1 and core.instance_unit(self.document.graph, self.document.scope_graph.node(ids[0])):
            return ids[0]
        return None

    def _update_actions(self) -> None:
        if not shiboken6.isValid(self.scene):  # the window is closing: its scene went first
            return
        ids = self.scene.selected_node_ids()
        self.group_action.setEnabled(bool(ids))
        instance = self._selected_instance()
        self.ungroup_action.setEnabled(instance is not None)
        self.open_action.setEnabled(instance is not None)
        node = self.document.scope_graph.node(instance) if instance else None
        self.repeat_action.setEnabled(node is not None and not core.is_repeat(node))
        self.up_action.setEnabled(bool(self.document.scope))
        self.rename_action.setEnabled(self._unit_to_rename() is not None)
        self.escape_action.setEnabled(bool(self.document.scope))
        self.params_action.setEnabled(bool(self.document.scope))

    def _scope_changed(self) -> None:
        self._update_actions()
        self.view.fit()

    def add_to_menu(self, menu) -> None:
        """The units entries of the canvas's context menu (those that apply)."""
        shown = [a for a in (self.group_action, self.ungroup_action, self.repeat_action, self.rename_action,
                             self.open_action, self.up_action) if a.isEnabled()]
        if shown:
            menu.addSeparator()
            menu.addActions(shown)

    # ---- Group and Ungroup --------------------------------------------------
    def ask_name(self, default: str) -> str | None:
        """The unit's name, asked in a dialog (None: cancelled)."""
        name, ok = QInputDialog.getText(self.window, "Group into unit",
                                        "Unit name (a Python class name, such as BasicBlock):",
                                        QLineEdit.EchoMode.Normal, default)
        return name.strip() if ok else None

    def group_selection(self, name: str | None = None) -> str | None:
        """Group the selected nodes into a new unit (asking its name unless given); the new
        instance's id, or None when nothing was done (a refusal says why in a dialog)."""
        ids = self.scene.selected_node_ids()
        if not ids:
            self.window.show_message("Select the nodes to group")
            return None
        model, graph = self.document.graph, self.document.scope_graph
        while True:
            if name is None:
                name = self.ask_name(core.free_unit_name(model))
                if name is None:
                    return None
                interactive = True
            else:
                interactive = False
            try:
                plan = plan_group(model, graph, ids, name)
                break
            except GraphError as error:
                QMessageBox.warning(self.window, "Cannot group", printable(error.message))
                if not interactive or error.node is not None:
                    return None
                name = None  # a bad name: ask again
        commands.push_macro(self.document.undo_stack, f"Group {len(ids)} nodes into '{name}'",
                            [*unit_commands.group(model, graph, plan),
                             *optional.after_group(self.document, plan)])  # grouped optional layers: the instance
        self.scene.select_nodes([plan.instance.id])
        self.window.show_message(f"Made unit '{name}': '{plan.instance.id}' uses it. Double-click it to edit it.")
        return plan.instance.id

    def ungroup_selection(self) -> list[str]:
        """Put the selected instance's nodes back; their ids (empty when refused, with a message)."""
        ids = self.scene.selected_node_ids()
        if len(ids) != 1:
            self.window.show_message("Select one unit instance to ungroup")
            return []
        model, graph = self.document.graph, self.document.scope_graph
        try:
            plan = plan_ungroup(model, graph, ids[0])
        except GraphError as error:
            QMessageBox.warning(self.window, "Cannot ungroup", printable(error.message))
            return []
        commands.push_macro(self.document.undo_stack, f"Ungroup '{ids[0]}'", unit_commands.ungroup(model, graph, plan))
        new_ids = [node.id for node in plan.nodes]
        self.scene.select_nodes(new_ids)
        return new_ids

    def repeat_selection(self, count: int | None = None) -> bool:
        """Make the selected instance a Repeat of `count` copies (asked for when None), as one step."""
        instance = self._selected_instance()
        if instance is None:
            return False
        if count is None:
            count, ok = QInputDialog.getInt(self.window, "Repeat instance", "Copies, in sequence:", 2, 1, 4096)
            if not ok:
                return False
        graph = self.document.scope_graph
        node = graph.node(instance)
        try:
            plan = plan_repeat(self.document.graph, graph, instance, count)
        except GraphError as error:
            QMessageBox.warning(self.window, "Cannot repeat", printable(error.message))
            return False
        commands.push_macro(self.document.undo_stack, f"Repeat '{instance}' ×{count}",
                            unit_commands.replace_node(graph, plan))
        self.scene.select_nodes([instance])
        self.window.show_message(f"'{instance}' repeats {node.type} ×{count}: set its count and per-copy "
                                 "overrides in the inspector")
        return True

    def _unit_to_rename(self) -> str | None:
        instance = self._selected_instance()
        if instance is not None:
            return core.instance_unit(self.document.graph, self.document.scope_graph.node(instance))
        return self.document.scope[-1].unit if self.document.scope else None

    def rename_unit(self, new: str | None = None) -> bool:
        """Rename the selected instance's unit (or the open one) to `new` (asked for when None), as one
        step; a bad or taken name is refused with a message."""
        old = self._unit_to_rename()
        if old is None:
            return False
        if new is None:
            new, ok = QInputDialog.getText(self.window, "Rename unit", f"New name for unit {old}:",
                                           QLineEdit.EchoMode.Normal, old)
            if not ok or new.strip() == old:
                return False
        new = new.strip()
        problem = core.name_problem(self.document.graph, new)
        if problem:
            QMessageBox.warning(self.window, "Cannot rename unit", printable(problem))
            return False
        self.document.undo_stack.push(unit_commands.RenameUnit(self.document.graph, old, new))
        self.window.show_message(f"Renamed unit {old} to {new}")
        return True

    def edit_params(self) -> UnitParamsDialog | None:
        """Show the Unit Parameters dialog for the unit open on the canvas."""
        if not self.document.scope:
            return None
        if self.params_dialog is None:
            self.params_dialog = UnitParamsDialog(self.document, self.window)
        self.params_dialog.show()
        self.params_dialog.raise_()
        return self.params_dialog

    # ---- opening definitions -------------------------------------------------
    def open_selected(self) -> None:
        instance = self._selected_instance()
        if instance is not None:
            self.open_instance(instance)

    def open_instance(self, node_id: str) -> bool:
        """Show the definition of instance (or Repeat) `node_id` of the graph on the canvas."""
        model = self.document.graph
        node = self.document.scope_graph.node(node_id)
        unit = core.instance_unit(model, node)
        body = core.unit_graph(model, unit) if unit else None
        if body is None:
            return False
        scope = self.document.scope
        outer = scope[-1].prefix if scope else ""
        prefix = None if outer is None else ".".join(p for p in (outer, node_id) if p)
        if prefix is not None and core.is_repeat(node):
            prefix += ".0"  # a Repeat shows its first copy's shapes
        self.document.enter_scope([*scope, Scope(unit, body, node_id, prefix)])
        self.window.show_message(f"Editing unit '{unit}': changes apply to every instance. Esc goes back.")
        return True

    def open_unit(self, unit: str) -> bool:
        """Show unit `unit`'s definition on its own (from the palette: no instance's shapes)."""
        body = core.unit_graph(self.document.graph, unit)
        if body is None:
            return False
        self.document.enter_scope([Scope(unit, body)])
        return True

    def reveal(self, flat_id: str) -> None:
        """Open the units around node `flat_id` of the expanded model (`layer1.0.conv1`: Repeat layer1,
        copy 0, node conv1) and select it there."""
        model = self.document.graph
        parts, scope, graph, prefix, i = flat_id.split("."), [], model, "", 0
        while i < len(parts) - 1 and graph.has_node(parts[i]):
            node = graph.node(parts[i])
            unit = core.instance_unit(model, node)
            if unit is None:
                break
            prefix = f"{prefix}.{node.id}" if prefix else node.id
            if core.is_repeat(node):
                i += 1
                prefix += f".{parts[i] if i < len(parts) else 0}"
            graph = core.unit_graph(model, unit)
            scope.append(Scope(unit, graph, node.id, prefix))
            i += 1
        self.document.enter_scope(scope)
        if graph.has_node(parts[-1]):
            self.scene.select_nodes([parts[-1]])
            self.view.centerOn(self.scene.node_item(parts[-1]))

    def leave(self) -> None:
        """Up one level: from a unit's definition to the graph that uses it."""
        if self.document.scope:
            left = self.document.scope[-1]
            self.document.enter_scope(self.document.scope[:-1])
            if left.label and self.document.scope_graph.has_node(left.label):
                self.scene.select_nodes([left.label])

    def escape(self) -> None:
        if self.scene.gesture is not None:  # Esc first cancels a wire being dragged
            self.scene.cancel_gesture()
        else:
            self.leave()


def install(window) -> UnitsEditor:
    window.units = UnitsEditor(window)
    return window.units

