"""The Evaluation panel: how the selected run (or a checkpoint file) does on the validation split.

Classification: the accuracy, a confusion-matrix heat map with class names
(rows: true class, columns: predicted; shaded by each row's share), per-class
precision/recall/F1, and for image data a grid of validation images with true
and predicted labels, misclassified first. Regression: MAE/RMSE and a
predicted-vs-true scatter plot. The numbers come from an `EvaluationReport`
computed off the GUI thread.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.evaluation import EvaluationReport
from graphs.errors import printable
from gui.workbench.views import ImageGrid, fill_table, read_only_table

LOW, HIGH = np.array([0x23, 0x26, 0x2B]), np.array([0x3D, 0x8B, 0xE0])  # heat map: empty -> full row share
MAX_CONFUSION_CLASSES = 50


def heat_colour(share: float) -> QColor:
    rgb = LOW + (HIGH - LOW) * float(np.clip(share, 0.0, 1.0))
    return QColor(*(int(v) for v in rgb))


class EvaluationPanel(QWidget):
    """Shows one `EvaluationReport`; `checkpointRequested` asks the workbench to evaluate a weights file."""

    checkpointRequested = Signal()

    def __init__(self, parent: QWidget | None = None, tasks=None):
        super().__init__(parent)
        self.report: EvaluationReport | None = None
        self.explain_view = self.embedding_view = None  # with a TaskRunner: the Explain and Embedding tabs
        self.headline = QLabel("Train a model, or evaluate a checkpoint file.")
        self.headline.setWordWrap(True)
        self.headline.setObjectName("evaluationHeadline")
        self.checkpoint = QPushButton("Checkpoint…")
        self.checkpoint.setToolTip("Evaluate a weights file (.safetensors) with the project on the canvas")
        self.checkpoint.clicked.connect(self.checkpointRequested)

        self.confusion = read_only_table()
        self.confusion.setObjectName("confusionMatrix")
        self.confusion.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.confusion.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.confusion.setToolTip("rows: true class · columns: predicted class · shade: share of the row")
        self.per_class = read_only_table()
        self.per_class.setObjectName("perClassTable")
        matrix_box = QWidget()
        matrix_layout = QVBoxLayout(matrix_box)
        matrix_layout.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("rows: true class · columns: predicted")
        caption.setObjectName("mutedLabel")
        caption.setWordWrap(True)
        matrix_layout.addWidget(caption)
        matrix_layout.addWidget(self.confusion, 1)

        self.images = ImageGrid(thumb=44)
        image_scroll = QScrollArea()
        image_scroll.setWidgetResizable(True)
        holder = QWidget()
        holder_layout = QVBoxLayout(holder)
        note = QLabel("true → predicted; misclassified first, in red")
        note.setObjectName("mutedLabel")
        note.setWordWrap(True)
        holder_layout.addWidget(note)
        holder_layout.addWidget(self.images)
        holder_layout.addStretch(1)
        image_scroll.setWidget(holder)

        self.scatter = pg.PlotWidget(background="#1d1f23")
        self.scatter.setLabel("bottom", "true value")
        self.scatter.setLabel("left", "predicted value")
        self.scatter.showGrid(x=True, y=True, alpha=0.15)
        self.points = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(79, 143, 214, 160))
        self.identity = pg.PlotDataItem(pen=pg.mkPen("#f0b35a", width=1, style=Qt.PenStyle.DashLine))
        self.scatter.addItem(self.points)
        self.scatter.addItem(self.identity)

        self.tabs = QTabWidget()
        self.matrix_tab = self.tabs.addTab(matrix_box, "Confusion matrix")
        self.per_class_tab = self.tabs.addTab(self.per_class, "Per class")
        self.images_tab = self.tabs.addTab(image_scroll, "Samples")
        self.scatter_tab = self.tabs.addTab(self.scatter, "Predicted vs true")
        if tasks is not None:
            from gui.workbench.explain_view import EmbeddingView, ExplainView

            self.explain_view, self.embedding_view = ExplainView(tasks), EmbeddingView(tasks)
            self.explain_tab = self.tabs.addTab(self.explain_view, "Explain")
            self.embedding_tab = self.tabs.addTab(self.embedding_view, "Embedding")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(self.headline, 1)
        top.addWidget(self.checkpoint)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.show_report(None)

    def show_busy(self, text: str) -> None:
        self.headline.setText(text)

    def show_message(self, text: str) -> None:
        self.show_report(None)
        self.headline.setText(text)

    def show_report(self, report: EvaluationReport | None) -> None:
        if self.report is not None and self.report is not report:
            self.report.release()  # only the report on show keeps its model and data, for explaining
        self.report = report
        classification = report is not None and report.task == "classification"
        regression = report is not None and report.task == "regression"
        self.tabs.setTabVisible(self.matrix_tab, report is None or classification)
        self.tabs.setTabVisible(self.per_class_tab, classification)
        self.tabs.setTabVisible(self.images_tab, classification and bool(report.images))
        self.tabs.setTabVisible(self.scatter_tab, regression)
        if self.explain_view is not None:
            self.tabs.setTabVisible(self.explain_tab, classification and report.inputs is not None)
            self.tabs.setTabVisible(self.embedding_tab, classification and report.compiled is not None)
            self.explain_view.set_report(report)
            self.embedding_view.set_report(report)
        if report is None:
            self.headline.setText("Train a model, or evaluate a checkpoint file.")
            fill_table(self.confusion, [], [])
            fill_table(self.per_class, [], [])
            self.images.clear()
            self.points.setData([], [])
            self.identity.setData([], [])
            return
        self.headline.setText(report.headline())
        if classification:
            self._show_confusion(report.evaluation)
            per_class = report.evaluation.per_class
            rows = [[r["precision"], r["recall"], r["f1"], r["support"]] for r in per_class]
            fill_table(self.per_class, ["precision", "recall", "F1", "support"], rows,
                       row_labels=[str(r["class"]) for r in per_class])  # rows named by class, not numbered
            self.images.set_images(report.images, report.captions, report.wrong)
            self.tabs.setCurrentIndex(self.matrix_tab)
        else:
            self._show_scatter(report.evaluation)
            self.tabs.setCurrentIndex(self.scatter_tab)

    def _show_confusion(self, evaluation) -> None:
        matrix = evaluation.confusion
        names = [printable(str(name)) for name in evaluation.class_names]
        if len(names) > MAX_CONFUSION_CLASSES:  # a heat map of hundreds of classes is unreadable; keep the first
            matrix, names = matrix[:MAX_CONFUSION_CLASSES, :MAX_CONFUSION_CLASSES], names[:MAX_CONFUSION_CLASSES]
        self.confusion.clear()
        self.confusion.setRowCount(len(names))
        self.confusion.setColumnCount(len(names))
        self.confusion.setHorizontalHeaderLabels(names)
        self.confusion.setVerticalHeaderLabels(names)
        totals = matrix.sum(axis=1)
        for i in range(len(names)):
            for j in range(len(names)):
                count = int(matrix[i, j])
                share = count / totals[i] if totals[i] else 0.0
                item = QTableWidgetItem(str(count) if count else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setBackground(heat_colour(share))
                item.setForeground(QColor("#ffffff" if share > 0.45 else "#c9ced6"))
                item.setToolTip(f"true {names[i]}, predicted {names[j]}: {count} ({share:.0%} of {names[i]})")
                self.confusion.setItem(i, j, item)

    def _show_scatter(self, evaluation) -> None:
        true = np.asarray(evaluation.targets, dtype=np.float64).reshape(len(evaluation.targets), -1)[:, 0]
        predicted = np.asarray(evaluation.predictions, dtype=np.float64).reshape(len(true), -1)[:, 0]
        self.points.setData(true, predicted)
        low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
        self.identity.setData([low, high], [low, high])
