"""The model summary: one row per node (id, type, output shape, params, MACs) and a totals row.
A unit instance's row folds: click its ▸ to list its unit's layers under it (`gui.units.summary_rows`).

Rows follow the topological order (document order when the graph has a cycle).
Each inference result updates only the rows whose part of it changed: inference keeps a node's
outcome object while its inputs stay the same, so rows are compared by identity, as the canvas
does (`gui.canvas.scene`), and the order is recomputed only after an edit that changes the wiring.
The `SummaryModel` (QAbstractTableModel) is reset only when the rows' order changed; otherwise
the changed rows are repainted. While the dock is closed or behind another tab, results are not
shown at all: the table catches up when it is shown or read. Clicking a row emits `nodeActivated`.
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
        """Show `rows`: a reset when the row ids changed, else a repaint of the rows that are new objects."""
        old = self.rows
        if len(old) != len(rows) or any(a[0] != b[0] for a, b in zip(old, rows)):
            self.beginResetModel()
            self.rows = rows
            self.endResetModel()
            return
        self.rows = rows
        changed = [i for i, (a, b) in enumerate(zip(old, rows)) if a is not b]
        if changed:
            self.dataChanged.emit(self.index(changed[0], 0), self.index(changed[-1], len(COLUMNS) - 1))

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
        self._order_cache: list[str] | None = None  # the rows' order, until the wiring changes
        self._built: dict[str, tuple] = {}  # node id -> (its info, its error text, its row) as last shown
        self._stale = False  # a result arrived while the table was hidden
        self.table.clicked.connect(self._clicked)
        controller.resultChanged.connect(self._result_changed)
        for signal in (controller.nodeAdded, controller.nodeRemoved, controller.edgeAdded, controller.edgeRemoved):
            signal.connect(self._forget_order)
        for signal in (controller.nodeRenamed, controller.projectReset, controller.scopeChanged,
                       controller.unitsChanged):
            signal.connect(self._forget)
        controller.paramsChanged.connect(self._forget_node)
        controller.nodeRemoved.connect(self._forget_node)
        self.refresh(controller.result)

    def _forget_order(self, *_args) -> None:
        """The wiring or the node set changed: the order is recomputed (a row's text does not depend on its wires)."""
        self._order_cache = None

    def _forget(self, *_args) -> None:
        """Another graph, a renamed node or an edited unit: recompute the order and every row."""
        self._order_cache = None
        self._built.clear()

    def _forget_node(self, node_id: str) -> None:
        self._built.pop(node_id, None)  # its params may change its Type column (a Repeat's count)

    def _order(self) -> list[str]:
        if self._order_cache is None:
            try:
                self._order_cache = topological_order(self.controller.graph)
            except Exception:  # a cycle from a loaded file
                self._order_cache = self.controller.graph.node_ids()
        return self._order_cache

    def _result_changed(self, result) -> None:
        if self.window().isVisible() and not self.isVisible():  # a closed dock or a tab behind another
            self._stale = True
        else:
            self.refresh(result)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._catch_up()

    def _catch_up(self) -> None:
        if self._stale:
            self.refresh()

    def _row(self, graph, result, node_id: str):
        """The node's row: the one shown before when its inference outcome and errors are the same objects."""
        info = result.info.get(node_id)
        found = result.errors_by_node.get(node_id)  # most nodes have none: no join for them
        errors = "; ".join(e.message for e in found) if found else ""
        built = self._built.get(node_id)
        if built is not None and built[0] is info and built[1] == errors:
            return built[2]
        shapes = ", ".join(formatting.shape(s.shape) for s in info.outputs.values()) if info else "?"
        node = graph.node(node_id)
        unit = instance_type(graph, node)  # an instance or Repeat: one row that unfolds (gui.units)
        cells = (f"{fold_mark(self.open_rows, node_id)} {node_id}" if unit else node_id, unit or node.type, shapes,
                 formatting.grouped(info.params) if info else "–",
                 formatting.grouped(info.macs) if info else "–")
        row = (node_id, cells, errors)
        self._built[node_id] = (info, errors, row)
        return row

    def refresh(self, result=None) -> None:
        self._stale = False
        result = result if result is not None else self.controller.result
        graph = self.controller.graph
        trees = unit_trees(graph, result) if self.open_rows else {}
        rows = []
        for node_id in self._order():
            row = self._row(graph, result, node_id)
            rows.append(row)
            if node_id in self.open_rows and node_id in trees:
                rows += inner_rows(trees[node_id], result, self.open_rows)
        count = len(graph)  # the model's own nodes; an unfolded instance's rows are inside one
        rows.append(("", ("Total", f"{count} node{'s' if count != 1 else ''}", "",
                          formatting.grouped(result.total_params), formatting.grouped(result.total_macs)), ""))
        self.model.set_rows(rows)

    def row_of(self, node_id: str) -> int:
        self._catch_up()
        return next((i for i, row in enumerate(self.model.rows) if row[0] == node_id), -1)

    def cell_text(self, node_id: str, column: str) -> str:
        row = self.row_of(node_id)  # first: it brings a hidden table up to date
        return self.model.rows[row][1][COLUMNS.index(column)]

    def node_ids(self) -> list[str]:
        self._catch_up()
        return [row[0] for row in self.model.rows if row[0]]

    def totals(self) -> list[str]:
        self._catch_up()
        return list(self.model.rows[-1][1])

    def toggle(self, row_id: str) -> None:
        """Fold or unfold an instance's (or a Repeat copy's) row."""
        self.open_rows ^= {row_id}
        self._built.pop(row_id, None)  # its fold mark
        self.refresh()

    def _clicked(self, index: QModelIndex) -> None:
        node_id, cells, _error = self.model.rows[index.row()]
        if node_id and index.column() == 0 and cells[0].lstrip().startswith((FOLDED, UNFOLDED)):
            self.toggle(node_id)
        elif node_id:
            self.nodeActivated.emit(node_id)
