"""The palette: every catalogue node type, by category, with a search box.

Drag a type onto the canvas (mime type `NODE_MIME` carrying the type name) or
double-click it (`addRequested`) to add a node. The palette does not add nodes
itself: the main window routes both to `CanvasView.add_node_at`.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from graphs.catalogue import CATALOGUE, CATEGORIES
from graphs.explanations import explain
from gui import theme
from gui.canvas.quick_add import rank
from gui.canvas.view import NODE_MIME

TYPE_ROLE = Qt.ItemDataRole.UserRole
CUSTOM_CATEGORY = "Custom"  # graphs.custom_types.CATEGORY


def _swatch(colour: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(colour)
    painter.setPen(colour.darker(140))
    painter.drawRoundedRect(1, 1, 10, 10, 3, 3)
    painter.end()
    return QIcon(pixmap)


def type_tooltip(name: str) -> str:
    """Rich text for a palette entry: the type's one-line doc and its explanation."""
    spec, explanation = CATALOGUE[name], explain(name)
    about = f"<br>{explanation.to_html()}" if explanation else ""
    return (f"<p style='white-space:normal; width:360px'><b>{name}</b><br>{html.escape(spec.doc)}{about}<br>"
            "<i>Drag onto the canvas, or double-click.</i></p>")


class PaletteTree(QTreeWidget):
    """The tree; drags carry the type name."""

    def mimeData(self, items) -> QMimeData:
        mime = QMimeData()
        names = [item.data(0, TYPE_ROLE) for item in items if item.data(0, TYPE_ROLE)]
        if names:
            mime.setData(NODE_MIME, names[0].encode("utf-8"))
            mime.setText(names[0])
        return mime

    def mimeTypes(self) -> list[str]:
        return [NODE_MIME]


class Palette(QWidget):
    """Search box + category tree of node types."""

    addRequested = Signal(str)  # type name (double-click or Enter)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("palette")
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.tree = PaletteTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setIndentation(14)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._categories: dict[str, QTreeWidgetItem] = {}
        self._custom: dict = {}  # the open project's own layer types (set_custom_types)
        self._fill()
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._add_first_visible)
        self.tree.itemActivated.connect(self._activated)

    def _fill(self) -> None:
        for category in CATEGORIES:
            self._add_category(category)
        for name, spec in CATALOGUE.items():
            self._add_type(self._categories[spec.category], name, type_tooltip(name))
        self.tree.expandAll()

    def _add_category(self, category: str) -> QTreeWidgetItem:
        parent = QTreeWidgetItem(self.tree, [category])
        parent.setFlags(Qt.ItemFlag.ItemIsEnabled)
        parent.setIcon(0, _swatch(theme.category_colour(category)))
        font = parent.font(0)
        font.setBold(True)
        parent.setFont(0, font)
        self._categories[category] = parent
        return parent

    def _add_type(self, parent: QTreeWidgetItem, name: str, tooltip: str) -> None:
        item = QTreeWidgetItem(parent, [name])
        item.setData(0, TYPE_ROLE, name)
        item.setToolTip(0, tooltip)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
        item.setForeground(0, QBrush(theme.NODE_TEXT))
        self._items[name] = item

    def set_custom_types(self, types) -> None:
        """Show the open project's own layer types (`graphs.custom_types`) under "Custom", replacing the last
        project's."""
        parent = self._categories.pop(CUSTOM_CATEGORY, None)
        if parent is not None:
            for i in range(parent.childCount()):
                self._items.pop(parent.child(i).data(0, TYPE_ROLE), None)
            self.tree.invisibleRootItem().removeChild(parent)
        self._custom = dict(types)
        if not self._custom:
            return
        parent = self._add_category(CUSTOM_CATEGORY)
        for name, spec in self._custom.items():
            self._add_type(parent, name, f"<p style='white-space:normal; width:360px'><b>{html.escape(name)}</b> "
                                         f"(custom layer)<br>{html.escape(spec.doc)}<br><i>Drag onto the canvas, "
                                         "or double-click.</i></p>")
        parent.setExpanded(True)
        self.filter(self.search.text())

    def item(self, type_name: str) -> QTreeWidgetItem:
        return self._items[type_name]

    def visible_types(self) -> list[str]:
        return [name for name, item in self._items.items() if not item.isHidden()]

    def filter(self, text: str) -> None:
        """Show only the types whose name or category contains `text` (`quick_add.rank`, case-insensitive)."""
        shown = set(rank(text, custom=self._custom))
        for name, item in self._items.items():
            item.setHidden(name not in shown)
        for parent in self._categories.values():
            children = [parent.child(i) for i in range(parent.childCount())]
            parent.setHidden(all(child.isHidden() for child in children))
            parent.setExpanded(True)

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        name = item.data(0, TYPE_ROLE)
        if name:
            self.addRequested.emit(name)

    def _add_first_visible(self) -> None:
        """Enter in the search box adds the best match ("relu": ReLU, not LeakyReLU)."""
        ranked = rank(self.search.text(), custom=self._custom)
        if ranked and self.search.text().strip():
            self.addRequested.emit(ranked[0])
