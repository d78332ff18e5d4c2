"""A run refused by the memory check (issue 16): the dialog gives the estimate and one click sets the
largest batch size that fits, as one undo step; Cancel changes nothing."""

import pytest
from PySide6.QtWidgets import QMessageBox

import engine.memory_estimate
from gui.workbench.memory_dialog import TITLE
from tests.workbench.conftest import RUN_TIMEOUT_MS

DEVICE_FREE = 20_000  # bytes: the iris MLP fits at a few dozen samples, not at 120


@pytest.fixture
def refused(open_example, qtbot, monkeypatch):
    """refused(button_text) starts an iris run at batch 120 on a device with DEVICE_FREE bytes, clicks the
    memory dialog's button whose text starts with `button_text`; returns (workbench, the dialog's texts)."""
    monkeypatch.setattr(engine.memory_estimate, "device_available", lambda device: DEVICE_FREE)
    shown = []

    def fake_exec(box, choose):
        shown.append((box.windowTitle(), box.text(), [b.text() for b in box.buttons()]))
        next(b for b in box.buttons() if b.text().startswith(choose)).click()
        return 0

    def run(choose: str):
        monkeypatch.setattr(QMessageBox, "exec", lambda box: fake_exec(box, choose))
        bench = open_example("iris_mlp", batch_size=120, epochs=1)
        with qtbot.waitSignal(bench.controller.stateChanged, timeout=RUN_TIMEOUT_MS,
                              check_params_cb=lambda state: state == "idle"):
            bench.actions.a.start.trigger()
        return bench, shown

    return run


def test_one_click_sets_the_batch_size_that_fits_as_one_undo_step(refused):
    bench, shown = refused("Set Batch Size")
    [(title, text, buttons)] = shown
    fits = engine.memory_estimate.batch_size_that_fits(text)
    assert title == TITLE and "at batch size 120" in text and 0 < fits < 120
    assert f"Set Batch Size to {fits:,}" in buttons
    assert bench.settings.training["batch_size"] == fits
    assert bench.runs_panel.runs == []  # the refused run left no entry
    stack = bench.document.undo_stack
    assert stack.undoText() == f"Set batch size to {fits}"
    stack.undo()
    assert bench.settings.training["batch_size"] == 120


def test_cancel_leaves_the_settings_alone(refused):
    bench, shown = refused("Cancel")
    assert len(shown) == 1
    assert bench.settings.training["batch_size"] == 120
    assert bench.document.undo_stack.isClean()


def test_the_batch_size_it_sets_then_trains(refused, finished, monkeypatch):
    bench, _ = refused("Set Batch Size")
    fits = bench.settings.training["batch_size"]
    # the device as it was, less a little: the estimate at the batch size set fits, so the run starts
    monkeypatch.setattr(engine.memory_estimate, "device_available", lambda device: DEVICE_FREE)
    run = finished(bench)
    assert bench.settings.training["batch_size"] == fits
    assert run.status == "finished"
