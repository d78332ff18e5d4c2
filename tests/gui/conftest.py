"""Fixtures for the editor tests: offscreen Qt, isolated QSettings, captured dialogs, a main window.

Every test gets its own settings folder (INI format under tmp_path) and data folder
(XDG_DATA_HOME, where autosave writes recovery files), so no test reads or writes a
real user's settings or files, and every modal dialog is replaced by a recorder, so
no test can block on one.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


class Dialogs:
    """Stands in for QMessageBox and QFileDialog; tests set the answers and read what was shown."""

    def __init__(self):
        self.shown: list[tuple[str, str, str]] = []  # (kind, title, text)
        self.answer = QMessageBox.StandardButton.Discard
        self.open_path = ""
        self.save_path = ""

    def kinds(self) -> list[str]:
        return [kind for kind, _title, _text in self.shown]

    def texts(self, kind: str) -> list[str]:
        return [text for k, _title, text in self.shown if k == kind]


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, qapp, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # recovery files (gui.autosave) go here
    QCoreApplication.setOrganizationName("NeurocanvasTests")
    QCoreApplication.setApplicationName("NeurocanvasTests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield tmp_path / "settings"


@pytest.fixture(autouse=True)
def dialogs(monkeypatch):
    record = Dialogs()

    def message(kind):
        def show(_parent, title, text, *args, **kwargs):
            record.shown.append((kind, title, text))
            return record.answer if kind == "question" else QMessageBox.StandardButton.Ok
        return staticmethod(show)

    for kind in ("question", "critical", "warning", "information", "about"):
        monkeypatch.setattr(QMessageBox, kind, message(kind))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (record.open_path, "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (record.save_path, "")))
    return record


@pytest.fixture(scope="session", autouse=True)
def themed(qapp):
    from gui import theme

    theme.apply(qapp)


@pytest.fixture
def window(qtbot):
    from gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.document.undo_stack.setClean()


@pytest.fixture
def example():
    def path(name: str) -> Path:
        p = EXAMPLES / f"{name}.json"
        if not p.exists():
            pytest.skip(f"example {p.name} is not there")
        return p
    return path


def build_cnn(graph):
    """A small valid classifier: x -> conv -> act -> flat -> fc -> loss <- y. Returns the ids in order."""
    graph.add_node("Input", {"shape": [1, 8, 8]}, "x", (0, 0))
    graph.add_node("Conv2d", {"out_channels": 8, "kernel_size": 3}, "conv", (200, 0))
    graph.add_node("ReLU", {}, "act", (400, 0))
    graph.add_node("Flatten", {}, "flat", (600, 0))
    graph.add_node("Linear", {"out_features": 10}, "fc", (800, 0))
    graph.add_node("Target", {"shape": []}, "y", (800, 200))
    graph.add_node("CrossEntropyLoss", {}, "loss", (1000, 0))
    for source, target in (("x", "conv"), ("conv", "act"), ("act", "flat"), ("flat", "fc")):
        graph.connect(source, target)
    graph.connect("fc", "loss", target_port="input")
    graph.connect("y", "loss", target_port="target")
    return ["x", "conv", "act", "flat", "fc", "y", "loss"]


@pytest.fixture
def cnn_builder():
    return build_cnn


@pytest.fixture
def cnn_project():
    from graphs.project import Project

    project = Project(name="small cnn")
    build_cnn(project.graph)
    return project


@pytest.fixture
def cnn_window(window, cnn_project, qtbot):
    """The main window on the small CNN, at zoom 0.8 (scene distances map to whole pixels, so drags
    land where the tests say) around the middle of the graph."""
    window._set_project(cnn_project)
    window.document.flush()
    window._apply_view()
    window.view.set_zoom(0.8)
    window.view.centerOn(window.scene.nodes_rect().center())
    return window
