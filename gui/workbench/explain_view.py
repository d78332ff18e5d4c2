"""The Evaluation panel's Explain and Embedding tabs (engine.explain), computed off the GUI thread.

Explain: choose a validation sample (misclassified first, as in the Samples tab), a method
(saliency, Integrated Gradients, Grad-CAM with its layer) and see the heat map blended over the
sample beside it; choose a node (or select it on the canvas) to see its feature maps for that sample.
Embedding: the penultimate layer's outputs on the validation split in 2-D (PCA or t-SNE), one
colour per class, misclassified samples drawn as crosses.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from graphs.errors import printable
from gui.workbench.views import image_pixmap

METHODS = [("saliency", "Saliency"), ("integrated_gradients", "Integrated Gradients"), ("gradcam", "Grad-CAM")]
PICTURE = 200  # pixels a side for the sample and its overlay
PALETTE = ["#4f8fd6", "#f0b35a", "#6cc070", "#e0605a", "#a47bd6", "#56c2c8", "#d67bb3", "#b5b35a", "#8a8f99", "#e08a3d"]


def _picture_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setFixedSize(PICTURE, PICTURE)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("background: #16181b;")
    return label


class ExplainView(QWidget):
    """Explains one sample of an `EvaluationReport` with `tasks` (a TaskRunner) doing the work."""

    def __init__(self, tasks, parent: QWidget | None = None):
        super().__init__(parent)
        self.tasks, self.report = tasks, None
        self.sample = QComboBox()
        self.sample.setObjectName("explainSample")
        self.method = QComboBox()
        self.method.setObjectName("explainMethod")
        for key, title in METHODS:
            self.method.addItem(title, key)
        self.layer = QComboBox()
        self.layer.setObjectName("explainLayer")
        self.layer.setToolTip("Grad-CAM's layer: a convolution (by default the last one)")
        self.node = QComboBox()
        self.node.setObjectName("featureNode")
        self.node.setToolTip("The node whose activations for this sample are shown (or select it on the canvas)")
        self.status = QLabel()
        self.status.setObjectName("mutedLabel")
        self.status.setWordWrap(True)
        self.original, self.overlay, self.features = (
            _picture_label("explainSamplePicture"), _picture_label("explainOverlay"), _picture_label("featureMaps"))
        self.features.setFixedSize(PICTURE + 60, PICTURE + 60)
        form = QFormLayout()
        form.addRow("Sample", self.sample)
        form.addRow("Method", self.method)
        form.addRow("Grad-CAM layer", self.layer)
        form.addRow("Feature maps of", self.node)
        pictures = QHBoxLayout()
        for title, label in (("sample", self.original), ("explanation", self.overlay), ("feature maps", self.features)):
            column = QVBoxLayout()
            caption = QLabel(title)
            caption.setObjectName("mutedLabel")
            column.addWidget(caption)
            column.addWidget(label)
            column.addStretch(1)
            pictures.addLayout(column)
        pictures.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(pictures)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.method.setCurrentIndex(max(0, self.method.findData(QSettings().value("explain/method", "saliency"))))
        self.sample.currentIndexChanged.connect(self.refresh)
        self.method.currentIndexChanged.connect(self._method_changed)
        self.layer.currentIndexChanged.connect(self.explain)
        self.node.currentIndexChanged.connect(self.show_features)

    def set_report(self, report) -> None:
        """Show `report`'s samples (an image classification with its model), or nothing."""
        from engine import explain

        self.report = report if report is not None and report.inputs is not None else None
        for combo in (self.sample, self.layer, self.node):
            combo.blockSignals(True)
            combo.clear()
        if self.report is not None:
            for i, caption in enumerate(self.report.captions):
                self.sample.addItem(f"{i + 1}: {printable(caption)}")
            layers = explain.conv_layers(self.report.compiled)
            for name in layers:
                self.layer.addItem(printable(name), name)
            self.layer.setCurrentIndex(len(layers) - 1)
            for name in explain.node_names(self.report.compiled):
                self.node.addItem(printable(name), name)
            self.node.setCurrentIndex(max(0, self.node.findData(layers[-1] if layers else None)))
        for combo in (self.sample, self.layer, self.node):
            combo.blockSignals(False)
        self.layer.setEnabled(self.method.currentData() == "gradcam" and self.layer.count() > 0)
        self.original.clear()
        self.overlay.clear()
        self.features.clear()
        self.status.setText("" if self.report else "Explaining needs an image classifier's evaluation.")
        if self.report is not None:
            self.refresh()

    def follow_selection(self, scene) -> None:
        """Show the feature maps of the node selected alone on `scene` (the canvas)."""
        self._scene = scene
        scene.selectionChanged.connect(self._canvas_selection)

    def _canvas_selection(self) -> None:
        if not shiboken6.isValid(self._scene):  # the canvas emits while it is being destroyed
            return
        ids = self._scene.selected_node_ids()
        if len(ids) == 1:
            self.select_node(ids[0])

    def select_node(self, node_id: str) -> None:
        """Show `node_id`'s feature maps (the canvas selection calls this)."""
        index = self.node.findData(node_id)
        if index >= 0:
            self.node.setCurrentIndex(index)

    def _method_changed(self) -> None:
        QSettings().setValue("explain/method", self.method.currentData())
        self.layer.setEnabled(self.method.currentData() == "gradcam" and self.layer.count() > 0)
        self.explain()

    def refresh(self) -> None:
        if self.report is None or self.sample.currentIndex() < 0:
            return
        self.original.setPixmap(image_pixmap(self._image(), PICTURE))
        self.explain()
        self.show_features()

    def _image(self) -> np.ndarray:
        image = np.asarray(self.report.images[self.sample.currentIndex()], dtype=np.float32)
        return image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image

    def explain(self) -> None:
        if self.report is None or self.sample.currentIndex() < 0:
            return
        from engine import explain

        report, index, method = self.report, self.sample.currentIndex(), self.method.currentData()
        layer = self.layer.currentData() if method == "gradcam" else None
        image = self._image()
        self.status.setText(f"Computing {self.method.currentText()}…")

        def work():
            maps, _ = explain.attribute(report.compiled, report.inputs[index:index + 1], method, layer)
            return explain.overlay((image * 255).astype(np.uint8), maps[0]) / 255.0

        def done(picture) -> None:
            if report is self.report and index == self.sample.currentIndex() and method == self.method.currentData():
                self.overlay.setPixmap(image_pixmap(picture, PICTURE))
                self.status.setText(f"{self.method.currentText()}: the brighter, the more the pixel "
                                    "drove the predicted class.")

        self.tasks.submit(work, done, self._failed)

    def show_features(self) -> None:
        if self.report is None or self.sample.currentIndex() < 0 or self.node.currentIndex() < 0:
            return
        from engine import explain

        report, index, node = self.report, self.sample.currentIndex(), self.node.currentData()

        def work():
            grid = explain.feature_grid(explain.activations(report.compiled, report.inputs[index], node))
            return explain.colour(grid) / 255.0

        def done(picture) -> None:
            if report is self.report and node == self.node.currentData():
                self.features.setPixmap(image_pixmap(picture, PICTURE + 60))
                self.features.setToolTip(f"activations of {printable(node)} for sample {index + 1}")

        self.tasks.submit(work, done, self._failed)

    def _failed(self, error: BaseException) -> None:
        self.status.setText(f"Could not explain: {printable(str(error))}")


class EmbeddingView(QWidget):
    """The penultimate layer's outputs on the validation split in 2-D, coloured by class."""

    def __init__(self, tasks, parent: QWidget | None = None):
        super().__init__(parent)
        self.tasks, self.report, self.result = tasks, None, None
        self.projection = QComboBox()
        self.projection.setObjectName("embeddingProjection")
        self.projection.addItem("PCA", "pca")
        self.projection.addItem("t-SNE", "tsne")
        self.compute = QPushButton("Project")
        self.compute.setObjectName("embeddingCompute")
        self.compute.clicked.connect(self.project)
        self.status = QLabel("Evaluate an image or table classifier, then project its features.")
        self.status.setObjectName("mutedLabel")
        self.status.setWordWrap(True)
        self.plot = pg.PlotWidget(background="#1d1f23")
        self.plot.addLegend(offset=(5, 5))
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        top = QHBoxLayout()
        top.addWidget(QLabel("Projection"))
        top.addWidget(self.projection)
        top.addWidget(self.compute)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 1)

    def set_report(self, report) -> None:
        self.report = report if report is not None and report.compiled is not None else None
        self.result = None
        self.plot.clear()
        self.compute.setEnabled(self.report is not None and self.report.task == "classification")

    def project(self) -> None:
        if self.report is None:
            return
        from engine import explain

        report, method = self.report, self.projection.currentData()
        self.compute.setEnabled(False)
        self.status.setText(f"Projecting the validation split's features with {self.projection.currentText()}…")

        def done(result) -> None:
            self.compute.setEnabled(True)
            if report is self.report:
                self.show_embedding(result)

        def failed(error: BaseException) -> None:
            self.compute.setEnabled(True)
            self.status.setText(f"Could not project: {printable(str(error))}")

        self.tasks.submit(lambda: explain.embedding(report.compiled, report.dataset, method), done, failed)

    def show_embedding(self, result) -> None:
        self.result = result
        self.plot.clear()
        for c, name in enumerate(result.class_names):
            colour = PALETTE[c % len(PALETTE)]
            mine = result.labels == c
            for wrong, symbol in ((False, "o"), (True, "x")):
                chosen = mine & (result.wrong == wrong)
                if chosen.any():
                    self.plot.addItem(pg.ScatterPlotItem(
                        result.points[chosen, 0], result.points[chosen, 1], size=12 if wrong else 6, symbol=symbol,
                        pen=pg.mkPen(colour, width=2) if wrong else None, brush=pg.mkBrush(colour),
                        name=None if wrong else printable(str(name))))
        self.status.setText(f"{len(result.points):,} validation samples: the outputs of "
                            f"{printable(result.layer)} by {result.method.upper()}; "
                            f"{int(result.wrong.sum()):,} misclassified, drawn as crosses.")
