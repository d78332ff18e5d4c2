"""Running from the GUI: Start through the real toolbar button, live curves that match the engine's
history, Stop within one batch, Pause/Resume, closing the window mid-run, and failures that leave the
app usable."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from gui.workbench.runs import FAILED_COLOUR


def test_start_button_trains_and_the_plots_show_the_engines_numbers(open_example, finished, qtbot):
    bench = open_example("iris_mlp", epochs=3)
    button = bench.actions.toolbar.widgetForAction(bench.actions.a.start)
    run = finished(bench, lambda: qtbot.mouseClick(button, Qt.MouseButton.LeftButton))

    result = run.result
    assert run.status == result.status == "finished"
    assert len(result.history) == 3
    assert run.series.batches.n == 3 * 2  # two batches an epoch (max_batches)
    plots = bench.plots
    plots.refresh()
    curve = plots.metric_curve  # xData/yData: what was given to the curve, before clipping to the view
    assert list(curve.yData) == [row["val_accuracy"] for row in result.history]
    assert list(plots.val_curve.yData) == [row["val_loss"] for row in result.history]
    assert list(curve.xData) == [2.0, 4.0, 6.0]  # each epoch's last step
    assert len(plots.raw_curve.yData) == 6
    assert f"val acc {result.history[-1]['val_accuracy']:.3f}" in bench.runs_panel.list.item(0).text()
    assert bench.actions.a.start.isEnabled() and not bench.actions.a.stop.isEnabled()
    assert bench.controller.thread is None


def test_stop_takes_effect_within_one_batch(open_example, finished, qtbot):
    bench = open_example("digits_cnn", epochs=20)
    bench.run_options.update(max_batches=None, progress_every=1)
    stopped = []

    def stop_on_first_progress(_event):
        if not stopped:
            stopped.append(True)
            bench.actions.a.stop.trigger()

    bench.controller.progress.connect(stop_on_first_progress)
    run = finished(bench)
    worker = bench.controller.last_worker
    assert run.status == "stopped"
    assert worker.step_at_stop is not None
    assert worker.last_step - worker.step_at_stop <= 1  # at most the batch that was running
    assert "stopped by request" in run.message
    assert run.weights is not None and run.weights.exists()  # the partial model is kept


def test_pause_and_resume(open_example, finished, qtbot):
    bench = open_example("digits_cnn", epochs=3)
    bench.run_options.update(max_batches=None, progress_every=1)
    states = []
    bench.controller.stateChanged.connect(states.append)

    def pause_then_resume():
        with qtbot.waitSignal(bench.controller.pausedChanged, timeout=30_000):
            bench.actions.a.start.trigger()
            bench.actions.a.pause.trigger()
        assert bench.actions.a.pause.text() == "&Resume"
        assert bench.runs_panel.runs[-1].status == "paused"
        bench.actions.a.pause.trigger()

    run = finished(bench, pause_then_resume)
    assert "paused" in states and run.status == "finished"
    assert len(run.result.history) == 3


def test_closing_the_window_mid_run_stops_and_joins_the_worker(open_example, qtbot, monkeypatch):
    bench = open_example("digits_cnn", epochs=200)
    bench.run_options.update(max_batches=None)
    window = bench.window
    with qtbot.waitSignal(bench.controller.progress, timeout=60_000):
        bench.start()
    thread = bench.controller.thread
    window.document.undo_stack.push(_Marker())  # unsaved changes: the usual prompt must still come
    asked = []

    def question(_parent, title, _text, *args, **kwargs):
        asked.append(title)
        return QMessageBox.StandardButton.Yes if title == "Training in progress" \
            else QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    assert not window.close()  # the unsaved-changes prompt was cancelled: the project stays open
    assert asked == ["Training in progress", "Unsaved changes"]
    assert thread.isFinished() and not bench.controller.active
    assert bench.runs_panel.runs[-1].status == "stopped"
    assert not window.document.undo_stack.isClean()  # nothing lost
    window.document.undo_stack.setClean()
    assert window.close()


def test_a_nan_loss_is_reported_and_the_next_run_works(open_example, finished, dialogs):
    bench = open_example("digits_cnn", epochs=2, optimizer={"type": "SGD", "lr": 1e12})
    run = finished(bench)
    assert run.status == "failed"
    assert dialogs.kinds() == ["critical"]
    assert "learning rate" in dialogs.texts("critical")[0]
    assert bench.runs_panel.list.item(0).foreground().color().name() == FAILED_COLOUR  # red: failed only
    settings = bench.settings.training
    settings["optimizer"] = {"type": "Adam", "lr": 0.001}
    bench.settings.update(settings, "fix the learning rate")
    assert finished(bench).status == "finished"


def test_an_unreadable_data_file_is_reported_and_the_app_stays_usable(open_example, finished, dialogs, tmp_path,
                                                                     qtbot):
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"\x00\xff\xfe garbage\n\x01,\x02\n")
    bench = open_example("iris_mlp", dataset={"name": "csv", "path": str(bad)})
    with qtbot.waitSignal(bench.controller.stateChanged, timeout=60_000, check_params_cb=lambda s: s == "idle"):
        bench.actions.a.start.trigger()
    assert bench.runs_panel.runs == []  # refused before training: not listed as a run
    assert dialogs.kinds() == ["warning"] and "broken.csv" in dialogs.texts("warning")[0]
    settings = bench.settings.training
    settings["dataset"] = {"name": "iris"}
    bench.settings.update(settings, "use iris")
    assert finished(bench).status == "finished"
    assert bench.window.isVisible()


class _Marker:
    """An undo command that does nothing, to make the document unsaved."""

    def __new__(cls):
        from PySide6.QtGui import QUndoCommand

        return QUndoCommand("edit")
