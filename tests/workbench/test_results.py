"""Looking at results: curve buffers at scale, the plot exports and read-out, earlier runs overlaid,
the evaluation (confusion matrix, per-class table, images; or a scatter plot), checkpoints, and
File > Export to ONNX checked in onnxruntime."""

import csv
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from gui.workbench.series import RunSeries
from tests.gui.app_process import run_app_script

ROOT = Path(__file__).resolve().parents[2]


def test_a_100k_step_run_fits_in_doubling_buffers_and_redraws(qtbot, tmp_path):
    from gui.workbench.plots import LivePlots

    series = RunSeries(batches_per_epoch=1000)
    rng = np.random.default_rng(0)
    for chunk in range(100):
        series.add_losses((chunk + 1) * 1000, list(1.0 / (1 + np.arange(1000) / 500) + rng.random(1000) * 0.1))
        series.add_epoch({"epoch": chunk + 1, "train_loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.5, "lr": 1e-3})
    assert series.batches.n == 100_000
    assert series.batches.capacity == 131_072  # 1024 doubled until it held every point
    assert np.all(np.diff(series.batches.x) == 1)
    assert 0 < series.smoothed.y[-1] < 1.2

    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(800, 500)
    plots.show()
    plots.show_series(series)
    drawn = plots.redraws
    plots.refresh()  # nothing changed: no redraw
    assert plots.redraws == drawn
    series.add_losses(100_001, [0.5])
    plots.refresh()
    assert plots.redraws == drawn + 1
    qtbot.wait(50)
    shown_x, _ = plots.raw_curve.getData()
    assert 0 < len(shown_x) < 100_001  # downsampled (peak mode) for the screen
    plots.x_mode.setCurrentText("epoch")
    assert plots.raw_curve.xData[-1] == 100_001 / 1000

    assert plots.export_png(tmp_path / "curves.png") and (tmp_path / "curves.png").stat().st_size > 1000
    plots.export_csv(tmp_path / "metrics.csv")
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert len(rows) == 100_001 and rows[999]["val_loss"] == "0.9" and rows[1000]["val_loss"] == ""
    assert "validation loss 0.9" in plots.read_out(50.0)  # x in epochs now


def test_earlier_runs_are_listed_with_their_settings_and_overlay(open_example, finished):
    bench = open_example("iris_mlp", epochs=2)
    first = finished(bench)
    settings = bench.settings.training
    settings.update(seed=5, optimizer={"type": "SGD", "lr": 0.05})
    bench.settings.update(settings, "other settings")
    second = finished(bench)
    panel = bench.runs_panel
    assert panel.list.count() == 2 and panel.current() is second
    assert "seed 5" in panel.list.item(0).toolTip() and "SGD lr=0.05" in panel.details.toPlainText()
    assert "seed 0" in panel.list.item(1).toolTip()

    panel.set_ticked(first, True)
    assert list(bench.plots.overlays) == [first.number]
    _series, _colour, items, _name = bench.plots.overlays[first.number]
    bench.plots.refresh()
    assert len(items[0][1].yData) == 2  # the first run's validation loss, one point an epoch
    assert "Run&nbsp;1&nbsp;(validation)" in bench.plots.legend.text()
    panel.set_ticked(first, False)
    assert bench.plots.overlays == {}
    panel.select(first)
    assert bench.plots.series is first.series


def test_evaluation_of_an_image_classifier_and_export_to_onnx(open_example, finished, qtbot, dialogs, tmp_path):
    bench = open_example("digits_cnn", epochs=2)
    bench.run_options.update(max_batches=4)
    run = finished(bench)
    qtbot.waitUntil(lambda: run.evaluation is not None, timeout=60_000)
    panel = bench.evaluation_panel
    report = run.evaluation
    assert panel.report is report and report.samples == 359
    assert f"{report.evaluation.accuracy:.2%}" in panel.headline.text()
    assert panel.confusion.rowCount() == 10 and panel.confusion.horizontalHeaderItem(3).text() == "3"
    total = sum(int(panel.confusion.item(i, j).text() or 0) for i in range(10) for j in range(10))
    assert total == 359
    assert panel.per_class.rowCount() == 10
    table = panel.per_class  # rows named by the class (0-9), not numbered 1-10
    assert [table.verticalHeaderItem(i).text() for i in range(10)] == [str(c) for c in range(10)]
    assert [table.horizontalHeaderItem(i).text() for i in range(4)] == ["precision", "recall", "F1", "support"]
    item = bench.runs_panel.list.item(0)  # a finished run is listed in the normal text colour, not red
    assert run.status == "finished" and item.foreground().style() == Qt.BrushStyle.NoBrush
    assert panel.images.count == len(report.captions) > 0
    wrong = report.wrong
    assert wrong == sorted(wrong, reverse=True)  # misclassified first

    dialogs.save_path = str(tmp_path / "digits")
    bench.exports.actions["onnx"].trigger()
    qtbot.waitUntil(lambda: "information" in dialogs.kinds() or "critical" in dialogs.kinds(), timeout=60_000)
    message = dialogs.texts("information")[0]
    assert "run 1" in message and "largest difference from torch" in message
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "digits.onnx"), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": np.zeros((3, 1, 8, 8), dtype=np.float32)})
    assert out.shape == (3, 10)


def test_regression_scatter_and_a_checkpoint_file(open_example, finished, qtbot):
    bench = open_example("sine_regression", epochs=2)
    run = finished(bench)
    qtbot.waitUntil(lambda: run.evaluation is not None, timeout=60_000)
    panel = bench.evaluation_panel
    assert run.evaluation.task == "regression" and "MAE" in panel.headline.text()
    assert len(panel.points.data) == run.evaluation.samples == 400
    assert panel.tabs.isTabVisible(panel.scatter_tab) and not panel.tabs.isTabVisible(panel.matrix_tab)

    bench.evaluate_checkpoint_dialog(str(run.result.checkpoints["best"]))
    qtbot.waitUntil(lambda: panel.report is not None and "best.safetensors" in panel.report.source, timeout=60_000)
    bench.evaluate_checkpoint_dialog(str(ROOT / "README.md"))
    qtbot.waitUntil(lambda: "Evaluation failed" in panel.headline.text(), timeout=60_000)


def test_the_editor_with_the_workbench_starts_without_torch(tmp_path):
    out = run_app_script(
        "import sys\n"
        "from gui.workbench import install\n"
        "app = create_app()\n"
        "w = MainWindow()\n"
        "bench = getattr(w, 'workbench', None) or install(w)\n"
        "w.show()\n"
        "app.processEvents()\n"
        "print('torch' in sys.modules, bench.engine.loading)\n",
        tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == ["False", "False"]


def test_a_run_without_validation_data_finishes_and_says_so(open_example, finished, dialogs):
    bench = open_example("iris_mlp", epochs=2, val_split=0.0)
    assert bench.data_panel.val_split.text() == "none: train on all"
    run = finished(bench)
    assert run.status == "finished", run.message
    assert "training loss" in run.details() and "(no validation data)" in run.details()
    assert dialogs.kinds() == []


def test_an_export_onto_its_own_trained_weights_is_refused_and_they_stay(open_example, finished, dialogs):
    bench = open_example("iris_mlp", epochs=1)
    run = finished(bench)
    weights = Path(run.weights)
    before = weights.read_bytes()
    assert not bench.exports.export("weights", str(weights))
    assert dialogs.kinds() == ["critical"] and "same file as the trained weights" in dialogs.texts("critical")[0]
    assert weights.read_bytes() == before and not bench.exports.busy
