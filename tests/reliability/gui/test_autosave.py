"""Autosave and crash recovery (gui.autosave): unsaved work is in a recovery file at most one
interval after it was made, and only while it is unsaved; after a crash the next start offers it
back; a save or a normal close removes it; a disk that refuses loses nothing and freezes nothing.

One test crashes a real process (SIGKILL, so nothing is cleaned up) and restores its work in
this one. The others make what a crashed session leaves behind with `recovery_bytes`, the
writer's own format, and no live lock.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from graphs.project import Project, load_project, loads_project, save_project
from gui.autosave import INTERVAL_MS, RECOVERY_KEY, recovery_bytes
from tests.gui.app_process import run_app_script
from tests.gui.conftest import EXAMPLES, build_cnn
from tests.reliability.faults import ERRORS, STEPS, inject
from tests.reliability.tally import count

Button = QMessageBox.StandardButton
SUBJECT = "autosave and crash recovery"


@pytest.fixture
def saved(window, tmp_path):
    """The window with a small saved project open, clean; returns its path."""
    project = Project(name="small cnn")
    build_cnn(project.graph)
    path = tmp_path / "work" / "model.json"
    path.parent.mkdir()
    save_project(project, path)
    assert window.open_project(path)
    return path


def edit(window, n: int = 1) -> None:
    for i in range(n):
        window.document.add_node("ReLU", (400.0 + 40 * i, 300.0))


def recovery_files(window) -> list[str]:
    folder = window.autosaver.folder
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def as_saved(raw: bytes) -> str:
    """A recovery file's project as a project file (without its recovery section)."""
    project = loads_project(raw)
    project.gui.pop(RECOVERY_KEY)
    return project.to_json()


def leave_crashed_session(window, project: Project, example: bool = False, name: str = "session-1-dead") -> Path:
    """What a crashed session leaves behind: its recovery file, and no lock a live process holds."""
    folder = window.autosaver.folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_bytes(recovery_bytes(project, example))
    return path


# ---- writing -----------------------------------------------------------------------------

def test_unsaved_changes_are_written_once_per_interval_and_only_then(window, saved, qtbot):
    saver = window.autosaver
    assert saver.interval_ms == INTERVAL_MS == 60_000
    assert not saver.save_now() and recovery_files(window) == []  # nothing unsaved: nothing written
    edit(window)
    assert saver.pending and recovery_files(window) == []  # scheduled, not written at once
    edit(window, 5)
    assert saver.pending and recovery_files(window) == []  # more edits do not write sooner
    saver.set_interval(20)
    saver._timer.start()  # the interval is over
    with qtbot.waitSignal(saver.written, timeout=10_000):
        pass
    assert not saver.pending and recovery_files(window) == [saver.path.name, saver.path.with_suffix(".lock").name]
    assert as_saved(saver.path.read_bytes()) == window.document.project.to_json()
    assert json.loads(saver.path.read_bytes())["gui"][RECOVERY_KEY] == {"path": str(saved), "example": False}
    edit(window)
    assert saver.pending  # the next change waits for the next interval
    count(SUBJECT, "edits: one write per interval, the file holds the unsaved project")


@pytest.mark.parametrize("how", ["save", "save as", "undo to the saved state", "open another project",
                                 "close, saving", "close, discarding"])
def test_the_recovery_file_goes_when_nothing_is_unsaved(window, saved, dialogs, how, tmp_path):
    saver = window.autosaver
    edit(window)
    assert saver.save_now() and saver.path.exists()
    if how == "save":
        assert window.save()
    elif how == "save as":
        assert window.save_as(tmp_path / "other.json")
    elif how == "undo to the saved state":
        window.document.undo_stack.undo()
    elif how == "open another project":
        dialogs.answer = Button.Discard
        assert window.open_project(saved)
    else:
        dialogs.answer = Button.Save if how == "close, saving" else Button.Discard
        assert window.close()
    assert recovery_files(window) == [] and not saver.pending
    if how.startswith("save") or how == "close, saving":
        assert len(load_project(saved if how != "save as" else tmp_path / "other.json").graph) == 8
    count(SUBJECT, f"{how}: the recovery file removed")


def test_a_cancelled_close_keeps_the_recovery_file(window, saved, dialogs):
    edit(window)
    assert window.autosaver.save_now()
    dialogs.answer = Button.Cancel
    assert not window.close()
    assert window.autosaver.path.exists()
    count(SUBJECT, "close cancelled: the recovery file kept")


@pytest.mark.parametrize("step", STEPS)
def test_a_disk_that_refuses_an_autosave_loses_nothing(window, saved, step, monkeypatch, qtbot):
    saver = window.autosaver
    edit(window)
    assert saver.save_now()
    before = saver.path.read_bytes()
    edit(window)
    with monkeypatch.context() as patch:
        inject(patch, step, ERRORS["disk full (ENOSPC)"])
        assert not saver.save_now()
    assert "Autosave failed: No space left on device" in window.statusBar().currentMessage()
    assert saver.path.read_bytes() == before  # the last good recovery file is intact
    assert [n for n in recovery_files(window) if n.endswith(".tmp")] == []
    edit(window)
    assert saver.pending  # the next change tries again
    assert saver.save_now() and as_saved(saver.path.read_bytes()) == window.document.project.to_json()
    count(SUBJECT, f"disk full at {step} of an autosave: the last recovery file intact, the next one works")


# ---- restoring ------------------------------------------------------------------------------

def test_after_a_real_crash_the_next_start_restores_the_work(window, saved, dialogs, tmp_path):
    """A real process edits the project, autosaves and is killed; this process restores its work."""
    settings = tmp_path / "settings"
    crashed = run_app_script(
        "import os, signal\n"
        "from PySide6.QtCore import QCoreApplication\n"
        "app = create_app()\n"
        "QCoreApplication.setOrganizationName('NeurocanvasTests')\n"
        "QCoreApplication.setApplicationName('NeurocanvasTests')\n"
        "w = MainWindow()\n"
        f"assert w.open_project({str(saved)!r})\n"
        "w.document.add_node('Dropout', (500.0, 300.0))\n"
        "assert w.autosaver.save_now()\n"
        "print(w.document.project.to_json(), end='', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n",
        settings)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    left = recovery_files(window)
    assert len(left) == 2 and left[0].endswith(".json") and left[1].endswith(".lock")  # the lock is stale
    dialogs.answer = Button.Yes
    window.open_initial()
    assert dialogs.kinds() == ["question"] and "did not close normally" in dialogs.texts("question")[0]
    assert "model.json" in dialogs.texts("question")[0]
    assert window.document.project.to_json() == crashed.stdout  # the work, as it was
    assert window.isWindowModified() and window.windowTitle().startswith("model.json[*]")
    assert recovery_files(window) == [window.autosaver.path.name, window.autosaver.path.with_suffix(".lock").name]
    assert window.save()  # Save writes to the original file, without asking where
    assert dialogs.kinds() == ["question"] and load_project(saved).to_json() == window.document.project.to_json()
    assert recovery_files(window) == []
    count(SUBJECT, "a real process killed: its work restored, saved to its file")


def test_discard_deletes_the_crashed_sessions_work(window, saved, dialogs):
    project = load_project(saved)
    project.graph.add_node("ReLU", {}, "lost", (0, 0))
    leave_crashed_session(window, project)
    dialogs.answer = Button.Discard
    window.open_initial(str(saved))
    assert dialogs.kinds() == ["question"] and recovery_files(window) == []
    assert not window.isWindowModified() and "lost" not in window.document.graph.node_ids()
    count(SUBJECT, "restore declined: the file deleted, the start goes on as usual")


@pytest.mark.parametrize("kind", ["untitled", "example"])
def test_work_without_a_file_of_its_own_is_restored_and_save_asks_where(window, dialogs, kind, tmp_path):
    project = Project(name="scratch")
    if kind == "example":
        project = load_project(EXAMPLES / "iris_mlp.json")
        project.path = None
    build_cnn(project.graph) if kind == "untitled" else project.graph.add_node("ReLU", {}, "extra", (0, 0))
    leave_crashed_session(window, project, example=kind == "example")
    dialogs.answer = Button.Yes
    window.open_initial()
    assert window.document.project.path is None and window.is_example == (kind == "example")
    assert window.isWindowModified() and window.document.project.to_json() == project.to_json()
    dialogs.save_path = str(tmp_path / "kept.json")
    assert window.save()
    assert load_project(tmp_path / "kept.json").to_json() == window.document.project.to_json()
    assert recovery_files(window) == []
    count(SUBJECT, f"{kind} work restored: Save asks where, then the recovery file goes")


def test_a_live_sessions_work_is_not_offered(window, saved, dialogs, qtbot):
    from gui.main_window import MainWindow

    edit(window)
    assert window.autosaver.save_now()  # this session is alive and holds its lock
    other = MainWindow()
    qtbot.addWidget(other)
    other.open_initial(str(saved))
    assert dialogs.kinds() == [] and window.autosaver.path.exists()
    count(SUBJECT, "another live session's file: not offered")


def test_an_unreadable_recovery_file_is_kept_aside(window, saved, dialogs):
    folder = window.autosaver.folder
    folder.mkdir(parents=True)
    (folder / "session-1-dead.json").write_bytes(b'{"format": "neurocanvas", "nodes": [')
    window.open_initial(str(saved))
    assert dialogs.kinds() == ["warning"] and recovery_files(window) == ["session-1-dead.unreadable"]
    assert window.document.project.path == saved and not window.isWindowModified()
    count(SUBJECT, "an unreadable recovery file: kept aside, the start goes on")


def test_several_crashed_sessions_are_offered_newest_first_one_per_start(window, saved, dialogs):
    older, newer = load_project(saved), load_project(saved)
    older.graph.add_node("ReLU", {}, "older", (0, 0))
    newer.graph.add_node("ReLU", {}, "newer", (0, 0))
    old_path = leave_crashed_session(window, older, name="session-1-old")
    os.utime(old_path, (1_000_000, 1_000_000))
    leave_crashed_session(window, newer, name="session-2-new")
    dialogs.answer = Button.Yes
    window.open_initial()
    assert dialogs.kinds() == ["question"] and "newer" in window.document.graph.node_ids()
    assert old_path.exists()  # offered at the next start
    count(SUBJECT, "two crashed sessions: the newest offered, the other kept for later")


def test_a_window_destroyed_without_closing_keeps_the_work_for_the_next_start(window, saved, dialogs):
    """The application quits without a close event (say, the session ends): the emptied undo stack
    must not count as saved."""
    import gc

    import shiboken6

    from gui.main_window import MainWindow

    gone = MainWindow()
    assert gone.open_project(saved)
    edit(gone)
    assert gone.autosaver.save_now()
    work, path = gone.document.project.to_json(), gone.autosaver.path
    shiboken6.delete(gone)
    del gone
    gc.collect()
    assert path.exists()
    dialogs.answer = Button.Yes
    window.open_initial()
    assert dialogs.kinds() == ["question"] and window.document.project.to_json() == work
    count(SUBJECT, "a window destroyed without a close: its work offered at the next start")
