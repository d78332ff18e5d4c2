"""The Experiments dock: the search space edited undoably, the trials table, Apply best as one undo step,
and a sweep run from the editor in a child process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QProcess

import main
from graphs.project import load_project
from gui.workbench.search_dialog import SearchDialog, edit_search

ROOT = Path(__file__).resolve().parents[2]
SEARCH = {"optimizer.lr": {"log_uniform": [1e-3, 1e-1]}, "nodes.fc.out_features": {"choice": [10, 12]},
          "training.batch_size": {"choice": [16, 32]}}


@pytest.fixture
def swept(tmp_path):
    """A saved digits project with a search space and a finished 3-trial study beside it."""
    data = json.loads((ROOT / "resources" / "examples" / "digits_cnn.json").read_text())
    data["training"].update(epochs=1, device="cpu", schedule=None)
    data["search"] = SEARCH
    path = tmp_path / "digits.json"
    path.write_text(json.dumps(data))
    assert main.main(["sweep", str(path), "--trials", "3", "--workers", "1", "--threads", "1", "--quiet",
                      "--sampler", "random"]) == 0
    return path


def test_the_table_shows_every_trial_and_apply_best_is_one_undo_step(bench, swept, qtbot):
    panel = bench.experiments
    with qtbot.waitSignal(panel.reportShown, timeout=30_000):
        assert bench.window.open_project(swept)
    report = panel.report
    table = panel.table
    assert table.rowCount() == 3
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers[:4] == ["trial", "state", "accuracy", "time (s)"] and set(SEARCH) <= set(headers)
    assert [table.item(r, 1).text() for r in range(3)] == ["complete"] * 3
    best = report.best
    assert table.item(best.number, 2).font().bold()
    assert panel.apply_button.isEnabled()
    best_so_far = [value for _, value in report.best_so_far()]
    assert best_so_far == sorted(best_so_far) and best_so_far[-1] == best.value
    assert set(report.importances) == set(SEARCH)
    assert all(name in panel.importances.text() for name in SEARCH)
    assert panel.tabs.tabText(0) == "Best so far" and panel.tabs.tabText(1) == "Parallel coordinates"

    stack, project = bench.document.undo_stack, bench.document.project
    before_graph, before_training = project.graph.node("fc").params, dict(project.training)
    count = stack.count()
    assert panel.apply_best()
    assert stack.count() == count + 1
    assert project.graph.node("fc").params["out_features"] == best.params["nodes.fc.out_features"]
    assert project.training["optimizer"]["lr"] == best.params["optimizer.lr"]
    assert project.training["batch_size"] == best.params["training.batch_size"]
    stack.undo()
    assert project.graph.node("fc").params == before_graph and project.training == before_training
    stack.redo()
    assert project.training["batch_size"] == best.params["training.batch_size"]


def test_the_search_dialog_refuses_bad_values_and_edits_are_undoable(open_example, qtbot):
    bench = open_example("digits_cnn")
    document = bench.document
    project = document.project
    dialog = SearchDialog("nodes.fc.out_features", None, project.graph, project.training)
    qtbot.addWidget(dialog)
    dialog.choices.setText("")
    dialog.accept()
    assert dialog.result() == 0 and "an empty choice" in dialog.error.text()
    dialog.choices.setText("16, 0")
    dialog.accept()
    assert "must be at least 1" in dialog.error.text()
    dialog.choices.setText("16, 32")
    dialog.accept()
    assert dialog.entry == {"choice": [16, 32]}
    lr = SearchDialog("optimizer.lr", None, project.graph, project.training)
    qtbot.addWidget(lr)
    lr.low.setText("0")
    lr.accept()
    assert "a log range must stay above 0" in lr.error.text()

    assert edit_search(document, "nodes.fc.out_features", dialog.entry)
    assert project.search == {"nodes.fc.out_features": {"choice": [16, 32]}}
    assert bench.experiments.space.rowCount() == 1
    document.undo_stack.undo()
    assert project.search == {} and bench.experiments.space.rowCount() == 0


def test_inspector_param_labels_offer_search_over(open_example):
    bench = open_example("digits_cnn")
    window = bench.window
    window.focus_node("fc")
    inspector = window.inspector
    from PySide6.QtCore import Qt

    label = inspector.form.labelForField(inspector.rows["out_features"])
    assert label.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu


def test_run_sweep_runs_in_a_child_process_and_fills_the_table(bench, swept, qtbot):
    panel = bench.experiments
    with qtbot.waitSignal(panel.reportShown, timeout=30_000):
        assert bench.window.open_project(swept)
    panel.trials_spin.setValue(4)
    panel.workers_spin.setValue(1)
    assert panel.run_sweep()
    assert panel.process.state() != QProcess.ProcessState.NotRunning and not panel.run_button.isEnabled()
    with qtbot.waitSignal(panel.process.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: panel.report is not None and len(panel.report.trials) == 4, timeout=30_000)
    assert "sweep ended (exit status 0)" in panel.log.toPlainText()
    assert panel.table.rowCount() == 4
    assert load_project(swept).search == SEARCH  # the sweep trained the saved file, which it did not change
