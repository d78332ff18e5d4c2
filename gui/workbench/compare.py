"""Comparing two runs: a window with the settings that differ, the graph diff, the final metrics side by
side and both runs' curves overlaid, and buttons to draw the graph diff on the canvas and clear it.

It shows an `engine.history.compare.RunComparison` (the same one `main.py diff` prints) and the two
runs' `RunRecord`s for their colours and curves. It is not modal: the canvas stays usable, and the
overlay stays until cleared (here, with the Runs list's Compare again, or when another project opens).
"""

from __future__ import annotations

import json

import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from graphs.errors import printable
from gui.canvas.diff_overlay import ADDED, CHANGED, REMOVED
from gui.workbench.plots import BACKGROUND, _pen

GEOMETRY_KEY = "compareRuns/geometry"


def _text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return printable(json.dumps(value) if isinstance(value, (dict, list)) else str(value))


def _table(headers: list[str], rows: list[tuple]) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(value if isinstance(value, str) and c == 0 else _text(value)))
    table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class CompareDialog(QDialog):
    """Run A against run B (see the module docstring)."""

    showOnCanvas = Signal()
    clearCanvas = Signal()

    def __init__(self, comparison, run_a, run_b, parent: QWidget | None = None):
        super().__init__(parent)
        self.comparison = comparison
        self.setObjectName("compareRuns")
        self.setWindowTitle(f"Compare run {run_a.number} and run {run_b.number}")
        self.resize(980, 620)
        geometry = QSettings().value(GEOMETRY_KEY)
        if geometry is not None:
            self.restoreGeometry(geometry)
        header = QLabel(f'<b style="color:{run_a.colour}">A: run {run_a.number}</b> '
                        f"{printable(comparison.a.folder.name)} &nbsp;&nbsp; "
                        f'<b style="color:{run_b.colour}">B: run {run_b.number}</b> '
                        f"{printable(comparison.b.folder.name)}")
        header.setTextFormat(Qt.TextFormat.RichText)

        settings = [(printable(name), a, b) for name, (a, b) in comparison.settings.items()]
        self.settings_table = _table(["setting", "A", "B"], settings or [("(the same settings)", None, None)])
        self.settings_table.setObjectName("settingsDiff")
        self.graph_tree = self._graph_tree()
        self.metrics_table = _table(["final metric", "A", "B"],
                                    [(printable(name), a, b) for name, a, b in comparison.metrics()])
        self.metrics_table.setObjectName("metricsDiff")

        left = QSplitter(Qt.Orientation.Vertical)
        for title, widget in (("Settings that differ", self.settings_table), ("Graph diff (A → B)", self.graph_tree),
                              ("Final metrics", self.metrics_table)):
            box = QWidget()
            layout = QVBoxLayout(box)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addWidget(QLabel(f"<b>{title}</b>"))
            layout.addWidget(widget)
            left.addWidget(box)
        self.curves = self._curves(run_a, run_b)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(left)
        body.addWidget(self.curves)
        body.setSizes([430, 550])

        self.show_button = QPushButton("Show on Canvas")
        self.show_button.setObjectName("showDiffOnCanvas")
        self.show_button.setToolTip("Colour the canvas's nodes: added green, changed amber, removed as grey ghosts")
        self.show_button.setEnabled(not comparison.graph.empty)
        self.clear_button = QPushButton("Clear Canvas Overlay")
        self.clear_button.setObjectName("clearDiffOverlay")
        self.show_button.clicked.connect(self.showOnCanvas)
        self.clear_button.clicked.connect(self.clearCanvas)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.show_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(header)
        layout.addWidget(body, 1)
        layout.addLayout(buttons)

    def hideEvent(self, event) -> None:  # closed, Escape or the Close button
        QSettings().setValue(GEOMETRY_KEY, self.saveGeometry())  # opens where and as large as it was left
        super().hideEvent(event)

    def _graph_tree(self) -> QTreeWidget:
        diff, graph_a, graph_b = self.comparison.graph, self.comparison.a.project.graph, self.comparison.b.project.graph
        tree = QTreeWidget()
        tree.setObjectName("graphDiff")
        tree.setHeaderLabels(["change", "A", "B"])

        def add(text: str, colour: str, a="", b="", parent=None) -> QTreeWidgetItem:
            item = QTreeWidgetItem(parent or tree, [text, a, b])
            item.setForeground(0, pg.mkColor(colour))
            return item

        for node in diff.added:
            add(f"+ {printable(node)} ({printable(graph_b.node(node).type)})", ADDED, "", "added")
        for node in diff.removed:
            add(f"− {printable(node)} ({printable(graph_a.node(node).type)})", REMOVED, "removed", "")
        for node, params in diff.changed.items():
            parent = add(f"~ {printable(node)}", CHANGED)
            for name, (a, b) in params.items():
                add(printable(name), CHANGED, _text(a), _text(b), parent)
            parent.setExpanded(True)
        for edge in diff.edges_added:
            add(printable(f"+ wire {edge.source} → {edge.target}.{edge.target_port}"), ADDED)
        for edge in diff.edges_removed:
            add(printable(f"− wire {edge.source} → {edge.target}.{edge.target_port}"), REMOVED)
        if diff.empty:
            QTreeWidgetItem(tree, ["the same graph"])
        tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        return tree

    @staticmethod
    def _curves(run_a, run_b) -> pg.GraphicsLayoutWidget:
        layout = pg.GraphicsLayoutWidget()
        layout.setObjectName("compareCurves")
        layout.setBackground(BACKGROUND)
        loss = layout.addPlot(row=0, col=0)
        loss.setLabel("left", "loss")
        metric = layout.addPlot(row=1, col=0)
        metric.setXLink(loss)
        metric.setLabel("bottom", "epoch")
        metric.setLabel("left", (run_b.series.metric or "metric").removeprefix("val_"))
        for plot, corner in ((loss, (-10, 10)), (metric, (-10, -30))):  # loss falls, the metric mostly rises
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.addLegend(offset=corner)
        for tag, run in (("A", run_a), ("B", run_b)):
            rows = run.series.epochs
            epochs = [row["epoch"] for row in rows]
            for name, dashed in (("train_loss", True), ("val_loss", False)):
                values = [row.get(name) for row in rows]
                if any(v is not None for v in values):
                    loss.plot(epochs, [float("nan") if v is None else v for v in values],
                              pen=_pen(run.colour, 2, dashed=dashed), symbol=None if dashed else "o", symbolSize=5,
                              symbolBrush=run.colour, name=f"{tag} {name.replace('_', ' ')}")
            values = [row.get(run.series.metric) for row in rows]
            if any(v is not None for v in values):
                metric.plot(epochs, [float("nan") if v is None else v for v in values], pen=_pen(run.colour, 2),
                            symbol="o", symbolSize=5, symbolBrush=run.colour, name=f"{tag} {run.series.metric}")
        return layout
