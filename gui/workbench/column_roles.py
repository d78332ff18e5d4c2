"""The Data panel's table of a CSV file's columns: each column's role, editable, and what the data made of it.

A row a column: its name (escaped), a combo box of roles ("auto" lets the data decide: numbers are
features, text with a few levels a category; or feature, categorical, one-hot, codes, ignore, target)
and what loading made of it ("number, 8% missing: filled, marked", "one-hot, 3 levels", "codes, 40
levels", "left out"), read from the loaded dataset's preprocessing. The widget edits nothing itself:
choosing a role emits `rolesEdited` with the roles the person set (the "columns" option of the
dataset spec), and the Data panel records that as one undoable edit.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from graphs.errors import printable
from gui.workbench.views import read_only_table

ROLE_CHOICES = [  # (shown, stored); None: not stored, the data decides
    ("auto", None), ("feature (number)", "feature"), ("categorical", "categorical"), ("one-hot", "one_hot"),
    ("codes", "codes"), ("ignore", "ignore"), ("target", "target"),
]
USED_AS = {"feature": "number", "one_hot": "one-hot", "codes": "codes", "ignore": "left out", "target": "target"}


class ColumnRoles(QWidget):
    """Shows and edits the roles of a table's columns."""

    rolesEdited = Signal(dict)  # {column: role} as the person set them (the target included, if chosen here)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.names: list[str] = []
        self.roles: dict[str, str] = {}
        self.target: str | None = None
        self.preprocessing: dict | None = None  # the last loaded table's
        self.table: QTableWidget = read_only_table()
        self.table.setColumnCount(3)
        self.table.setHorizontalHeaderLabels(["Column", "Role", "Used as"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.setMinimumHeight(190)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    def set_columns(self, names: list[str], roles: dict, target: str | None) -> None:
        """Show `names` (kept when empty: a file that can't be read keeps the last known columns) with the
        roles the spec gives; the target column shows as "target"."""
        if names:
            self.names = list(names)
        self.roles = {name: role for name, role in (roles or {}).items() if isinstance(role, str)}
        self.target = target
        self.table.setRowCount(len(self.names))
        for row, name in enumerate(self.names):
            item = QTableWidgetItem(printable(name))
            item.setToolTip(printable(name))
            self.table.setItem(row, 0, item)
            self.table.setCellWidget(row, 1, self._combo(name))
        self._show_use()

    def _combo(self, name: str) -> QComboBox:
        combo = QComboBox()
        for shown, stored in ROLE_CHOICES:
            combo.addItem(shown, stored)
        role = "target" if name == self.target else self.roles.get(name)
        combo.setCurrentIndex(max(0, combo.findData(role)) if role is not None else 0)
        combo.setAccessibleName(f"role of column {printable(name)}")
        combo.activated.connect(lambda _i, name=name, combo=combo: self._chosen(name, combo.currentData()))
        return combo

    def combo(self, name: str) -> QComboBox:
        return self.table.cellWidget(self.names.index(name), 1)

    def _chosen(self, name: str, role: str | None) -> None:
        roles = {column: value for column, value in self.roles.items() if column != name}
        if role is not None:
            roles[name] = role
        self.rolesEdited.emit(roles)

    def set_use(self, preprocessing: dict | None) -> None:
        """What loading made of each column, from a table dataset's preprocessing (cleared when None)."""
        self.preprocessing = preprocessing
        used = (preprocessing or {}).get("roles") or {}
        if used and not self.names:
            self.set_columns(list(used), self.roles, preprocessing.get("target"))
        self._show_use()

    def _show_use(self) -> None:
        used = (self.preprocessing or {}).get("roles") or {}
        details = {column["name"]: column for column in (self.preprocessing or {}).get("columns", [])}
        for row, name in enumerate(self.names):
            text = _used_as(used.get(name), details.get(name))
            item = QTableWidgetItem(text)
            item.setForeground(Qt.GlobalColor.gray if text == "left out" else item.foreground())
            self.table.setItem(row, 2, item)

    def used_as(self, name: str) -> str:
        """The "Used as" text of column `name` ("" while it is not known)."""
        item = self.table.item(self.names.index(name), 2) if name in self.names else None
        return item.text() if item is not None else ""


def _used_as(role: str | None, column: dict | None) -> str:
    if role is None:
        return ""
    text = USED_AS.get(role, role)
    if column is not None and column.get("encoding") in ("one_hot", "codes"):
        text += f", {len(column['levels'])} levels"
    if column is not None and column.get("indicator"):
        text += ", missing cells filled and marked"
    return text
