"""The inspector's fine-tuning rows for one node: "trainable" (freeze its weights) and its lr multiplier.

Each change is one undoable `SetTrainingOptions` step through
`DocumentController.set_training_options`; the widgets follow the document
(undo, redo, the canvas's context menu), so they never hold state of their own.
Also `freeze_action`, the canvas context menu's "Freeze weights" toggle for the
selected nodes.
"""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from graphs.document import MAX_LR_MULT
from graphs.errors import GraphError
from gui.document import DocumentController


class NodeTrainingEditor(QWidget):
    """A "trainable" check box and an "lr ×" spin box for node `node_id`."""

    def __init__(self, controller: DocumentController, node_id: str, parent=None):
        super().__init__(parent)
        self.controller, self.node_id = controller, node_id
        self.trainable = QCheckBox("trainable")
        self.trainable.setObjectName("trainableCheck")
        self.trainable.setToolTip("Unchecked, the node is frozen: its weights get no gradient and no optimiser "
                                  "state, and its BatchNorm statistics stay as they are (the freeze_batchnorm "
                                  "training setting). Saved on the node as \"trainable\": false.")
        self.lr_mult = QDoubleSpinBox()
        self.lr_mult.setObjectName("lrMultSpin")
        self.lr_mult.setRange(0.0, MAX_LR_MULT)
        self.lr_mult.setDecimals(4)
        self.lr_mult.setSingleStep(0.1)
        self.lr_mult.setKeyboardTracking(False)  # one edit per typed value, not per keystroke
        self.lr_mult.setToolTip("Learning-rate multiplier: this node's weights train at the optimiser's lr times "
                                "this (e.g. 0.1 for early layers when fine-tuning). Saved as \"lr_mult\".")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.trainable)
        layout.addSpacing(8)
        layout.addWidget(QLabel("lr ×"))
        layout.addWidget(self.lr_mult, 1)
        self.refresh()
        self.trainable.toggled.connect(self._set_trainable)
        self.lr_mult.valueChanged.connect(self._set_lr_mult)
        controller.trainingOptionsChanged.connect(self._on_changed)

    def refresh(self) -> None:
        if not self.controller.scope_graph.has_node(self.node_id):
            return
        node = self.controller.scope_graph.node(self.node_id)
        for widget, setter, value in ((self.trainable, self.trainable.setChecked, node.trainable),
                                      (self.lr_mult, self.lr_mult.setValue, node.lr_mult)):
            widget.blockSignals(True)
            setter(value)
            widget.blockSignals(False)
        self.lr_mult.setEnabled(node.trainable)

    def _on_changed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self.refresh()

    def _set_trainable(self, checked: bool) -> None:
        self._apply(trainable=checked)

    def _set_lr_mult(self, value: float) -> None:
        self._apply(lr_mult=value)

    def _apply(self, **options) -> None:
        try:
            self.controller.set_training_options([self.node_id], **options)
        except GraphError:
            self.refresh()  # the document said why in the status bar and stayed as it was


def freeze_action(controller: DocumentController, node_ids: list[str], parent) -> QAction:
    """"Freeze weights", checked when every one of `node_ids` is frozen; toggling it is one undo step."""
    nodes = [controller.scope_graph.node(n) for n in node_ids if controller.scope_graph.has_node(n)]
    action = QAction("Freeze weights", parent)
    action.setObjectName("freezeAction")
    action.setCheckable(True)
    action.setChecked(bool(nodes) and all(not node.trainable for node in nodes))
    action.setEnabled(bool(nodes))
    action.setToolTip("Frozen nodes keep their weights while the rest trains (fine-tuning)")
    action.toggled.connect(lambda frozen: controller.set_training_options([n.id for n in nodes], trainable=not frozen))
    return action
