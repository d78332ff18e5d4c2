"""Editing the project's search space: the "Search over…" dialog and its undoable edit.

`SearchDialog(target, entry, graph, training)` asks for a distribution
(choice, uniform, log-uniform or integer range, with an optional step) for one
target, checks it with `graphs.search_space.parse_dimension` before it closes
(the reason in red under the fields otherwise) and gives back the entry, or
None for "Remove from search". `edit_search(document, target, entry)` pushes
one `SetSearch` command on the document's undo stack. `add_search_menu` gives
an inspector param label the right-click "Search over…" action.
"""

from __future__ import annotations

import copy
import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from graphs.errors import printable
from graphs.search_space import KINDS, SearchSpaceError, current_value, parse_dimension

KIND_LABELS = {"choice": "choose from a list", "uniform": "uniform range", "log_uniform": "log-uniform range",
               "int_uniform": "integer range"}
SEARCHABLE_KINDS = ("int", "float", "choice", "bool", "int_tuple", "optional_int_tuple", "int_list")


class SetSearch(QUndoCommand):
    """Replace `project.search` with `new` (undo: `old`); `notify()` tells whoever shows it."""

    def __init__(self, project, old: dict, new: dict, notify, text: str):
        super().__init__(text)
        self.project, self.old, self.new, self.notify = project, old, new, notify

    def redo(self) -> None:
        self.project.search = copy.deepcopy(self.new)
        self.notify()

    def undo(self) -> None:
        self.project.search = copy.deepcopy(self.old)
        self.notify()


def edit_search(document, target: str, entry: dict | None, notify=lambda: None) -> bool:
    """Set (or with None remove) `target`'s distribution as one undo step; False when nothing changes."""
    project = document.project
    new = copy.deepcopy(project.search)
    if entry is None:
        new.pop(target, None)
    else:
        new[target] = entry
    if new == project.search:
        return False
    text = f"Search over {target}" if entry is not None else f"Stop searching {target}"
    document.undo_stack.push(SetSearch(project, copy.deepcopy(project.search), new, notify, text))
    return True


def _values(text: str) -> list:
    """Comma-separated values, each read as JSON where it can be (numbers, true/false, [lists]), else as text."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]") and text.count("[") == 1:
        text = text[1:-1]
    try:
        parsed = json.loads(f"[{text}]")
    except ValueError:
        parsed = [part.strip() for part in text.split(",") if part.strip()]
    return parsed


class SearchDialog(QDialog):
    """Set the distribution of one target of the search space."""

    def __init__(self, target: str, entry: dict | None, graph, training: dict, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Search over…")
        self.setObjectName("searchDialog")
        self.target, self.graph, self.training = target, graph, training
        self.entry: dict | None = entry
        self.removed = False
        self.kind = QComboBox()
        for kind in KINDS:
            self.kind.addItem(KIND_LABELS[kind], kind)
        self.choices = QLineEdit()
        self.choices.setPlaceholderText("e.g. 32, 64, 128")
        self.low, self.high, self.step = QLineEdit(), QLineEdit(), QLineEdit()
        self.step.setPlaceholderText("none")
        self.error = QLabel()
        self.error.setObjectName("searchError")
        self.error.setStyleSheet("color: #ff6b6b;")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("target", QLabel(f"<b>{printable(target)}</b> (now {printable(str(self._now()))})"))
        form.addRow("values", self.kind)
        form.addRow("choices", self.choices)
        form.addRow("low", self.low)
        form.addRow("high", self.high)
        form.addRow("step", self.step)
        self.form = form
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        if entry is not None:
            remove = QPushButton("Remove from search")
            remove.setObjectName("removeSearch")
            buttons.addButton(remove, QDialogButtonBox.ButtonRole.DestructiveRole)
            remove.clicked.connect(self._remove)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.kind.currentIndexChanged.connect(self._show_fields)
        self._fill(entry)
        self._show_fields()

    def _now(self):
        return current_value(self.target, self.graph, self.training)

    def _fill(self, entry: dict | None) -> None:
        if entry is None:
            now = self._now()
            kind = "log_uniform" if self.target.endswith(".lr") else "choice"
            if kind == "choice":
                self.choices.setText(json.dumps(now) if now is not None else "")
            else:
                self.low.setText(repr(now / 10 if now else 1e-4))
                self.high.setText(repr(now * 10 if now else 1e-1))
            self.kind.setCurrentIndex(KINDS.index(kind))
            return
        kind = next((k for k in KINDS if k in entry), "choice")
        self.kind.setCurrentIndex(KINDS.index(kind))
        if kind == "choice":
            self.choices.setText(", ".join(json.dumps(v) for v in entry[kind]))
        else:
            self.low.setText(repr(entry[kind][0]))
            self.high.setText(repr(entry[kind][1]))
        if entry.get("step") is not None:
            self.step.setText(repr(entry["step"]))

    def _show_fields(self) -> None:
        choice = self.kind.currentData() == "choice"
        for widget, shown in ((self.choices, choice), (self.low, not choice), (self.high, not choice),
                              (self.step, not choice)):
            self.form.setRowVisible(widget, shown)

    def value(self) -> dict:
        """The entry the fields describe (not checked yet)."""
        kind = self.kind.currentData()
        if kind == "choice":
            return {"choice": _values(self.choices.text())}
        numbers = []
        for field in (self.low, self.high):
            try:
                numbers.append(json.loads(field.text().strip()))
            except ValueError:
                numbers.append(field.text().strip())
        entry = {kind: numbers}
        if self.step.text().strip():
            try:
                entry["step"] = json.loads(self.step.text().strip())
            except ValueError:
                entry["step"] = self.step.text().strip()
        return entry

    def accept(self) -> None:
        entry = self.value()
        try:
            parse_dimension(self.target, entry, self.graph, self.training)
        except SearchSpaceError as error:
            self.error.setText(error.message)
            return
        self.entry = entry
        super().accept()

    def _remove(self) -> None:
        self.removed, self.entry = True, None
        super().accept()


def ask_search(parent, document, target: str, notify=lambda: None) -> bool:
    """Open the dialog for `target` and apply what the person chose as one undo step."""
    project = document.project
    dialog = SearchDialog(target, project.search.get(target), project.graph, project.training, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    return edit_search(document, target, dialog.entry, notify)


def add_search_menu(label: QLabel, document, node_id_of, spec) -> None:
    """Right-click on an inspector param's `label`: "Search over…" for that param of the shown node."""
    if spec.kind not in SEARCHABLE_KINDS:
        return
    label.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def menu(position) -> None:
        node_id = node_id_of()
        if node_id is None:
            return
        popup = QMenu(label)
        action = popup.addAction("Search over…")
        action.setObjectName("searchOverAction")
        action.triggered.connect(lambda: ask_search(label.window(), document, f"nodes.{node_id}.{spec.name}"))
        popup.exec(label.mapToGlobal(position))

    label.customContextMenuRequested.connect(menu)
