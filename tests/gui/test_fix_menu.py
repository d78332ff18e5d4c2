"""One-click fixes in the editor: the lightbulb badge, its menu, the context menu and the inspector's
Fix button; choosing a fix is one undo step."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtWidgets import QApplication

from gui.fix_menu import apply_fix, fixes_for_node
from tests.gui.test_gui_inspector import select


def break_flatten(window):
    """Take the Flatten out of the small CNN (one undo step): the loss gets a [C, H, 10] input."""
    doc = window.document
    doc.remove(["flat"])
    doc.connect("act", "out", "fc", "in")
    doc.flush()
    QApplication.processEvents()  # the marker looks for fixes on the next turn of the loop
    assert doc.result.errors_for("loss")


def choose(title_part: str, seen: list):
    def pick():
        menu = QApplication.activePopupWidget()
        actions = [a for a in menu.actions() if title_part in a.text()]
        seen.append([a.text() for a in menu.actions()])
        menu.close()
        actions[0].trigger()
    return pick


def test_a_fixable_error_shows_the_lightbulb_and_a_fix_is_one_undo_step(cnn_window, qtbot):
    doc = cnn_window.document
    break_flatten(cnn_window)
    loss = cnn_window.scene.node_item("loss")
    assert loss.fixable and not cnn_window.scene.node_item("fc").fixable
    before = doc.graph.snapshot()
    steps = doc.undo_stack.count()
    (fix,) = fixes_for_node(doc, "loss")
    assert fix.title == "Insert Flatten before Linear 'fc'"
    assert apply_fix(doc, fix)
    doc.flush()
    QApplication.processEvents()
    assert doc.result.valid and doc.undo_stack.count() == steps + 1
    assert doc.undo_stack.text(steps) == "Fix: Insert Flatten before Linear 'fc'"
    assert not loss.fixable and not loss.errors
    doc.undo_stack.undo()
    doc.flush()
    assert doc.graph.snapshot() == before and doc.result.errors_for("loss")
    QApplication.processEvents()
    assert loss.fixable  # the lightbulb is back with the error
    doc.undo_stack.redo()
    assert doc.flush().valid


def test_clicking_the_lightbulb_opens_the_menu_of_fixes(cnn_window, qtbot):
    doc = cnn_window.document
    break_flatten(cnn_window)
    item = cnn_window.scene.node_item("loss")
    cnn_window.view.centerOn(item)
    seen = []
    QTimer.singleShot(100, choose("Flatten", seen))
    spot = cnn_window.view.mapFromScene(item.mapToScene(item._lightbulb_centre()))
    qtbot.mouseClick(cnn_window.view.viewport(), Qt.MouseButton.LeftButton, pos=spot)
    assert seen == [["Insert Flatten before Linear 'fc'"]]
    assert doc.flush().valid


def test_the_context_menu_lists_the_fixes(cnn_window):
    break_flatten(cnn_window)

    class Event:
        def screenPos(self):
            return QPoint(100, 100)

    seen = []
    QTimer.singleShot(100, choose("Flatten", seen))
    cnn_window.scene.select_nodes(["loss"])
    cnn_window._context_menu(cnn_window.scene.node_item("loss"), Event())
    assert "Insert Flatten before Linear 'fc'" in seen[0]
    assert cnn_window.document.flush().valid


def test_the_inspector_offers_the_fixes_of_the_selected_node(cnn_window):
    inspector = select(cnn_window, "fc")
    assert inspector.fix_button.isHidden()
    break_flatten(cnn_window)
    inspector = select(cnn_window, "loss")
    assert not inspector.fix_button.isHidden()
    (action,) = inspector.fix_button.menu().actions()
    action.trigger()
    assert cnn_window.document.flush().valid
    QApplication.processEvents()
    assert inspector.fix_button.isHidden()


def test_the_lightbulb_is_not_drawn_where_no_fix_exists(cnn_window):
    doc = cnn_window.document
    doc.set_param("x", "shape", [1, 8])  # a 2-D image into Conv2d: no suggested fix
    doc.flush()
    QApplication.processEvents()
    item = cnn_window.scene.node_item("conv")
    assert item.errors and not item.fixable
    assert not item.on_lightbulb(QPointF(item._lightbulb_centre()))


def test_a_fix_that_no_longer_applies_changes_nothing(cnn_window):
    doc = cnn_window.document
    break_flatten(cnn_window)
    (fix,) = fixes_for_node(doc, "loss")
    doc.disconnect([e for e in doc.graph.edges() if e.target == "fc"])  # the wire the fix would cut is gone
    before, steps = doc.graph.snapshot(), doc.undo_stack.count()
    messages = []
    doc.message.connect(messages.append)
    assert not apply_fix(doc, fix)
    assert doc.graph.snapshot() == before and doc.undo_stack.count() == steps
    assert messages and "no longer applies" in messages[-1]
