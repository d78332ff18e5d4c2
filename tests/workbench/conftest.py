"""Fixtures for the workbench tests: the editor's offscreen Qt, isolated QSettings and captured dialogs
(imported from tests/gui/conftest.py, not copied), plus a main window with the workbench installed whose
runs write under tmp_path and train only a few batches.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from tests.gui.conftest import EXAMPLES, Dialogs, dialogs, isolated_settings, themed  # noqa: E402,F401

RUN_TIMEOUT_MS = 60_000


@pytest.fixture
def bench(qtbot, tmp_path):
    """A shown MainWindow with the workbench installed; yields the Workbench. Runs train 2 batches an epoch."""
    from gui.main_window import MainWindow
    from gui.workbench import install

    window = MainWindow()
    qtbot.addWidget(window)
    workbench = install(window)  # already installed by MainWindow: returns that one
    workbench.runs_root = tmp_path / "runs"
    workbench.run_options.update(max_batches=2)
    window.show()
    qtbot.waitExposed(window)
    yield workbench
    workbench.stop_and_wait()
    workbench.tasks.wait()
    window.document.undo_stack.setClean()


@pytest.fixture
def open_example(bench, qtbot):
    """open_example("iris_mlp", epochs=2) opens a shipped example (an unsaved copy) with those settings."""

    def open_(name: str, **training):
        assert bench.window.open_example(EXAMPLES / f"{name}.json")
        settings = bench.settings.training
        settings.update({"device": "cpu", **training})
        bench.settings.update(settings, "test settings")
        bench.document.undo_stack.setClean()
        return bench

    return open_


@pytest.fixture
def finished(qtbot):
    """finished(workbench, action) triggers `action` and waits for the run to end; returns its RunRecord."""

    def run(workbench, action=None):
        with qtbot.waitSignal(workbench.controller.stateChanged, timeout=RUN_TIMEOUT_MS,
                              check_params_cb=lambda state: state == "idle"):
            (action or workbench.actions.a.start.trigger)()
        return workbench.runs_panel.runs[-1]

    return run
