"""The Runs list follows the open project: its history comes back after a restart, damaged runs are shown
as damaged, Ctrl+N/Open replace the list, two runs compare (settings, graph diff on the canvas, curves)
and a run can be deleted."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import QFile, Qt
from PySide6.QtWidgets import QMessageBox

from engine.training import Trainer
from graphs.project import load_project, save_project
from tests.gui.conftest import EXAMPLES


@pytest.fixture
def saved_project(tmp_path):
    """The iris MLP example saved as tmp_path/iris.json (its runs go to tmp_path/runs)."""
    project = load_project(EXAMPLES / "iris_mlp.json")
    project.training.update(device="cpu", epochs=2)
    save_project(project, tmp_path / "iris.json")
    return tmp_path / "iris.json"


def engine_run(path, **changes):
    """A run of the project file `path` trained headless, with `changes` to its first Linear's params."""
    project = load_project(path)
    linear = next(node for node in project.graph.nodes() if node.type == "Linear")
    for name, value in changes.items():
        project.graph.set_param(linear.id, name, value)
    project.training["optimizer"] = {"type": "Adam", "lr": 0.05}
    return Trainer(project, max_batches=2, threads=1).run(), linear.id


def listed(bench, qtbot, count):
    qtbot.waitUntil(lambda: bench.runs_panel.list.count() == count, timeout=20_000)
    return bench.runs_panel


def test_the_history_survives_a_restart_and_follows_the_project(bench, finished, saved_project, qtbot, tmp_path):
    assert bench.window.open_project(saved_project)
    gui_run = finished(bench)
    assert (gui_run.result.out_dir / "run.json").exists()
    engine_run(saved_project, out_features=24)
    damaged = tmp_path / "runs" / "iris-20200101-000000"
    damaged.mkdir()
    (damaged / "run.json").write_text('{"status": "finished", ')

    bench.window.new_project()  # Ctrl+N: the list follows the project
    assert bench.runs_panel.list.count() == 0
    assert bench.window.open_project(saved_project)  # as after a restart: everything from the folders
    panel = listed(bench, qtbot, 3)
    by_status = {run.status: run for run in panel.runs}
    assert set(by_status) == {"finished", "damaged"}
    broken = by_status["damaged"]
    item = panel._item(broken)
    assert item.foreground().color().name() == "#ff6b6b" and "damaged" in item.text()
    panel.select(broken)
    assert "run.json is not valid JSON" in panel.details.toPlainText()
    newest = panel._run(panel.list.item(0))
    assert newest.summary is not None and newest.status == "finished"
    panel.select(newest)
    assert [row["epoch"] for row in newest.series.epochs] == [1, 2]
    assert bench.plots.series is newest.series
    assert "Adam lr=0.05" in panel.details.toPlainText()

    # a new window, as after quitting and starting again: the same history, the GUI's run included
    from gui.main_window import MainWindow

    again = MainWindow()
    qtbot.addWidget(again)
    assert again.open_project(saved_project)
    qtbot.waitUntil(lambda: again.workbench.runs_panel.list.count() == 3, timeout=20_000)
    folders = {run.summary.folder for run in again.workbench.runs_panel.runs}
    assert str(gui_run.result.out_dir) in folders


def test_compare_two_runs_shows_the_diff_and_draws_it_on_the_canvas(bench, saved_project, qtbot):
    from gui.canvas.diff_overlay import ADDED, CHANGED

    engine_run(saved_project)
    _, changed_id = engine_run(saved_project, out_features=24)
    assert bench.window.open_project(saved_project)
    panel = listed(bench, qtbot, 2)
    older, newer = sorted(panel.runs, key=lambda run: run.number)  # numbered oldest first
    assert not panel.compare_button.isEnabled()
    panel.select(newer)
    panel.set_ticked(older, True)
    assert panel.compare_button.isEnabled() and panel.pair() == (older, newer)
    assert list(bench.plots.overlays) == [older.number] and len(older.series.epochs) == 2  # read on tick
    assert "val acc" in panel._item(older).text()  # the metric from the index, before the run was looked at
    panel.compare_button.click()
    dialog = bench.history.dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.graph_tree.topLevelItem(0).text(0) == f"~ {changed_id}"
    change = dialog.graph_tree.topLevelItem(0).child(0)
    assert (change.text(0), change.text(2)) == ("out_features", "24")
    settings = dialog.settings_table
    assert [settings.item(row, 0).text() for row in range(settings.rowCount())] == ["(the same settings)"]
    assert dialog.metrics_table.rowCount() >= 4

    # the canvas shows the diff from the older run to the newer one on the open project's nodes
    dialog.show_button.click()
    overlay = bench.history.overlay
    assert overlay.marked == {changed_id: "changed"}
    frame = overlay.items[0]
    assert frame.parentItem() is bench.window.scene.node_item(changed_id) and frame.pen().color().name() == CHANGED
    assert ADDED != CHANGED and bench.history.clear_action.isEnabled()
    dialog.clear_button.click()
    assert not overlay.active and frame.scene() is None
    dialog.show_button.click()
    bench.window.new_project()  # the overlay goes with the project
    assert not overlay.active


def test_the_overlay_shows_added_and_removed_nodes(bench, saved_project, qtbot):
    from graphs.diff import graph_diff
    from gui.canvas.diff_overlay import DiffOverlay

    assert bench.window.open_project(saved_project)
    graph = bench.document.graph
    before = graph.copy()
    linear = next(node.id for node in graph.nodes() if node.type == "Linear")
    after = graph.copy()
    after.remove_node(linear)
    new_id = bench.document.add_node("Dropout", (10.0, 10.0))
    after.add_node("Dropout", node_id=new_id)
    overlay = DiffOverlay(bench.window.scene)
    overlay.show(graph_diff(before, after), before)
    assert overlay.marked[new_id] == "added" and overlay.ghosts == [linear]
    overlay.clear()
    assert not overlay.active


def test_delete_asks_then_removes_the_run(bench, saved_project, qtbot, dialogs, monkeypatch):
    engine_run(saved_project)
    result, _ = engine_run(saved_project)
    assert bench.window.open_project(saved_project)
    panel = listed(bench, qtbot, 2)
    run = next(run for run in panel.runs if str(result.out_dir) == run.summary.folder)
    panel.select(run)
    dialogs.answer = QMessageBox.StandardButton.No
    panel.list.setFocus()
    qtbot.keyClick(panel.list, Qt.Key.Key_Delete)  # the Delete key asks too
    assert result.out_dir.exists() and panel.list.count() == 2
    assert "can't be undone" in dialogs.texts("question")[-1] and len(dialogs.texts("question")) == 1
    dialogs.answer = QMessageBox.StandardButton.Yes
    monkeypatch.setattr(QFile, "moveToTrash", staticmethod(lambda path: False))  # no trash: delete run files
    (result.out_dir / "mine.txt").write_text("kept")
    panel.delete_button.click()
    assert panel.list.count() == 1 and run not in panel.runs
    assert sorted(p.name for p in result.out_dir.iterdir()) == ["mine.txt"]
    assert "keeps 1 file(s)" in dialogs.texts("information")[-1]
    shutil.rmtree(result.out_dir)
    bench.window.new_project()
    assert bench.window.open_project(saved_project)
    assert listed(bench, qtbot, 1).runs[0].status == "finished"
    assert json.loads((saved_project.parent / "runs" / panel.runs[0].summary.folder / "run.json").read_text())


def test_the_tensorboard_checkbox_is_an_undoable_setting(open_example, qtbot):
    bench = open_example("iris_mlp")
    bench.show_dock("training")
    panel = bench.training_panel
    qtbot.waitUntil(lambda: panel.device.count() > 1, timeout=60_000)
    assert panel.tensorboard.isChecked() and "tensorboard" not in bench.settings.training
    panel.tensorboard.setChecked(False)
    assert bench.settings.training["tensorboard"] is False
    bench.document.undo_stack.undo()
    assert "tensorboard" not in bench.settings.training and panel.tensorboard.isChecked()


def test_a_run_from_before_run_records_shows_its_project_s_settings(bench, saved_project, qtbot):
    result, _ = engine_run(saved_project)
    (result.out_dir / "run.json").unlink()
    assert bench.window.open_project(saved_project)
    panel = listed(bench, qtbot, 1)
    run = panel.runs[0]
    panel.select(run)
    assert run.status == "unrecorded" and "Adam lr=0.05" in panel.details.toPlainText()
    assert [row["epoch"] for row in run.series.epochs] == [1, 2]


def test_a_cross_validation_from_the_history_shows_one_curve_per_fold(bench, saved_project, qtbot):
    from engine.training.folds import CrossValidation

    project = load_project(saved_project)
    project.training.update(folds=3, epochs=2)
    result = CrossValidation(project, max_batches=2, threads=1).run()
    assert result.status == "finished", result.message
    assert bench.window.open_project(saved_project)
    panel = listed(bench, qtbot, 1)
    run = panel.runs[0]
    panel.select(run)
    overlays = bench.fold_curves.overlays()
    assert [name for _key, _series, _colour, name in overlays] == ["fold 1", "fold 2"]  # fold 3 is the run's own
    assert all([row["epoch"] for row in series.epochs] == [1, 2] for _k, series, _c, _n in overlays)
    assert [row["epoch"] for row in run.series.epochs] == [1, 2]
    assert "3-fold cross-validation" in panel.details.toPlainText()
