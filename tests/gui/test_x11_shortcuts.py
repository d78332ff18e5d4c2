"""The documented shortcuts, pressed for real on an X server (Xvfb, Qt's xcb platform, xdotool).

Offscreen Qt reports Windows-style key bindings, so only a real X server shows what a Linux user
gets: on xcb, Redo's standard binding is Ctrl+Shift+Z alone and Delete's holds Ctrl+D, and a
sequence bound twice makes Qt print "Ambiguous shortcut overload" and fire neither action. The
editor runs in its own process; xdotool types into it through the X server (XTEST), and the
editor prints its document state whenever it changes. Skipped only when Xvfb or xdotool is missing
(`.ci/run` installs both).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time

import pytest

from graphs.project import save_project
from tests.gui.app_process import start_app_script

pytestmark = pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")),
                                reason="needs Xvfb and xdotool (apt-get install xvfb xdotool) for a real X server")

APP = """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from tests.gui.shortcut_check import bound_twice

app = create_app()
window = MainWindow()
window.open_initial(sys.argv[1])
window.show()
print("TWICE " + json.dumps(bound_twice(window)), flush=True)
last = None

def state():
    d, view = window.document, window.view
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    modal = QApplication.activeModalWidget()
    return {"nodes": len(d.graph), "index": d.undo_stack.index(), "clean": d.undo_stack.isClean(),
            "undo_text": d.undo_stack.undoText(), "selected": len(window.scene.selected_node_ids()),
            "zoom": round(view.zoom, 3), "quick_add": view.quick_add.isVisible(),
            "modal": type(modal).__name__ if modal else None, "active": window.isActiveWindow(),
            "all_visible": all(visible.contains(i.sceneBoundingRect()) for i in window.scene.node_items()),
            "window": int(window.winId())}

def report():
    global last
    now = state()
    if now != last:
        last = now
        print("STATE " + json.dumps(now), flush=True)

timer = QTimer()
timer.timeout.connect(report)
timer.start(50)
window.activateWindow()
window.view.setFocus()
sys.exit(app.exec())
"""


@pytest.fixture
def display():
    """A fresh Xvfb server; its display name, e.g. ':5'."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1440x900x24", "-nolisten",
                               "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait(10)


class Editor:
    """The editor process: its printed states in a queue, its stderr kept."""

    def __init__(self, process: subprocess.Popen, display: str):
        self.process, self.display = process, display
        self.lines: queue.Queue = queue.Queue()
        self.state: dict = {}
        self.twice = None
        self.stderr: list[str] = []
        threading.Thread(target=self._read, args=(process.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._read, args=(process.stderr, self.stderr.append), daemon=True).start()

    @staticmethod
    def _read(stream, sink) -> None:
        for line in stream:
            sink(line)

    def wait_for(self, what: str, predicate, timeout: float = 20.0) -> dict:
        """Read states until `predicate(state)` holds; fail naming `what` and the last state."""
        deadline = time.monotonic() + timeout
        while not (self.state and predicate(self.state)):
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(0.01, left))
            except queue.Empty:
                line = ""
            if line.startswith("STATE "):
                self.state = json.loads(line[6:])
            elif line.startswith("TWICE "):
                self.twice = json.loads(line[6:])
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not seen in {timeout:.0f} s; last state {self.state}; "
                            f"stderr: {''.join(self.stderr)[-2000:]}")
        return self.state

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=dict(os.environ, DISPLAY=self.display), check=True, timeout=20)

    def focus(self) -> None:
        """Give the main window the keyboard (there is no window manager to do it)."""
        self.xdotool("windowfocus", "--sync", str(self.state["window"]))
        self.wait_for("the window active", lambda s: s["active"])

    def press(self, keys: str, what: str, predicate) -> dict:
        self.xdotool("key", "--clearmodifiers", keys)
        return self.wait_for(f"{keys} ({what})", predicate)


@pytest.fixture
def editor(display, tmp_path, cnn_project):
    path = tmp_path / "small_cnn.json"
    save_project(cnn_project, path)
    env = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": display, "XDG_DATA_HOME": str(tmp_path / "data"),
           "HOME": str(tmp_path)}
    process = start_app_script(APP.replace("sys.argv[1]", repr(str(path))), tmp_path / "settings", env)
    app = Editor(process, display)
    app.project_path = path
    yield app
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def test_documented_shortcuts_work_on_x11(editor):
    editor.wait_for("the editor's first state", lambda s: s["nodes"] == 7, timeout=60)
    assert editor.twice == {}, f"key sequences bound to more than one action on xcb: {editor.twice}"
    editor.focus()
    saved = editor.project_path.read_text()

    editor.press("Tab", "quick add opens", lambda s: s["quick_add"])
    editor.xdotool("type", "--delay", "30", "ReLU")
    editor.press("Return", "a ReLU added", lambda s: s["nodes"] == 8 and s["index"] == 1)
    editor.press("ctrl+z", "undo", lambda s: s["nodes"] == 7 and s["index"] == 0)
    editor.press("ctrl+shift+z", "redo", lambda s: s["nodes"] == 8 and s["index"] == 1)
    editor.press("ctrl+z", "undo", lambda s: s["index"] == 0)
    editor.press("ctrl+y", "redo", lambda s: s["nodes"] == 8 and s["index"] == 1)

    editor.press("ctrl+a", "select all", lambda s: s["selected"] == 8)
    editor.press("ctrl+d", "duplicate", lambda s: s["nodes"] == 16 and s["selected"] == 8)
    editor.press("Delete", "delete the copies", lambda s: s["nodes"] == 8)
    editor.press("ctrl+a", "select all", lambda s: s["selected"] == 8)
    editor.press("BackSpace", "delete everything", lambda s: s["nodes"] == 0)
    editor.press("ctrl+z", "undo the delete", lambda s: s["nodes"] == 8)
    editor.press("ctrl+a", "select all", lambda s: s["selected"] == 8)
    editor.press("ctrl+c", "copy", lambda s: True)
    editor.press("ctrl+v", "paste", lambda s: s["nodes"] == 16)
    editor.press("ctrl+x", "cut", lambda s: s["nodes"] == 8)
    editor.press("ctrl+l", "auto-layout", lambda s: s["undo_text"] == "Auto-layout")

    editor.press("ctrl+0", "actual size", lambda s: s["zoom"] == 1.0)
    editor.press("ctrl+minus", "zoom out", lambda s: s["zoom"] == 0.8)
    editor.press("ctrl+plus", "zoom in", lambda s: s["zoom"] == 1.0)
    editor.press("ctrl+equal", "zoom in", lambda s: s["zoom"] == 1.25)
    editor.press("f", "frame all", lambda s: s["all_visible"] and s["zoom"] != 1.25)
    editor.press("ctrl+a", "select all", lambda s: s["selected"] == 8)
    editor.press("ctrl+0", "actual size", lambda s: s["zoom"] == 1.0)
    editor.press("shift+f", "frame the selection", lambda s: s["all_visible"])

    editor.press("ctrl+s", "save", lambda s: s["clean"])
    assert editor.project_path.read_text() != saved
    editor.press("ctrl+o", "the open dialog", lambda s: s["modal"] == "QFileDialog")
    editor.press("Escape", "the dialog closed", lambda s: s["modal"] is None)
    editor.focus()
    editor.press("ctrl+shift+s", "the save-as dialog", lambda s: s["modal"] == "QFileDialog")
    editor.press("Escape", "the dialog closed", lambda s: s["modal"] is None)
    editor.focus()
    editor.press("ctrl+n", "new project, at actual size", lambda s: s["nodes"] == 0 and s["index"] == 0 and s["zoom"] == 1.0)

    time.sleep(0.3)  # let Qt write what the last key made it say
    assert "Ambiguous shortcut overload" not in "".join(editor.stderr)
