"""Starting and ending the editor from a terminal: a clear hint without a display, Ctrl+C closes the window
the normal way, and quitting waits only for file writes (issue 11, item 11)."""

import os
import signal
import subprocess
import sys
import threading

from gui.app import display_problem
from gui.workbench.tasks import TaskRunner
from tests.gui.app_process import ROOT

DRIVER = """
import sys
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QMessageBox
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[1])
from gui import app
from gui.main_window import MainWindow

def asked(*_args):
    print("ASKED", flush=True)
    return QMessageBox.StandardButton.Discard

QMessageBox.question = staticmethod(asked)
show = MainWindow.show

def shown(window):
    show(window)
    window.document.add_node("ReLU", (0, 0))  # unsaved: closing must ask
    QTimer.singleShot(0, lambda: print("SHOWN", flush=True))

MainWindow.show = shown
app.main(None)
"""


def test_no_display_gives_a_hint_and_status_2_before_qt_starts(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "no display found" in done.stderr and "xvfb-run -a python main.py" in done.stderr
    assert "xcb" not in done.stderr and "Traceback" not in done.stderr
    assert display_problem({"DISPLAY": ":0"}, "linux") == ""
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") == ""
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") == ""
    assert display_problem({}, "darwin") == ""


def test_ctrl_c_in_the_terminal_closes_the_window_through_the_unsaved_changes_prompt(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(tmp_path / "data"))
    process = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path / "settings")], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(120, process.kill)  # a window that never shows must fail the test, not hang it
    timer.start()
    try:
        assert process.stdout.readline().strip() == "SHOWN"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        timer.cancel()
        process.kill()
    assert process.returncode == 0, err
    assert out.split() == ["ASKED"]  # closed through the normal path: the prompt, then the window closed
    assert "KeyboardInterrupt" not in err


def test_quitting_waits_for_file_writes_but_not_for_reads(qtbot):
    tasks = TaskRunner(threads=2)
    release_reader, reader_ended, writer_ended = threading.Event(), threading.Event(), threading.Event()

    def read():
        release_reader.wait(60)
        reader_ended.set()

    def write():
        threading.Event().wait(0.2)
        writer_ended.set()

    tasks.submit(read, print, print)
    tasks.submit(write, print, print, writes=True)
    tasks.shutdown()
    assert writer_ended.is_set()  # the export/import finished writing
    assert not reader_ended.is_set()  # the preview/engine import was not waited for
    release_reader.set()
    tasks.wait()


def test_a_first_start_larger_than_the_screen_is_maximised_and_a_remembered_size_is_kept(qtbot):
    from PySide6.QtCore import QSettings

    from gui.app import show_fitted
    from gui.main_window import MainWindow

    first = MainWindow()  # 1440x900 on the offscreen platform's smaller screen
    qtbot.addWidget(first)
    assert first.height() > first.screen().availableGeometry().height()
    show_fitted(first)
    assert first.isMaximized()
    first.showNormal()
    first.resize(600, 400)
    first.save_settings()
    assert QSettings().value("window/geometry") is not None
    later = MainWindow()
    qtbot.addWidget(later)
    show_fitted(later)
    assert not later.isMaximized()


def test_a_job_ending_after_its_runner_went_drops_its_result_quietly(qtbot, capfd):
    import shiboken6

    tasks = TaskRunner(threads=1)
    release, delivered = threading.Event(), []
    tasks.submit(lambda: release.wait(60) and "done", delivered.append, delivered.append)
    shiboken6.delete(tasks._signals)  # what a closed window's teardown leaves behind
    release.set()
    assert tasks.wait(10_000)
    qtbot.wait(20)
    assert delivered == []
    assert "exception" not in capfd.readouterr().err.lower()
