"""The Training panel's initial weights, frozen BatchNorm and folds rows, and a cross-validation run with
one curve per fold."""

import json

from PySide6.QtWidgets import QApplication


def training_panel(open_example, qtbot, name="digits_cnn", **training):
    bench = open_example(name, **training)
    bench.show_dock("training")
    panel = bench.training_panel
    qtbot.waitUntil(lambda: panel.device.count() > 1, timeout=60_000)
    return bench, panel


def test_initial_weights_are_chosen_cleared_and_undone(open_example, qtbot, dialogs, tmp_path):
    bench, panel = training_panel(open_example, qtbot)
    rows, stack = panel.fine_tune, bench.document.undo_stack
    weights = tmp_path / "pretrained.safetensors"
    weights.write_bytes(b"")
    dialogs.open_path = str(weights)
    rows.choose.click()
    assert bench.settings.training["init_from"] == str(weights)  # an unsaved project keeps it absolute
    assert rows.init_path.text() == str(weights) and rows.clear.isEnabled()
    rows.clear.click()
    assert "init_from" not in bench.settings.training and rows.init_path.text() == ""
    stack.undo()
    assert bench.settings.training["init_from"] == str(weights) and rows.init_path.text() == str(weights)


def test_a_saved_project_stores_the_weights_path_relative_to_its_folder(open_example, qtbot, tmp_path):
    bench, panel = training_panel(open_example, qtbot)
    bench.document.project.path = tmp_path / "p.json"
    (tmp_path / "runs" / "a").mkdir(parents=True)
    assert panel.fine_tune.stored(tmp_path / "runs" / "a" / "weights.safetensors") == "runs/a/weights.safetensors"
    assert panel.fine_tune.stored(tmp_path.parent / "w.safetensors") == str(tmp_path.parent / "w.safetensors")


def test_folds_and_frozen_batchnorm_are_saved_and_left_out_at_their_defaults(open_example, qtbot):
    bench, panel = training_panel(open_example, qtbot)
    rows = panel.fine_tune
    assert rows.folds.value() == 1 and rows.folds.text() == "off (one run, validation split)"
    rows.folds.setValue(5)
    assert bench.settings.training["folds"] == 5
    rows.folds.setValue(1)
    assert "folds" not in bench.settings.training
    rows.freeze_batchnorm.click()
    assert bench.settings.training["freeze_batchnorm"] is False
    bench.document.undo_stack.undo()
    assert "freeze_batchnorm" not in bench.settings.training and rows.freeze_batchnorm.isChecked()


def test_a_cross_validation_run_shows_a_curve_per_fold(open_example, qtbot, finished):
    bench = open_example("digits_cnn", epochs=2, folds=3)
    run = finished(bench)
    assert run.status == "finished", run.message
    assert "3-fold cross-validation: val_accuracy" in run.message
    record = json.loads((run.result.out_dir / "folds.json").read_text())
    assert len(record["per_fold"]) == 3 and (run.result.out_dir / "fold-3" / "metrics.csv").is_file()
    assert run.weights is None  # no evaluation on a split that overlaps the folds' training samples
    QApplication.processEvents()
    names = [name for _series, _colour, _items, name in bench.plots.overlays.values()]
    assert names == ["fold 1", "fold 2"]  # fold 3 is the run's own, solid curve
    assert all(len(series.epochs) == 2 for series, *_ in bench.plots.overlays.values())
    assert len(run.series.epochs) == 2
    assert "fold 1 (validation)" in bench.plots.legend.text().replace("&nbsp;", " ")
    bench.settings.update({**bench.settings.training, "folds": None}, "one run")
    single = finished(bench)  # another run shown: its own curves, without the folds
    assert bench.runs_panel.current() is single and not bench.plots.overlays
    bench.runs_panel.select(run)  # the cross-validation again: its K curves
    QApplication.processEvents()
    assert [name for *_rest, name in bench.plots.overlays.values()] == ["fold 1", "fold 2"]
