"""The model summary: one row per node (id, type, output shape, params, MACs) and a totals row.
A unit instance's row folds: click its ▸ to list its unit's layers under it (`gui.units.summary_rows`).

Rows follow a topological order, kept edit by edit (`gui.summary_order`): rows keep their places while
the user rewires. The `SummaryModel` (QAbstractTableModel) holds the order and the latest inference
and makes a row's cells when the table asks for them (`data()`), so only the rows on screen are
made. A new result emits one `dataChanged` over the span of the rows it changed
(`gui.result_changes`), a node added or removed its row inserted or removed there, a new order (a wire
that ran backward, another graph) one reset;
the totals come from the previous ones plus what changed. While the dock is closed or behind
another tab, results are not shown at all: the table catches up when it is shown or read. Clicking
a row emits `nodeActivated`.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QVBoxLayout, QWidget

from gui import formatting
from gui.document import DocumentController
from gui.result_changes import changed_nodes, totals
from gui.summary_order import LiveOrder
from gui.units.summary_rows import FOLDED, UNFOLDED, fold_mark, inner_rows, instance_type, unit_trees

SORTED_UP_TO = 1000  # nodes: up to this size the order is made anew after each edit (2-3 ms)

COLUMNS = ("Node", "Type", "Output shape", "Params", "MACs")
ERROR_BRUSH = QBrush(QColor("#ff6b6b"))
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
DISPLAY = Qt.ItemDataRole.DisplayRole
_ANSWERS = {DISPLAY: "text", Qt.ItemDataRole.TextAlignmentRole: "align", Qt.ItemDataRole.ForegroundRole: "colour",
            Qt.ItemDataRole.ToolTipRole: "tooltip", Qt.ItemDataRole.FontRole: "font"}
_ALIGN_RIGHT, _ALIGN_LEFT = int(RIGHT), int(LEFT)
CELL_MARGIN = 10  # pixels each side of a cell's text when a column widens for it (bold totals included)


class SummaryModel(QAbstractTableModel):
    """One row per entry, then the totals. An entry is a node id, whose row (node id, cells, error text)
    `make_row(node_id)` makes when it is shown, or such a row made already (an unfolded unit's layers)."""

    def __init__(self, make_row=None, make_totals=None, parent=None):
        super().__init__(parent)
        self.entries: list = []
        self._make_row = make_row
        self._make_totals = make_totals
        self._bold = QFont()
        self._bold.setBold(True)

    @property
    def rows(self) -> list[tuple[str, tuple[str, ...], str]]:
        """Every row, made now (tests and searches; the table itself asks for the rows it shows)."""
        return [self.row(i) for i in range(self.rowCount())]

    def row(self, index: int) -> tuple[str, tuple[str, ...], str]:
        if index == len(self.entries):
            return self._make_totals()
        entry = self.entries[index]
        return entry if isinstance(entry, tuple) else self._make_row(entry)

    def set_entries(self, entries: list) -> None:
        """Show another list of rows: one reset, or a repaint of them all when they are the same rows."""
        same = len(entries) == len(self.entries) and all(
            (a[0] if isinstance(a, tuple) else a) == (b[0] if isinstance(b, tuple) else b)
            for a, b in zip(entries, self.entries))
        if same:
            self.entries = entries
            self.rows_changed(0, len(entries))
            return
        self.beginResetModel()
        self.entries = entries
        self.endResetModel()

    def move_rows(self, changes) -> None:
        """Add and remove node rows in turn (`LiveOrder.changes_since`): Qt moves the rows below, no reset."""
        for row, node_id in changes:
            if node_id is None:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self.entries[row]
                self.endRemoveRows()
            else:
                self.beginInsertRows(QModelIndex(), row, row)
                self.entries.insert(row, node_id)
                self.endInsertRows()

    def rows_changed(self, first: int, last: int) -> None:
        """Rows `first` to `last` (the totals row included) read anew: one repaint of that span."""
        self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() or self._make_totals is None else len(self.entries) + 1

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(RIGHT if section >= 3 else LEFT)
        return None

    def data(self, index, role=DISPLAY):
        answer = _ANSWERS.get(role)  # the table asks 7 roles of each cell on every paint: most get None at once
        if answer is None:
            return None
        if answer == "align":
            return _ALIGN_RIGHT if index.column() >= 3 else _ALIGN_LEFT
        node_id, cells, error = self.row(index.row())
        if answer == "text":
            return cells[index.column()]
        if answer == "font":
            return None if node_id else self._bold
        if answer == "colour":
            return ERROR_BRUSH if error else None
        return error or None  # the tooltip


class ModelSummary(QWidget):
    """A read-only table of the model; the last row holds the totals."""

    nodeActivated = Signal(str)

    def __init__(self, controller: DocumentController, parent=None):
        super().__init__(parent)
        self.setObjectName("summary")
        self.controller = controller
        self.model = SummaryModel(self._node_row, self._totals_row, self)
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
        # Columns fit their contents when the rows change (`_fit_columns`), not by ResizeToContents, which
        # measures 100 rows again on every dataChanged, i.e. after every edit.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(70)
        header.setResizeContentsPrecision(100)  # size columns from at most 100 rows
        self.model.modelReset.connect(self.table.resizeColumnsToContents)
        self.model.dataChanged.connect(self._fit_columns)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        self.open_rows: set[str] = set()  # the unfolded instance rows (gui.units.summary_rows)
        self.order = LiveOrder(lambda: self.controller.graph)
        self._shown = (None, None)  # (order version, open rows) of the entries shown
        self._built: dict[str, tuple] = {}  # node id -> (its info, its error text, its row) as last shown
        self.result = None  # the inference the rows show
        self._stale = False  # a result arrived while the table was hidden
        self.table.clicked.connect(self._clicked)
        controller.resultChanged.connect(self._result_changed)
        controller.nodeAdded.connect(lambda node_id: self._follow(self.order.node_added, node_id))
        controller.nodeRemoved.connect(lambda node_id: self._follow(self.order.node_removed, node_id))
        controller.edgeAdded.connect(lambda edge: self._follow(self.order.edge_added, edge))
        controller.edgeRemoved.connect(lambda edge: self._follow(lambda _edge: None, edge))  # leaves it valid
        for signal in (controller.nodeRenamed, controller.projectReset, controller.scopeChanged,
                       controller.unitsChanged):
            signal.connect(self._forget)
        controller.paramsChanged.connect(self._forget_node)
        controller.nodeRemoved.connect(self._forget_node)
        self.refresh(controller.result)

    def _follow(self, change, arg) -> None:
        """An edit of the model's nodes or wires keeps the order; inside a unit the model's order is built
        anew (the unit's own events say nothing of the model's nodes), and so is a model small enough to
        sort in a few milliseconds, so its rows read in the usual order, the same after an undo."""
        if self.controller.scope or len(self.controller.graph) <= SORTED_UP_TO:
            self.order.forget()
        else:
            change(arg)

    def _forget(self, *_args) -> None:
        """Another graph, a renamed node or an edited unit: recompute the order and every row."""
        self.order.forget()
        self._built.clear()

    def _forget_node(self, node_id: str) -> None:
        self._built.pop(node_id, None)  # its params may change its Type column (a Repeat's count)

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

    def _node_row(self, node_id: str):
        """The node's row: the one made before when its inference outcome and errors are the same objects."""
        result = self.result
        info = result.info.get(node_id)
        found = result.errors_by_node.get(node_id)  # most nodes have none: no join for them
        errors = "; ".join(e.message for e in found) if found else ""
        built = self._built.get(node_id)
        if built is not None and built[0] is info and built[1] == errors:
            return built[2]
        shapes = ", ".join(formatting.shape(s.shape) for s in info.outputs.values()) if info else "?"
        graph = self.controller.graph
        if not graph.has_node(node_id):  # removed, and the table is drawn before the next result
            return node_id, (node_id, "", "", "", ""), ""
        node = graph.node(node_id)
        unit = instance_type(graph, node)  # an instance or Repeat: one row that unfolds (gui.units)
        cells = (f"{fold_mark(self.open_rows, node_id)} {node_id}" if unit else node_id, unit or node.type, shapes,
                 formatting.grouped(info.params) if info else "–",
                 formatting.grouped(info.macs) if info else "–")
        row = (node_id, cells, errors)
        self._built[node_id] = (info, errors, row)
        return row

    def _totals_row(self):
        count = len(self.controller.graph)  # the model's own nodes; an unfolded instance's rows are inside one
        params, macs = totals(self.result)
        return "", ("Total", f"{count} node{'s' if count != 1 else ''}", "", formatting.grouped(params),
                    formatting.grouped(macs)), ""

    def refresh(self, result=None) -> None:
        """Show `result` (default: the latest): one reset when the rows' order changed, else one repaint
        of the span of rows whose part of the result changed."""
        self._stale = False
        result = result if result is not None else self.controller.result
        previous, self.result = self.result, result
        ids = self.order.ids()
        shown = (self.order.version, frozenset(self.open_rows))
        if self.open_rows:  # the unfolded instances' rows follow theirs, made now (units are few)
            trees = unit_trees(self.controller.graph, result)
            entries = []
            for node_id in ids:
                entries.append(node_id)
                if node_id in self.open_rows and node_id in trees:
                    entries += inner_rows(trees[node_id], result, self.open_rows)
            self.model.set_entries(entries)
        elif shown != self._shown or previous is None:
            changes = None if previous is None or shown[1] != self._shown[1] else \
                self.order.changes_since(self._shown[0])
            if changes is None:
                self.model.set_entries(list(ids))  # a copy: the order changes with the next edit, the rows after it
            else:  # nodes added or removed: just their rows, at their places
                self._move_rows(changes)
                self._repaint_changed(previous, result)
        elif previous is not result:
            self._repaint_changed(previous, result)
        self._shown = shown

    def _move_rows(self, changes) -> None:
        """Move the rows (`SummaryModel.move_rows`), repainting the table only when a row on screen moves: Qt's
        QTableView repaints every row it shows when the (hidden) row header's count changes (~1.4 ms after each
        delete or undo in a 10,000-row model, most of them far below what is shown), so that header says
        nothing meanwhile, and the table takes its new scroll range as QTableView.rowCountChanged would."""
        table, header = self.table, self.table.verticalHeader()
        _top, bottom = self._rows_on_screen()
        header.blockSignals(True)
        try:
            self.model.move_rows(changes)
        finally:
            header.blockSignals(False)
        table.updateGeometries()
        bar = table.verticalScrollBar()
        if table.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerItem:
            header.setOffsetToSectionPosition(bar.value())
        else:
            header.setOffset(bar.value())
        if min(row for row, _ in changes) <= bottom:
            table.viewport().update()

    def _repaint_changed(self, previous, result) -> None:
        """Repaint the rows on screen whose node's part of the result changed, and the totals if shown (the
        others read it when shown): one repaint of their span."""
        changed = changed_nodes(previous, result)
        top, bottom = self._rows_on_screen()
        rows = [top + i for i, node_id in enumerate(self.model.entries[top:bottom + 1]) if node_id in changed]
        if changed and bottom >= len(self.model.entries):
            rows.append(len(self.model.entries))
        if rows:
            self.model.rows_changed(rows[0], rows[-1])

    def _rows_on_screen(self) -> tuple[int, int]:
        """(first, last) row the table shows: Qt repaints the whole table for a change of rows it does not
        show, 245 cells read again after each edit of a 10,000-node model."""
        table = self.table
        top, bottom = table.rowAt(0), table.rowAt(table.viewport().height() - 1)
        return max(top, 0), self.model.rowCount() - 1 if bottom < 0 else bottom

    def _fit_columns(self, first: QModelIndex, last: QModelIndex) -> None:
        """Widen a column whose changed text on screen no longer fits (the rows on screen only)."""
        table, header = self.table, self.table.horizontalHeader()
        top = max(first.row(), table.rowAt(0))
        bottom = table.rowAt(table.viewport().height() - 1)
        bottom = last.row() if bottom < 0 else min(bottom, last.row())
        if top < 0 or top > bottom:
            return
        metrics = table.fontMetrics()
        rows = [self.model.row(i)[1] for i in range(top, bottom + 1)]
        for column in (0, 1, 3, 4):
            wanted = max(metrics.horizontalAdvance(cells[column]) for cells in rows) + 2 * CELL_MARGIN
            if wanted > header.sectionSize(column):
                header.resizeSection(column, wanted)

    def row_of(self, node_id: str) -> int:
        self._catch_up()
        if not self.open_rows:
            row = self.order.position(node_id)
            return -1 if row is None else row
        return next((i for i, entry in enumerate(self.model.entries)
                     if (entry[0] if isinstance(entry, tuple) else entry) == node_id), -1)

    def cell_text(self, node_id: str, column: str) -> str:
        row = self.row_of(node_id)  # first: it brings a hidden table up to date
        return self.model.row(row)[1][COLUMNS.index(column)]

    def node_ids(self) -> list[str]:
        self._catch_up()
        return [row[0] for row in self.model.rows if row[0]]

    def totals(self) -> list[str]:
        self._catch_up()
        return list(self.model.row(len(self.model.entries))[1])

    def toggle(self, row_id: str) -> None:
        """Fold or unfold an instance's (or a Repeat copy's) row."""
        self.open_rows ^= {row_id}
        self._built.pop(row_id, None)  # its fold mark
        self.refresh()

    def _clicked(self, index: QModelIndex) -> None:
        node_id, cells, _error = self.model.row(index.row())
        if node_id and index.column() == 0 and cells[0].lstrip().startswith((FOLDED, UNFOLDED)):
            self.toggle(node_id)
        elif node_id:
            self.nodeActivated.emit(node_id)
