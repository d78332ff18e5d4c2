"""The unit params editor: the params of the unit open on the canvas (name, type, default), with Add,
Rename, Remove and each default's own editor (a bool is a check box). The same widget sits in the
inspector when a unit is open and nothing is selected, and in the Unit Parameters dialog
(Edit > Unit Parameters…). Each change is one undo step (`gui.units.params`)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from graphs.errors import GraphError, printable
from graphs.unit_registry import param_spec
from gui.param_widgets import make_editor
from gui.units import params as unit_params

NEW_DEFAULTS = {"int": 0, "float": 0.0, "bool": False, "text": "", "list of ints": [1]}


class UnitParamsPanel(QWidget):
    """Lists and edits the params of the innermost unit open in `controller` (nothing when none is)."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.setObjectName("unitParamsPanel")
        self.controller = controller
        self.editors: dict = {}
        self._shown = None  # (unit, its params) as the grid shows them
        self.title = QLabel()
        self.title.setObjectName("unitParamsTitle")
        self.error = QLabel()
        self.error.setStyleSheet("color: #ff6b6b;")
        self.error.setWordWrap(True)
        self.error.hide()
        self.grid_box = QWidget()
        self.grid = QGridLayout(self.grid_box)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.add_button = QPushButton("Add Parameter…")
        self.add_button.setObjectName("addUnitParam")
        self.add_button.setToolTip("A new param of the unit: each instance may set it, inner nodes may refer to it")
        self.add_button.clicked.connect(lambda: self.add())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.title, self.grid_box, self.error):
            layout.addWidget(widget)
        layout.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)
        controller.unitsChanged.connect(self.refresh)
        controller.scopeChanged.connect(self.refresh)
        self.refresh()

    @property
    def unit(self) -> str | None:
        return self.controller.scope[-1].unit if self.controller.scope else None

    def refresh(self) -> None:
        unit = self.unit
        model = self.controller.graph
        shown = (unit, dict(model.units[unit].params)) if unit in model.units else None
        if shown is not None and shown == self._shown:
            return  # an edit inside the unit: its params are as shown
        self._shown = shown
        while self.grid.count():
            widget = self.grid.takeAt(0).widget()
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self.editors.clear()
        if shown is None:
            self.title.setText("No unit is open.")
            self.add_button.setEnabled(False)
            return
        self.add_button.setEnabled(True)
        params = model.units[unit].params
        self.title.setText(f"<b>Parameters of unit {unit}</b>" if params else
                           f"<b>Parameters of unit {unit}</b><br>None yet: add one, or right-click an inner "
                           "node's param and pick <i>New unit parameter from this value</i>.")
        for column, heading in enumerate(("name", "type", "default")):
            label = QLabel(f"<i>{heading}</i>")
            self.grid.addWidget(label, 0, column)
        for row, (name, default) in enumerate(params.items(), start=1):
            self.grid.addWidget(QLabel(name), row, 0)
            self.grid.addWidget(QLabel(unit_params.kind_label(default)), row, 1)
            editor = make_editor(param_spec(name, default))
            editor.set_value(default)
            editor.setToolTip(f"The default of '{name}': instances that do not set it use this value")
            editor.committed.connect(lambda name=name: self.commit_default(name))
            self.grid.addWidget(editor, row, 2)
            self.editors[name] = editor
            for column, (text, slot) in enumerate((("Rename…", self.rename), ("Remove", self.remove)), start=3):
                button = QToolButton(text=text)
                button.setObjectName(f"unitParam{text.rstrip('…')}_{name}")
                button.clicked.connect(lambda _checked=False, name=name, slot=slot: slot(name))
                self.grid.addWidget(button, row, column)

    # ---- edits ------------------------------------------------------------
    def _push(self, text: str, plan) -> bool:
        try:
            done = unit_params.push(self.controller, text, plan())
        except (GraphError, KeyError) as error:
            message = error.message if isinstance(error, GraphError) else f"no such param {error}"
            self.error.setText(printable(message))
            self.error.show()
            return False
        self.error.hide()
        return done

    def commit_default(self, name: str) -> bool:
        editor = self.editors[name]
        try:
            value = editor.value()
        except ValueError as error:
            self.error.setText(f"default of '{name}': {error}")
            self.error.show()
            return False
        model, unit = self.controller.graph, self.unit
        if model.units[unit].params.get(name) == value:
            return False
        return self._push(f"Set the default of '{name}' of unit '{unit}'",
                          lambda: unit_params.plan_default(model, unit, name, value))

    def add(self, name: str | None = None, default=None) -> bool:
        """Add a param (its name, type and default asked for when not given)."""
        if self.unit is None:
            return False
        if name is None:
            asked = AddParamDialog.ask(self)
            if asked is None:
                return False
            name, default = asked
        model, unit = self.controller.graph, self.unit
        return self._push(f"Add param '{name}' to unit '{unit}'",
                          lambda: unit_params.plan_add(model, unit, name, default))

    def rename(self, old: str, new: str | None = None) -> bool:
        if self.unit is None:
            return False
        if new is None:
            new, ok = QInputDialog.getText(self, "Rename unit parameter", f"New name for '{old}':",
                                           QLineEdit.EchoMode.Normal, old)
            if not ok or new.strip() == old:
                return False
        new = new.strip()
        model, unit = self.controller.graph, self.unit
        return self._push(f"Rename param '{old}' of unit '{unit}' to '{new}'",
                          lambda: unit_params.plan_rename(model, unit, old, new))

    def remove(self, name: str) -> bool:
        """Remove a param; when inner nodes refer to it or instances set it, ask first."""
        model, unit = self.controller.graph, self.unit
        if unit is None:
            return False
        refs = unit_params.refs_to(model.unit_graph(unit), name)
        if refs:
            where = ", ".join(f"'{node}.{key}'" for node, key in refs[:5])
            answer = QMessageBox.question(
                self, "Remove unit parameter",
                f"{where} refer{'s' if len(refs) == 1 else ''} to '{name}'. Remove it and give "
                f"{'it' if len(refs) == 1 else 'them'} its default value "
                f"({printable(repr(model.units[unit].params[name]))})? Instances that set it stop doing so.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Yes:
                return False
        return self._push(f"Remove param '{name}' of unit '{unit}'",
                          lambda: unit_params.plan_remove(model, unit, name))


class AddParamDialog(QDialog):
    """Asks a new unit param's name, type and default (the default in the type's own editor)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Add unit parameter")
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. planes")
        self.kind = QComboBox()
        self.kind.addItems(list(NEW_DEFAULTS))
        self.form = QFormLayout(self)
        self.form.addRow("Name", self.name)
        self.form.addRow("Type", self.kind)
        self.default = None
        self._new_editor()
        self.kind.currentIndexChanged.connect(self._new_editor)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.form.addRow(buttons)

    def _new_editor(self) -> None:
        value = NEW_DEFAULTS[self.kind.currentText()]
        editor = make_editor(param_spec("default", value))
        editor.set_value(value)
        if self.default is not None:
            self.form.removeRow(2)
        self.form.insertRow(2, "Default", editor)
        self.default = editor

    def values(self) -> tuple[str, object]:
        return self.name.text().strip(), self.default.value()

    @classmethod
    def ask(cls, parent) -> tuple[str, object] | None:
        dialog = cls(parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        try:
            return dialog.values()
        except ValueError as error:
            QMessageBox.warning(parent, "Add unit parameter", f"default: {error}")
            return None


class UnitParamsDialog(QDialog):
    """Edit > Unit Parameters…: the panel in a window of its own (modeless; follows the open unit)."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Unit Parameters")
        self.panel = UnitParamsPanel(controller, self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        layout.addStretch(1)
        layout.addWidget(buttons)
        self.resize(520, 300)
