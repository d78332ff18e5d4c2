"""Training faults in the GUI: each run started from the workbench ends with a clear message (one
dialog for a failure), and afterwards the app is not frozen (its event loop turns, the editor
edits, Start is enabled again) and no thread is left running (the worker's QThread has ended and
the live Python threads are those of before).

The faults: a NaN loss, an exception in a layer's forward, simulated CUDA out of memory, a
streamed image deleted mid-epoch, Stop pressed 100 times, Pause/Resume pressed hundreds of times
(from the toolbar action, and from another thread on the worker), and the window closed
mid-epoch (while running, paused or stopping).
"""

from __future__ import annotations

import random
import threading

import pytest
import shiboken6
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from engine.training import Trainer
from gui.workbench.data_shapes import shapeless_data_nodes
from tests.reliability.datafiles import write_image_folder
from tests.reliability.tally import count
from tests.reliability.training import python_threads, write_project
from tests.workbench.conftest import RUN_TIMEOUT_MS

SUBJECT = "training faults in the GUI"
Button = QMessageBox.StandardButton


@pytest.fixture
def iris(open_example):
    """The workbench with the iris example open: 8 batches an epoch, every batch reported."""
    def open_(**training):
        bench = open_example("iris_mlp", **training)
        bench.run_options.update(max_batches=None, progress_every=1)
        return bench
    return open_


def start(bench, qtbot, first_batch: bool = True):
    """Start a run (and wait for its first batch); returns its QThread and the threads from before."""
    before = python_threads()
    if not first_batch:
        assert bench.start()
        return bench.controller.thread, before
    with qtbot.waitSignal(bench.controller.progress, timeout=RUN_TIMEOUT_MS):
        assert bench.start()
        thread = bench.controller.thread
    return thread, before


def wait_idle(bench, qtbot) -> None:
    if bench.controller.state != "idle":
        with qtbot.waitSignal(bench.controller.stateChanged, timeout=RUN_TIMEOUT_MS,
                              check_params_cb=lambda state: state == "idle"):
            pass


def assert_settled(bench, qtbot, thread, before) -> None:
    """Not frozen, nothing left running: the loop turns, the editor edits, the worker has ended."""
    turned = []
    QTimer.singleShot(0, lambda: turned.append(True))
    qtbot.waitUntil(lambda: bool(turned), timeout=10_000)
    document = bench.window.document
    nodes = len(document.graph)
    document.add_node("ReLU", (900.0, 900.0))
    assert len(document.graph) == nodes + 1
    document.undo_stack.undo()
    assert bench.controller.state == "idle" and not bench.controller.active
    assert bench.actions.a.start.isEnabled() and not bench.actions.a.stop.isEnabled()
    assert not shiboken6.isValid(thread) or not thread.isRunning(), "the worker thread is still running"
    qtbot.waitUntil(lambda: python_threads() <= before, timeout=10_000)


def run_to_failure(bench, qtbot, dialogs, *words) -> str:
    """Start a run that fails; one dialog says why, naming `words`; returns its text."""
    thread, before = start(bench, qtbot, first_batch=False)
    wait_idle(bench, qtbot)
    run = bench.runs_panel.runs[-1]
    assert run.status == "failed", run.message
    assert dialogs.kinds() == ["critical"], dialogs.shown
    text = dialogs.texts("critical")[0]
    for word in words:
        assert word in text, (word, text)
    assert "This looks like a bug" not in text  # a failed run, not a crash of the worker
    assert_settled(bench, qtbot, thread, before)
    return text


# ---- faults that fail the run ---------------------------------------------------------

def test_a_nan_loss(iris, qtbot, dialogs):
    bench = iris(epochs=3, optimizer={"type": "SGD", "lr": 1e30})
    run_to_failure(bench, qtbot, dialogs, "loss became ", "try a lower learning rate")
    count(SUBJECT, "NaN loss: one dialog, app usable, no thread left")


@pytest.mark.parametrize("after", [3, 9, 8 * 3 + 1])  # epoch 1; epoch 2; epoch 3's validation on
def test_an_exception_in_a_layer(iris, qtbot, dialogs, monkeypatch, after):
    real, calls = torch.nn.Linear.forward, [0]

    def forward(self, x):
        calls[0] += 1
        if calls[0] > after:
            raise ValueError("injected fault in a layer")
        return real(self, x)

    monkeypatch.setattr(torch.nn.Linear, "forward", forward)
    bench = iris(epochs=5)
    run_to_failure(bench, qtbot, dialogs, "training failed ", "ValueError: injected fault in a layer")
    count(SUBJECT, "exception in a layer: one dialog, app usable, no thread left")


def test_cuda_out_of_memory(iris, qtbot, dialogs, monkeypatch):
    real, calls = Trainer._train_step, [0]

    def step(self, x, y):
        calls[0] += 1
        if calls[0] == 11:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(self, x, y)

    monkeypatch.setattr(Trainer, "_train_step", step)
    bench = iris(epochs=5)
    run_to_failure(bench, qtbot, dialogs, "out of CPU memory at epoch 2, batch 3", "try a smaller batch size")
    count(SUBJECT, "CUDA out of memory: one dialog, app usable, no thread left")


def test_a_streamed_image_deleted_mid_epoch(bench, qtbot, dialogs, tmp_path):
    root = write_image_folder(tmp_path / "imgs", per_class=10)
    write_project(tmp_path, {"name": "image_folder", "path": "imgs", "grayscale": True, "stream": True},
                  batch_size=4, epochs=1000, input_params={"shape": [16]})
    assert bench.window.open_project(tmp_path / "project.json")
    graph = bench.document.graph  # its Target takes the data's shape
    qtbot.waitUntil(lambda: not shapeless_data_nodes(graph), timeout=RUN_TIMEOUT_MS)
    bench.run_options.update(max_batches=None, progress_every=1)
    victims = sorted(root.glob("*/*.png"))
    bench.controller.progress.connect(lambda event: event.step >= 2 and [path.unlink() for path in victims
                                                                        if path.exists()])
    text = run_to_failure(bench, qtbot, dialogs, "cannot read image 'imgs/c")
    count(SUBJECT, "streamed image deleted mid-epoch: one dialog naming it, app usable, no thread left")
    assert "No such file" in text


# ---- stop, pause, close ------------------------------------------------------------------

def test_stop_pressed_100_times(iris, qtbot, dialogs):
    bench = iris(epochs=10_000)
    thread, before = start(bench, qtbot)
    for _ in range(50):
        bench.actions.a.stop.trigger()
        bench.stop()
    wait_idle(bench, qtbot)
    assert [run.status for run in bench.runs_panel.runs] == ["stopped"] and dialogs.shown == []
    assert "stopped by request" in bench.runs_panel.runs[-1].message
    assert_settled(bench, qtbot, thread, before)
    count(SUBJECT, "stop x100: stopped once, app usable, no thread left")


def test_pause_resume_pressed_hundreds_of_times(iris, qtbot, dialogs):
    bench = iris(epochs=10_000)
    paused = []
    bench.controller.pausedChanged.connect(paused.append)
    thread, before = start(bench, qtbot)
    rng = random.Random(7)
    for _ in range(300):
        bench.actions.a.pause.trigger()
        if rng.random() < 0.2:
            qtbot.wait(1)  # the worker's Paused/Resumed events reach the GUI now and then
    bench.controller.resume()  # the button may not have caught up with the last press yet
    worker = bench.controller.last_worker
    step = worker.last_step
    qtbot.waitUntil(lambda: worker.last_step > step + 3, timeout=RUN_TIMEOUT_MS)  # training again
    bench.actions.a.stop.trigger()
    wait_idle(bench, qtbot)
    assert True in paused and bench.runs_panel.runs[-1].status == "stopped" and dialogs.shown == []
    assert_settled(bench, qtbot, thread, before)
    count(SUBJECT, "pause/resume x300 from the toolbar: trains on, then stops cleanly; app usable, no thread left")


def test_pause_resume_spam_from_another_thread(iris, qtbot, dialogs):
    bench = iris(epochs=4)
    thread, before = start(bench, qtbot)
    worker = bench.controller.last_worker

    def spam():
        rng, rest = random.Random(3), threading.Event()
        for _ in range(300):
            rng.choice((worker.pause, worker.resume))()
            rest.wait(rng.choice((0, 0.001)))
        worker.resume()

    spammer = threading.Thread(target=spam)
    spammer.start()
    qtbot.waitUntil(lambda: not spammer.is_alive(), timeout=RUN_TIMEOUT_MS)
    wait_idle(bench, qtbot)
    run = bench.runs_panel.runs[-1]
    assert run.status == "finished" and len(run.result.history) == 4 and dialogs.shown == []
    assert_settled(bench, qtbot, thread, before)
    count(SUBJECT, "pause/resume x300 from another thread: finished, app usable, no thread left")


@pytest.mark.parametrize("when", ["running", "paused", "stopping"])
def test_the_window_closed_mid_epoch(iris, qtbot, dialogs, when):
    bench = iris(epochs=10_000)
    window = bench.window
    thread, before = start(bench, qtbot)
    if when == "paused":
        with qtbot.waitSignal(bench.controller.pausedChanged, timeout=RUN_TIMEOUT_MS):
            bench.actions.a.pause.trigger()
    elif when == "stopping":
        bench.actions.a.stop.trigger()
    dialogs.answer = Button.Yes  # stop the run and close
    assert window.close()
    assert [(kind, title) for kind, title, _text in dialogs.shown] == [("question", "Training in progress")]
    assert not window.isVisible() and not bench.controller.active
    assert not shiboken6.isValid(thread) or not thread.isRunning(), "the worker thread is still running"
    qtbot.waitUntil(lambda: python_threads() <= before, timeout=10_000)
    assert bench.runs_panel.runs[-1].status == "stopped"
    count(SUBJECT, f"window closed while {when}: run stopped and joined, window closed")


def test_the_window_close_declined_keeps_training(iris, qtbot, dialogs):
    bench = iris(epochs=10_000)
    thread, before = start(bench, qtbot)
    dialogs.answer = Button.No  # keep training
    assert not bench.window.close()
    assert bench.window.isVisible() and bench.controller.active
    step = bench.controller.last_worker.last_step
    qtbot.waitUntil(lambda: bench.controller.last_worker.last_step > step + 3, timeout=RUN_TIMEOUT_MS)
    bench.stop()
    wait_idle(bench, qtbot)
    assert bench.runs_panel.runs[-1].status == "stopped"
    assert_settled(bench, qtbot, thread, before)
    count(SUBJECT, "window close declined: the run trains on")
