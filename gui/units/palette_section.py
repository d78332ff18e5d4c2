"""The palette's Units section: the project's own units, then the library of ready units.

Entries are dragged onto the canvas or double-clicked like any layer; their type name is the
unit's name (an instance of a project unit) or `library:Name` (the library's unit, whose
definition the drop copies into the project). The section follows the project's units as they
are added, removed or changed, and the palette's search box.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QTreeWidgetItem

from graphs.errors import printable
from gui import theme
from gui.palette import TYPE_ROLE, _swatch
from gui.units import core
from gui.units.library import library_units

PROJECT_GROUP = "Units in this project"
LIBRARY_GROUP = "Unit library"


class UnitsSection(QObject):
    """Fills and refreshes the two unit groups of a `Palette` tree."""

    def __init__(self, palette, controller, parent=None):
        super().__init__(parent or palette)
        self.palette, self.controller = palette, controller
        tree = palette.tree
        self.project_group = self._group(PROJECT_GROUP)
        self.library_group = self._group(LIBRARY_GROUP)
        tree.insertTopLevelItem(0, self.library_group)
        tree.insertTopLevelItem(0, self.project_group)
        self.library, self.problems = library_units()
        for unit in self.library:
            doc = unit.doc or "A ready unit."
            self._entry(self.library_group, unit.name, unit.ref,
                        f"<b>{html.escape(printable(unit.name))}</b> (library, {html.escape(unit.path.name)})<br>"
                        f"{html.escape(printable(doc))}<br><i>Drag onto the canvas: its definition is copied "
                        "into the project.</i>")
        if self.problems:
            self.library_group.setToolTip(0, "Not loaded:\n" + "\n".join(self.problems))
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self.refresh)
        controller.projectReset.connect(self.refresh)
        controller.unitsChanged.connect(self._timer.start)
        controller.scopeChanged.connect(self._timer.start)
        palette.search.textChanged.connect(self.filter)
        self.refresh()
        self.project_group.setExpanded(True)
        self.library_group.setExpanded(True)

    def _group(self, title: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem([title])
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        item.setIcon(0, _swatch(theme.category_colour("Units")))
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
        return item

    @staticmethod
    def _entry(parent: QTreeWidgetItem, text: str, type_name: str, tip: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem(parent, [printable(text)])
        item.setData(0, TYPE_ROLE, type_name)
        item.setToolTip(0, f"<p style='white-space:normal; width:360px'>{tip}</p>")
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
        item.setForeground(0, QBrush(theme.NODE_TEXT))
        return item

    def project_names(self) -> list[str]:
        children = (self.project_group.child(i) for i in range(self.project_group.childCount()))
        return [child.data(0, TYPE_ROLE) for child in children if child.data(0, TYPE_ROLE)]

    def library_names(self) -> list[str]:
        return [self.library_group.child(i).text(0) for i in range(self.library_group.childCount())]

    def refresh(self) -> None:
        """List the project's units again (when they changed)."""
        model = self.controller.graph
        names = core.unit_names(model)
        if names == self.project_names() and self.project_group.childCount():
            return
        self.project_group.takeChildren()
        if not names:
            hint = QTreeWidgetItem(self.project_group, ["Select nodes, then Group (Ctrl+G)"])
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
        for name in names:
            doc = core.definition(model, name).doc
            self._entry(self.project_group, name, name,
                        f"<b>{html.escape(printable(name))}</b> (this project)<br>{html.escape(printable(doc))}"
                        "<br><i>Drag onto the canvas for one more instance.</i>")
        self.filter(self.palette.search.text())

    def filter(self, text: str) -> None:
        query = text.strip().lower()
        for group in (self.project_group, self.library_group):
            shown = 0
            for i in range(group.childCount()):
                child = group.child(i)
                hidden = bool(query) and (not child.data(0, TYPE_ROLE) or (query not in child.text(0).lower()
                                                                          and query not in "units"))
                child.setHidden(hidden)
                shown += not hidden
            group.setHidden(shown == 0 and (bool(query) or group is self.library_group))
            group.setExpanded(True)
