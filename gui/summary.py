"""The model summary: one row per node (id, type, output shape, params, MACs) and a totals row.

Rows follow the topological order (document order when the graph has a cycle).
It refreshes on every inference result; clicking a row emits `nodeActivated`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from graphs.validate import topological_order
from gui import formatting
from gui.document import DocumentController

COLUMNS = ("Node", "Type", "Output shape", "Params", "MACs")
ID_ROLE = Qt.ItemDataRole.UserRole


class ModelSummary(QWidget):
    """A read-only table of the model; the last row holds the totals."""

    nodeActivated = Signal(str)

    def __init__(self, controller: DocumentController, parent=None):
        super().__init__(parent)
        self.setObjectName("summary")
        self.controller = controller
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(70)
        for column in (3, 4):
            self.table.horizontalHeaderItem(column).setTextAlignment(
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        self.table.cellClicked.connect(self._clicked)
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
        order = self._order()
        self.table.setRowCount(len(order) + 1)
        for row, node_id in enumerate(order):
            info = result.info.get(node_id)
            shapes = ", ".join(formatting.shape(s.shape) for s in info.outputs.values()) if info else "?"
            values = (node_id, graph.node(node_id).type, shapes,
                      formatting.grouped(info.params) if info else "–",
                      formatting.grouped(info.macs) if info else "–")
            errors = "; ".join(e.message for e in result.errors_for(node_id))
            self._set_row(row, values, node_id, error=errors)
        totals = ("Total", f"{len(order)} nodes", "", formatting.grouped(result.total_params),
                  formatting.grouped(result.total_macs))
        self._set_row(len(order), totals, None, bold=True)

    def _set_row(self, row: int, values, node_id: str | None, bold: bool = False, error: str = "") -> None:
        for column, text in enumerate(values):
            item = QTableWidgetItem(text)
            item.setData(ID_ROLE, node_id)
            if column >= 3:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if bold:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            if error:
                item.setForeground(QBrush(QColor("#ff6b6b")))
                item.setToolTip(error)
            self.table.setItem(row, column, item)

    def row_of(self, node_id: str) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(ID_ROLE) == node_id:
                return row
        return -1

    def cell_text(self, node_id: str, column: str) -> str:
        return self.table.item(self.row_of(node_id), COLUMNS.index(column)).text()

    def totals(self) -> list[str]:
        row = self.table.rowCount() - 1
        return [self.table.item(row, c).text() for c in range(len(COLUMNS))]

    def _clicked(self, row: int, _column: int) -> None:
        node_id = self.table.item(row, 0).data(ID_ROLE)
        if node_id:
            self.nodeActivated.emit(node_id)
