"""Freezing nodes and their lr multiplier in the GUI: inspector, context menu, canvas badge, undo."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from gui.training_options import freeze_action
from tests.gui.test_gui_inspector import select, type_into


def test_the_inspector_freezes_a_node_as_one_undoable_step(cnn_window):
    doc = cnn_window.document
    inspector = select(cnn_window, "conv")
    row = inspector.training_row
    assert row is not None and row.trainable.isChecked()
    steps = doc.undo_stack.count()
    row.trainable.click()
    assert doc.graph.node("conv").trainable is False and doc.undo_stack.count() == steps + 1
    assert cnn_window.scene.node_item("conv").frozen
    assert not row.lr_mult.isEnabled()  # a frozen node does not train at any rate
    doc.undo_stack.undo()
    assert doc.graph.node("conv").trainable is True and row.trainable.isChecked()
    assert not cnn_window.scene.node_item("conv").frozen
    doc.undo_stack.redo()
    assert not row.trainable.isChecked()


def test_the_lr_multiplier_is_typed_in_and_shown_on_the_node(cnn_window):
    doc = cnn_window.document
    row = select(cnn_window, "fc").training_row
    steps = doc.undo_stack.count()
    type_into(row.lr_mult, "0.1")
    assert doc.graph.node("fc").lr_mult == 0.1 and doc.undo_stack.count() == steps + 1
    assert ("lr_mult", "×0.1") in cnn_window.scene.node_item("fc").key_params
    doc.undo_stack.undo()
    assert doc.graph.node("fc").lr_mult == 1.0 and row.lr_mult.value() == 1.0
    assert all(name != "lr_mult" for name, _ in cnn_window.scene.node_item("fc").key_params)


def test_nodes_without_weights_have_no_training_row(cnn_window):
    assert select(cnn_window, "act").training_row is None
    assert select(cnn_window, "x").training_row is None


def test_the_context_menu_action_freezes_every_selected_node_in_one_step(cnn_window):
    doc = cnn_window.document
    cnn_window.scene.select_nodes(["conv", "fc"])
    QApplication.processEvents()
    action = freeze_action(doc, ["conv", "fc"], cnn_window)
    assert not action.isChecked()
    steps = doc.undo_stack.count()
    action.trigger()
    assert not doc.graph.node("conv").trainable and not doc.graph.node("fc").trainable
    assert doc.undo_stack.count() == steps + 1 and doc.undo_stack.undoText() == "Freeze 2 nodes"
    assert freeze_action(doc, ["conv", "fc"], cnn_window).isChecked()
    doc.undo_stack.undo()
    assert doc.graph.node("conv").trainable and doc.graph.node("fc").trainable


def test_deleting_a_frozen_node_and_undoing_brings_it_back_frozen(cnn_window):
    doc = cnn_window.document
    doc.set_training_options(["conv"], trainable=False, lr_mult=0.5)
    doc.remove(["conv"])
    doc.undo_stack.undo()
    node = doc.graph.node("conv")
    assert (node.trainable, node.lr_mult) == (False, 0.5)
    assert cnn_window.scene.node_item("conv").frozen


def test_renaming_and_pasting_keep_a_node_frozen(cnn_window):
    doc = cnn_window.document
    doc.set_training_options(["conv"], trainable=False, lr_mult=0.5)
    assert doc.rename_node("conv", "features")
    node = doc.graph.node("features")
    assert (node.trainable, node.lr_mult) == (False, 0.5)
    doc.undo_stack.undo()
    assert doc.graph.node("conv").trainable is False
    cnn_window.scene.select_nodes(["conv"])
    QApplication.processEvents()
    cnn_window.act.duplicate.trigger()
    copies = [n for n in doc.graph.nodes() if n.type == "Conv2d" and n.id != "conv"]
    assert len(copies) == 1 and (copies[0].trainable, copies[0].lr_mult) == (False, 0.5)



def test_the_canvas_context_menu_of_a_node_offers_freeze(cnn_window):
    from PySide6.QtCore import QPoint, QTimer

    offered = []

    def choose_freeze():
        menu = QApplication.activePopupWidget()
        freeze = [a for a in menu.actions() if a.text() == "Freeze weights"]
        offered.append([a.isChecked() for a in freeze])
        menu.close()
        freeze[0].trigger()

    class Event:
        def screenPos(self):
            return QPoint(100, 100)

    cnn_window.scene.select_nodes(["conv"])
    QTimer.singleShot(100, choose_freeze)
    cnn_window._context_menu(cnn_window.scene.node_item("conv"), Event())
    assert offered == [[False]]
    assert cnn_window.document.graph.node("conv").trainable is False
