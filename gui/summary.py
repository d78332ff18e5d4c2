"""The model summary: one row per node (id, type, output shape, params, MACs) and a totals row.
A unit instance's row folds: click its ▸ to list its unit's layers under it (`gui.units.summary_rows`).

Rows follow the topological order (document order when the graph has a cycle).
A `SummaryModel` (QAbstractTableModel) is reset on every inference result, so a
1,000-node model refreshes in one go rather than cell by cell; clicking a row
emits `nodeActivated`.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QVBoxLayout, QWidget

from graphs.validate import topological_order
from gui import formatting
from gui.document import DocumentController
from gui.units.summary_rows import FOLDED, UNFOLDED, fold_mark, inner_rows, instance_type, unit_trees

COLUMNS = ("Node", "Type", "Output shape", "Params", "MACs")
ERROR_BRUSH = QBrush(QColor("#ff6b6b"))
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


class SummaryModel(QAbstractTableModel):
    """Rows of text: one per node, then the totals. `rows[i]` is (node id or "", cells, error text)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[tuple[str, tuple[str, ...], str]] = []
        self._bold = QFont()
        self._bold.setBold(True)

    def set_rows(self, rows) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(RIGHT if section >= 3 else LEFT)
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        node_id, cells, error = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cells[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(RIGHT if index.column() >= 3 else LEFT)
        if role == Qt.ItemDataRole.ForegroundRole and error:
            return ERROR_BRUSH
        if role == Qt.ItemDataRole.ToolTipRole and error:
            return error
        if role == Qt.ItemDataRole.FontRole and not node_id:
            return self._bold
        return None


class ModelSummary(QWidget):
    """A read-only table of the model; the last row holds the totals."""

    nodeActivated = Signal(str)

    def __init__(self, controller: DocumentController, parent=None):
        super().__init__(parent)
        self.setObjectName("summary")
        self.controller = controller
        self.model = SummaryModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(70)
        header.setResizeContentsPrecision(100)  # size columns from at most 100 rows
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        self.open_rows: set[str] = set()  # the unfolded instance rows (gui.units.summary_rows)
        self.table.clicked.connect(self._clicked)
        controller.resultChanged.connect(self.refresh)
        self.refresh(controller.result)

    def _order(self) -> list[str]:
        try:
            return topological_order(self.controller.graph)
        except Exception:  # a cycle from a loaded file
            return self.controller.graph.node_ids()

    def refresh(self, result=None) -> None:
        result = result if result is not None else self.controller.result
        graph = self.controller.graph
        trees = unit_trees(graph, result) if self.open_rows else {}
        rows = []
        for node_id in self._order():
            info = result.info.get(node_id)
            shapes = ", ".join(formatting.shape(s.shape) for s in info.outputs.values()) if info else "?"
            node = graph.node(node_id)
            unit = instance_type(graph, node)  # an instance or Repeat: one row that unfolds (gui.units)
            cells = (f"{fold_mark(self.open_rows, node_id)} {node_id}" if unit else node_id, unit or node.type, shapes,
                     formatting.grouped(info.params) if info else "–",
                     formatting.grouped(info.macs) if info else "–")
            rows.append((node_id, cells, "; ".join(e.message for e in result.errors_for(node_id))))
            if unit and node_id in self.open_rows and node_id in trees:
                rows += inner_rows(trees[node_id], result, self.open_rows)
        count = len(graph)  # the model's own nodes; an unfolded instance's rows are inside one
        rows.append(("", ("Total", f"{count} node{'s' if count != 1 else ''}", "",
                          formatting.grouped(result.total_params), formatting.grouped(result.total_macs)), ""))
        self.model.set_rows(rows)

    def row_of(self, node_id: str) -> int:
        return next((i for i, row in enumerate(self.model.rows) if row[0] == node_id), -1)

    def cell_text(self, node_id: str, column: str) -> str:
        return self.model.rows[self.row_of(node_id)][1][COLUMNS.index(column)]

    def node_ids(self) -> list[str]:
        return [row[0] for row in self.model.rows if row[0]]

    def totals(self) -> list[str]:
        return list(self.model.rows[-1][1])

    def toggle(self, row_id: str) -> None:
        """Fold or unfold an instance's (or a Repeat copy's) row."""
        self.open_rows ^= {row_id}
        self.refresh()

    def _clicked(self, index: QModelIndex) -> None:
        node_id, cells, _error = self.model.rows[index.row()]
        if node_id and index.column() == 0 and cells[0].lstrip().startswith((FOLDED, UNFOLDED)):
            self.toggle(node_id)
        elif node_id:
            self.nodeActivated.emit(node_id)
