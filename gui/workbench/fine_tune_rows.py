"""The Training panel's fine-tuning and cross-validation rows.

"Initial weights" picks a .safetensors file to start from (`"init_from"`,
stored relative to the project's folder when the file is inside it, as data
paths are) and clears it; "Frozen BatchNorm" is `"freeze_batchnorm"`;
"Cross-validation" is `"folds"` (off, or 2 folds and more). The panel turns
each change into one undoable SetTraining step; these rows only read and
write their keys of the settings dict.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QSpinBox, QWidget

from engine.training.config import MAX_FOLDS  # torch-free (engine.training loads lazily)


class FineTuneRows(QObject):
    """The widgets and their mapping to `init_from`, `freeze_batchnorm` and `folds`."""

    edited = Signal(str, str)  # undo text, merge field ("" for none)

    def __init__(self, base_dir, has_path, parent: QWidget | None = None):
        """`base_dir()` is the project's folder; `has_path()` whether the project was saved (else paths stay
        absolute)."""
        super().__init__(parent)
        self._base_dir, self._has_path = base_dir, has_path
        self.init_path = QLineEdit()
        self.init_path.setObjectName("initFromPath")
        self.init_path.setReadOnly(True)
        self.init_path.setPlaceholderText("none: the layers' own random initialisation")
        self.init_path.setToolTip("Start training from these weights (e.g. an earlier run's weights.safetensors or "
                                  "an import's): every tensor whose node id and shape match is loaded; the run's "
                                  "notes say what was kept random and why")
        self.choose = QPushButton("Choose…")
        self.choose.setObjectName("initFromChoose")
        self.clear = QPushButton("Clear")
        self.clear.setObjectName("initFromClear")
        self.init_row = QWidget()
        layout = QHBoxLayout(self.init_row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.init_path, 1)
        layout.addWidget(self.choose)
        layout.addWidget(self.clear)
        self.freeze_batchnorm = QCheckBox("Frozen BatchNorm keeps its stats")
        self.freeze_batchnorm.setObjectName("freezeBatchnorm")
        self.freeze_batchnorm.setToolTip("BatchNorm in a frozen node stays in evaluation mode while the rest trains")
        self.folds = QSpinBox()
        self.folds.setObjectName("foldsSpin")
        self.folds.setRange(1, MAX_FOLDS)
        self.folds.setSpecialValueText("off (one run, validation split)")
        self.folds.setSuffix(" folds")
        self.folds.setKeyboardTracking(False)
        self.folds.setToolTip("K-fold cross-validation: train K models on a seeded stratified split, each "
                              "validating on its own fold; the Runs list shows the K curves, the run folder "
                              "each fold's metric and their mean ± standard deviation")
        self.editors = (self.choose, self.clear, self.freeze_batchnorm, self.folds)
        self.choose.clicked.connect(self.choose_file)
        self.clear.clicked.connect(lambda: self._set_path("", "Clear initial weights"))
        self.freeze_batchnorm.toggled.connect(lambda _on: self.edited.emit("Set frozen BatchNorm", ""))
        self.folds.valueChanged.connect(lambda _v: self.edited.emit("Set cross-validation folds", "folds"))

    def show(self, training: dict) -> None:
        """Widgets from the settings (signals blocked by the caller)."""
        self.init_path.setText(str(training.get("init_from") or ""))
        self.clear.setEnabled(bool(training.get("init_from")))
        self.freeze_batchnorm.setChecked(training.get("freeze_batchnorm", True) is not False)
        folds = training.get("folds")
        self.folds.setValue(folds if isinstance(folds, int) and not isinstance(folds, bool) else 1)

    def apply(self, training: dict) -> dict:
        """`training` with these rows' keys set from the widgets (defaults left out of the file)."""
        path = self.init_path.text().strip()
        training["init_from"] = path or None
        training["freeze_batchnorm"] = self.freeze_batchnorm.isChecked()
        training["folds"] = self.folds.value() if self.folds.value() >= 2 else None
        for key, unset in (("init_from", None), ("freeze_batchnorm", True), ("folds", None)):
            if training[key] == unset:
                del training[key]
        return training

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.init_row, "Choose initial weights", str(self._base_dir()),
                                              "Weights (*.safetensors);;All files (*)")
        if path:
            self._set_path(self.stored(Path(path)), "Set initial weights")

    def stored(self, path: Path) -> str:
        """`path` relative to the project's folder when it lies inside it (the project can move), else absolute."""
        base = Path(self._base_dir()).resolve()
        path = path.resolve()
        if self._has_path() and path.is_relative_to(base):
            return os.path.relpath(path, base)
        return str(path)

    def _set_path(self, text: str, undo_text: str) -> None:
        self.init_path.setText(text)
        self.clear.setEnabled(bool(text))
        self.edited.emit(undo_text, "")
