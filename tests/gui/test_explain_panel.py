"""The explanations in the editor: palette tooltips, the inspector's "About" section with its live plot,
and the Training panel's optimiser and schedule tooltips."""

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QComboBox

from graphs.catalogue import CATALOGUE
from graphs.explanations import explain
from gui.explain_panel import EXPANDED_KEY, explain_choices
from gui.palette import Palette

PLOT_TIMEOUT_MS = 60_000  # the first plot imports torch in the background


def select(window, node_id):
    window.scene.select_nodes([node_id])
    QApplication.processEvents()
    return window.inspector


def test_every_palette_tooltip_carries_the_explanation(qtbot):
    palette = Palette()
    qtbot.addWidget(palette)
    for name in CATALOGUE:
        tip = palette.item(name).toolTip(0)
        explanation = explain(name)
        assert "Formula:" in tip and "Common mistake:" in tip, name
        assert explanation.when.split(" ")[0] in tip
    assert "max(0, x)" in palette.item("ReLU").toolTip(0)


def test_inspector_explains_the_selected_type(cnn_window):
    inspector = select(cnn_window, "conv")
    about = inspector.about
    assert about.isVisible() and about.toggle.text() == "About Conv2d"
    assert "When to use:" in about.text.text()
    assert about.plot is None or not about.plot.isVisible()  # a convolution has no function plot
    select(cnn_window, "loss")
    assert about.toggle.text() == "About CrossEntropyLoss"
    cnn_window.scene.select_nodes([])
    QApplication.processEvents()
    assert not about.isVisible()


def test_leaky_relu_plot_uses_the_nodes_slope_and_follows_undo(window, qtbot):
    from graphs.project import Project

    project = Project(name="act")
    project.graph.add_node("Input", {"shape": [4]}, "x", (0, 0))
    project.graph.add_node("LeakyReLU", {"negative_slope": 0.1}, "act", (200, 0))
    project.graph.connect("x", "act")
    window._set_project(project)
    window.document.flush()
    about = select(window, "act").about
    qtbot.waitUntil(lambda: about.curves is not None, timeout=PLOT_TIMEOUT_MS)
    assert np.interp(-2.0, about.curves.x, about.curves.y) == pytest.approx(-0.2)
    assert about.plot.isVisible() and len(about.plot.getPlotItem().listDataItems()) == 2  # f and f'

    window.document.set_param("act", "negative_slope", 0.5)
    qtbot.waitUntil(lambda: np.interp(-2.0, about.curves.x, about.curves.y) == pytest.approx(-1.0),
                    timeout=PLOT_TIMEOUT_MS)
    assert np.interp(-2.0, about.curves.x, about.curves.dy) == pytest.approx(0.5)
    window.document.undo_stack.undo()
    qtbot.waitUntil(lambda: np.interp(-2.0, about.curves.x, about.curves.y) == pytest.approx(-0.2),
                    timeout=PLOT_TIMEOUT_MS)


def test_loss_plot_and_a_type_without_one(window, qtbot):
    from graphs.project import Project

    project = Project(name="losses")
    project.graph.add_node("Input", {"shape": [3]}, "x", (0, 0))
    project.graph.add_node("HuberLoss", {"delta": 0.5}, "huber", (200, 0))
    project.graph.add_node("GLU", {}, "glu", (200, 200))
    project.graph.connect("x", "huber", target_port="input")
    project.graph.connect("x", "glu")
    window._set_project(project)
    window.document.flush()
    about = select(window, "huber").about
    qtbot.waitUntil(lambda: about.curves is not None, timeout=PLOT_TIMEOUT_MS)
    assert about.curves.y_label == "loss"
    assert np.interp(2.0, about.curves.x, about.curves.y) == pytest.approx(0.5 * (2.0 - 0.25))
    select(window, "glu")
    qtbot.waitUntil(lambda: "no plot" in about.plot_state.text(), timeout=PLOT_TIMEOUT_MS)
    assert not about.plot.isVisible() and about.curves is None


def test_the_section_folds_and_remembers_it(cnn_window):
    about = select(cnn_window, "conv").about
    about.toggle.click()
    assert not about.expanded and not about.body.isVisible()
    assert QSettings().value(EXPANDED_KEY, type=bool) is False
    about.toggle.click()
    assert about.body.isVisible() and QSettings().value(EXPANDED_KEY, type=bool) is True


def test_optimizer_and_schedule_choosers_explain_each_choice(qtbot):
    optimizer, schedule = QComboBox(), QComboBox()
    qtbot.addWidget(optimizer)
    optimizer.addItems(["SGD", "Adam", "AdamW", "RMSprop"])
    for kind, title in ((None, "none"), ("step", "step"), ("cosine", "cosine"), ("one-cycle", "one-cycle")):
        schedule.addItem(title, kind)
    explain_choices(optimizer, schedule)
    for combo in (optimizer, schedule):
        tips = [combo.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(combo.count())]
        assert all(tip and "Formula:" in tip for tip in tips), tips
    assert "momentum" in optimizer.itemData(0, Qt.ItemDataRole.ToolTipRole)
    optimizer.setCurrentIndex(1)
    assert "Adapts a step size" in optimizer.toolTip()
    schedule.setCurrentIndex(2)
    assert "cosine" in schedule.toolTip()


def test_the_training_panel_uses_them(window, qtbot):
    from gui.workbench import install

    bench = install(window)
    bench.show_dock("training")
    panel = bench.training_panel
    qtbot.waitUntil(lambda: panel.optimizer.count() > 0, timeout=PLOT_TIMEOUT_MS)
    assert "Formula:" in panel.optimizer.toolTip()
    for index in range(panel.schedule.count()):
        assert "Formula:" in panel.schedule.itemData(index, Qt.ItemDataRole.ToolTipRole)
    bench.tasks.wait()
