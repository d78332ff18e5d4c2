"""The quick-add popup: type a few letters, press Enter, and the node appears under the cursor.

Opened with Tab on the canvas or a double-click on empty space. `rank` (also the
palette's search) matches what a user types for a layer: name prefixes first,
then text inside names, then categories ("pool", "activ"). Doc text is not
searched: "input" would list every loss whose doc mentions its input. The project's units are
offered too (`units`: a callable giving their names), matched the same way, under "Units".
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from graphs.catalogue import CATALOGUE

UNITS_CATEGORY = "Units"


def rank(query: str, units=(), custom=None) -> list[str]:
    """Catalogue type names, then the project's own layers (`custom`: graphs.custom_types), and the unit
    names `units`, matching `query`, best first (all of them for an empty query, the units first)."""
    types = {**CATALOGUE, **(custom or {})}
    q = query.strip().lower()
    entries = [*((name, UNITS_CATEGORY) for name in units), *((name, spec.category) for name, spec in types.items())]
    if not q:
        return [name for name, _category in entries]
    scored = []
    for index, (name, category) in enumerate(entries):
        lower = name.lower()
        if lower.startswith(q):
            score = 0
        elif q in lower:
            score = 1
        elif q in category.lower():
            score = 2
        else:
            continue
        scored.append((score, index, name))
    return [name for _score, _index, name in sorted(scored)]


class QuickAddPopup(QFrame):
    """A search box over the catalogue; `chosen(type_name)` when the user picks one."""

    chosen = Signal(str)

    def __init__(self, parent=None, units=lambda: ()):
        super().__init__(parent, Qt.WindowType.Popup)
        self.units = units  # the project's unit names, asked each time the list is filled
        self.setObjectName("quickAdd")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Add node: type to search…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setUniformItemSizes(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.resize(300, 280)
        self.search.textChanged.connect(self._refill)
        self.search.installEventFilter(self)
        self.list.itemActivated.connect(self._choose_item)
        self.list.itemClicked.connect(self._choose_item)
        self.custom_types: dict = {}  # the open project's own layer types, listed after the catalogue's
        self._refill("")

    def open_at(self, global_pos: QPoint, custom_types=None) -> None:
        self.custom_types = dict(custom_types or {})
        self.search.clear()
        self._refill("")
        self.move(global_pos)
        self.show()
        self.raise_()
        self.search.setFocus()

    def _refill(self, text: str) -> None:
        self.list.clear()
        units = list(self.units())
        for name in rank(text, units, self.custom_types):
            spec = None if name in units else (CATALOGUE.get(name) or self.custom_types[name])
            item = QListWidgetItem(f"{name}    ·  {spec.category if spec else UNITS_CATEGORY}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(spec.doc if spec else f"An instance of the project's unit {name}")
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def current(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def accept_current(self) -> None:
        name = self.current()
        self.hide()
        if name is not None:
            self.chosen.emit(name)

    def _choose_item(self, item: QListWidgetItem) -> None:
        self.list.setCurrentItem(item)
        self.accept_current()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept_current()
                return True
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                row = self.list.currentRow() + (1 if key == Qt.Key.Key_Down else -1)
                self.list.setCurrentRow(max(0, min(self.list.count() - 1, row)))
                return True
            if key == Qt.Key.Key_Escape:
                self.hide()
                return True
        return super().eventFilter(watched, event)
