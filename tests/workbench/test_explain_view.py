"""The Evaluation panel's Explain and Embedding tabs: overlays, feature maps and the 2-D embedding,
computed off the GUI thread for the selected sample."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CNN = ROOT / "resources/examples/digits_cnn.json"
TIMEOUT_MS = 60_000


@pytest.fixture
def panel(qtbot, tmp_path):
    from engine.evaluation import evaluate_weights
    from engine.export import prepare_model
    from engine.weights import save_weights
    from graphs.project import load_project
    from gui.workbench.evaluation_panel import EvaluationPanel
    from gui.workbench.tasks import TaskRunner

    project = load_project(CNN)
    weights = save_weights(prepare_model(project.graph).model, tmp_path / "cnn.safetensors")
    report = evaluate_weights(project, weights, "test weights", max_images=6)
    tasks = TaskRunner()
    widget = EvaluationPanel(tasks=tasks)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    widget.show_report(report)
    yield widget
    tasks.wait()


def test_a_sample_is_explained_by_each_method_beside_it(panel, qtbot):
    view = panel.explain_view
    assert panel.tabs.isTabVisible(panel.explain_tab) and panel.tabs.isTabVisible(panel.embedding_tab)
    assert view.sample.count() == 6 and view.layer.currentData() == "conv1"
    assert not view.original.pixmap().isNull()
    qtbot.waitUntil(lambda: not view.overlay.pixmap().isNull(), timeout=TIMEOUT_MS)
    saliency = view.overlay.pixmap().toImage()
    view.method.setCurrentIndex(view.method.findData("gradcam"))
    assert view.layer.isEnabled()
    qtbot.waitUntil(lambda: view.overlay.pixmap().toImage() != saliency, timeout=TIMEOUT_MS)
    assert "Grad-CAM" in view.status.text()


def test_choosing_a_node_shows_its_feature_maps(panel, qtbot):
    view = panel.explain_view
    qtbot.waitUntil(lambda: not view.features.pixmap().isNull(), timeout=TIMEOUT_MS)
    assert "conv1" in view.features.toolTip()
    view.select_node("act1")
    qtbot.waitUntil(lambda: "act1" in view.features.toolTip(), timeout=TIMEOUT_MS)
    view.select_node("not a node")  # ignored
    assert view.node.currentData() == "act1"


def test_the_embedding_tab_projects_the_validation_split(panel, qtbot):
    view = panel.embedding_view
    assert view.compute.isEnabled()
    view.compute.click()
    qtbot.waitUntil(lambda: view.result is not None, timeout=TIMEOUT_MS)
    assert view.result.points.shape[1] == 2 and view.result.layer == "flat"
    assert "misclassified, drawn as crosses" in view.status.text()
    assert len(view.plot.getPlotItem().listDataItems()) >= 10


def test_no_report_hides_the_explain_tabs(panel):
    panel.show_report(None)
    assert not panel.tabs.isTabVisible(panel.explain_tab) and not panel.tabs.isTabVisible(panel.embedding_tab)
    assert panel.explain_view.report is None


def test_selecting_a_node_on_the_canvas_shows_its_feature_maps(panel, qtbot):
    from PySide6.QtCore import QObject, Signal

    class Scene(QObject):  # the canvas's selection interface
        selectionChanged = Signal()
        selected = ["fc"]

        def selected_node_ids(self):
            return self.selected

    scene = Scene()
    view = panel.explain_view
    view.follow_selection(scene)
    scene.selectionChanged.emit()
    assert view.node.currentData() == "fc"
    qtbot.waitUntil(lambda: "fc" in view.features.toolTip(), timeout=TIMEOUT_MS)
    scene.selected = ["conv1", "act1"]  # several selected: the view keeps its node
    scene.selectionChanged.emit()
    assert view.node.currentData() == "fc"


def test_a_report_no_longer_shown_gives_back_its_model_and_data(panel):
    from dataclasses import replace

    first = panel.report
    second = replace(first, released=False)
    panel.show_report(second)
    assert first.released and first.compiled is first.dataset is first.inputs is None
    assert second.compiled is not None and panel.tabs.isTabVisible(panel.explain_tab)
    panel.show_report(first)  # shown again without them: the numbers, and no Explain tab
    assert not panel.tabs.isTabVisible(panel.explain_tab) and panel.tabs.isTabVisible(panel.matrix_tab)
