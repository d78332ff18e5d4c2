"""Framing: a project opens with its whole graph in view, and stays in view when the canvas
loses space (the run's docks appear) until the user zooms or pans by hand."""

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from gui import files
from gui.canvas.view import FIT_MAX_ZOOM


def hidden_nodes(window) -> list[str]:
    """Ids of the nodes not wholly inside the visible part of the canvas."""
    view = window.view
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    return [item.node_id for item in window.scene.node_items() if not visible.contains(item.sceneBoundingRect())]


def settle(qtbot) -> None:
    qtbot.wait(20)
    QApplication.processEvents()


def test_first_start_example_is_framed_at_1440x900(window, qtbot):
    window.resize(1440, 900)
    window.open_initial()
    settle(qtbot)
    assert window.document.project.name and len(window.document.graph) > 5
    assert hidden_nodes(window) == []
    assert window.view.zoom <= FIT_MAX_ZOOM


@pytest.mark.parametrize("path", files.example_paths(), ids=lambda p: p.stem)
def test_each_example_opens_framed(window, qtbot, path):
    assert window.open_example(path)
    settle(qtbot)
    assert hidden_nodes(window) == []


def test_a_small_graph_is_not_magnified(window, qtbot):
    window.document.add_node("Linear", (0, 0))
    window.view.fit()
    assert window.view.zoom == FIT_MAX_ZOOM
    assert hidden_nodes(window) == []


def run_docks_appear(window, qtbot) -> None:
    """What starting the first run does to the layout: the Curves and Evaluation docks take 45%."""
    bench = window.workbench
    bench.show_dock("curves")
    bench.show_dock("evaluation")
    bench._make_room()
    settle(qtbot)


def test_canvas_reframes_when_run_docks_take_its_height(window, qtbot, example):
    window.resize(1440, 900)
    window.open_example(example("digits_cnn"))
    settle(qtbot)
    before = window.view.viewport().height()
    run_docks_appear(window, qtbot)
    assert window.view.viewport().height() < 0.75 * before  # the case in the issue: a big loss
    assert hidden_nodes(window) == []
    window.resize(700, 500)  # and any other shrink
    settle(qtbot)
    assert hidden_nodes(window) == []


def test_zoom_by_hand_is_kept_when_the_view_shrinks(cnn_window, qtbot):
    w = cnn_window
    view = w.view
    view.fit()
    fitted = view.zoom
    centre = view.viewport().rect().center()
    wheel = QWheelEvent(QPointF(centre), QPointF(view.viewport().mapToGlobal(centre)), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), wheel)
    zoom = view.zoom
    assert not view.auto_fit and zoom > fitted * 1.2
    middle = view.mapToScene(view.viewport().rect().center())
    w.resize(w.width(), w.height() - 250)
    settle(qtbot)
    assert view.zoom == zoom  # the view does not move under the user
    after = view.mapToScene(view.viewport().rect().center())
    assert abs(after.x() - middle.x()) < 2 / zoom and abs(after.y() - middle.y()) < 2 / zoom
    view.frame_all()  # F frames again, and the view follows resizes again
    w.resize(w.width(), w.height() + 250)
    settle(qtbot)
    assert view.auto_fit and hidden_nodes(w) == []


def test_new_project_resets_the_view(cnn_window, qtbot):
    w = cnn_window
    w.view.zoom_by(2.5)
    w.view.centerOn(QPointF(5000, 5000))
    assert w.new_project()
    settle(qtbot)
    assert w.view.zoom == 1.0
    centre = w.view.mapToScene(w.view.viewport().rect().center())
    assert abs(centre.x()) < 2 and abs(centre.y()) < 2
