"""The Data panel's table of a CSV file's columns: each column's role, editable, and what the data made of it.

A row a column: its name (escaped) with what loading made of it below, in grey ("number, missing
filled + marked", "one-hot, 3 levels", "codes, 40 levels", "left out", read from the loaded dataset's
preprocessing; two lines, so a narrow dock still shows it), and a combo box of roles ("auto" lets the
data decide: numbers are features, text with a few levels a category; or feature, categorical,
one-hot, codes, ignore, target). The widget edits nothing itself:
choosing a role emits `rolesEdited` with the roles the person set (the "columns" option of the
dataset spec), and the Data panel records that as one undoable edit.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHeaderView, QLabel, QTableWidget, QVBoxLayout, QWidget

from graphs.errors import printable
from gui.workbench.views import compact_combo, read_only_table

ROLE_CHOICES = [  # (shown, stored); None: not stored, the data decides
    ("auto", None), ("feature", "feature"), ("categorical", "categorical"), ("one-hot", "one_hot"),
    ("codes", "codes"), ("ignore", "ignore"), ("target", "target"),
]
ROLE_WIDTH = 120  # px: the role combo boxes, so a narrow dock leaves the names their room
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
        self.used: dict[str, str] = {}  # column -> what loading made of it
        self.table.setColumnCount(2)
        self.table.setHorizontalHeaderLabels(["Column: used as", "Role"])
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(False)
        self.table.setColumnWidth(1, ROLE_WIDTH)
        self.table.verticalHeader().setDefaultSectionSize(38)
        self.table.setMinimumHeight(230)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("<b>Columns</b>: what each became, and its role")
        caption.setWordWrap(True)
        layout.addWidget(caption)
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
            self.table.setCellWidget(row, 1, self._combo(name))
        self._show_use()

    def _combo(self, name: str) -> QWidget:
        combo = compact_combo()
        combo.setMinimumContentsLength(8)
        for shown, stored in ROLE_CHOICES:
            combo.addItem(shown, stored)
        role = "target" if name == self.target else self.roles.get(name)
        combo.setCurrentIndex(max(0, combo.findData(role)) if role is not None else 0)
        combo.setAccessibleName(f"role of column {printable(name)}")
        combo.activated.connect(lambda _i, name=name, combo=combo: self._chosen(name, combo.currentData()))
        cell = QWidget()  # centred in the two-line row
        layout = QVBoxLayout(cell)
        layout.setContentsMargins(2, 4, 2, 4)
        layout.addWidget(combo)
        return cell

    def combo(self, name: str) -> QComboBox:
        return self.table.cellWidget(self.names.index(name), 1).findChild(QComboBox)

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
        self.used = {name: _used_as(used.get(name), details.get(name)) for name in self.names}
        for row, name in enumerate(self.names):
            shown = html.escape(printable(name))
            label = QLabel(f"{shown}<br><span style='color: gray'>{html.escape(self.used[name]) or '&nbsp;'}</span>")
            label.setToolTip(f"{printable(name)}: {self.used[name]}" if self.used[name] else printable(name))
            label.setContentsMargins(4, 0, 4, 0)
            self.table.setCellWidget(row, 0, label)

    def used_as(self, name: str) -> str:
        """What loading made of column `name` ("" while it is not known)."""
        return self.used.get(name, "")


def _used_as(role: str | None, column: dict | None) -> str:
    if role is None:
        return ""
    text = USED_AS.get(role, role)
    if column is not None and column.get("encoding") in ("one_hot", "codes"):
        text += f", {len(column['levels'])} levels"
    if column is not None and column.get("indicator"):
        text += ", missing filled + marked"
    return text
