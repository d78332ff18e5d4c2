"""The status bar's run read-out tells the CPU threads an epoch ran on, as `threads="auto"` chose them."""

from pathlib import Path

from engine.training.events import BatchProgress, EpochMetrics, RunStarted


def _metrics(epoch: int, threads: int | None) -> EpochMetrics:
    return EpochMetrics(epoch, 0.5, 0.4, "val_accuracy", 0.9, 0.01, 1000.0, 0.2, threads)


def test_the_read_out_tells_the_threads_after_an_epoch_on_the_cpu(qtbot):
    from gui.workbench.run_control import RunProgress

    progress = RunProgress()
    qtbot.addWidget(progress)
    progress.started(RunStarted(3, 10, 100, 20, "cpu", "val_accuracy", Path("run"), "moons", ()))
    progress.progress(BatchProgress(1, 5, 10, 5, 30, [0.5], 1200.0, 3.0))
    assert progress.text.text() == "Epoch 1/3 · batch 5/10 · 1,200 samples/s · ETA 0:03"
    progress.epoch_ended(_metrics(1, 1))
    progress.progress(BatchProgress(2, 5, 10, 15, 30, [0.5], 1200.0, 2.0))
    assert progress.text.text() == "Epoch 2/3 · batch 5/10 · 1,200 samples/s · 1 thread · ETA 0:02"
    progress.epoch_ended(_metrics(2, 2))
    progress.progress(BatchProgress(3, 5, 10, 25, 30, [0.5], 2400.0, 1.0))
    assert "2,400 samples/s · 2 threads · ETA" in progress.text.text()


def test_a_gpu_run_tells_no_cpu_threads(qtbot):
    from gui.workbench.run_control import RunProgress

    progress = RunProgress()
    qtbot.addWidget(progress)
    progress.started(RunStarted(2, 10, 100, 20, "cuda:0", "val_accuracy", Path("run"), "moons", ()))
    progress.epoch_ended(_metrics(1, 4))
    progress.progress(BatchProgress(2, 5, 10, 15, 20, [0.5], 1200.0, 2.0))
    assert "thread" not in progress.text.text()
