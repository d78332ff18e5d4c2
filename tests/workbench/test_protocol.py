"""The workbench needs only `gui.workbench.protocol.WorkbenchWindow` of its window: it installs into, and
trains from, a small QMainWindow that has nothing else of the editor's MainWindow."""

from PySide6.QtWidgets import QDockWidget, QMainWindow

from graphs.project import load_project
from gui import files
from gui.canvas.scene import CanvasScene
from gui.document import DocumentController
from gui.workbench import install
from gui.workbench.protocol import WorkbenchWindow
from tests.workbench.conftest import EXAMPLES, RUN_TIMEOUT_MS

PROTOCOL_MEMBERS = {"document", "scene", "menus", "docks", "add_dock", "show_message", "save", "maybe_save",
                    "open_project"}


class FakeWindow(QMainWindow):
    """Only the protocol's own members, on a plain QMainWindow."""

    def __init__(self):
        super().__init__()
        self.document = DocumentController(parent=self)
        self.scene = CanvasScene(self.document, self)
        bar = self.menuBar()
        self.menus = {"file": bar.addMenu("File"), "help": bar.addMenu("Help"), "panels": bar.addMenu("Panels")}
        self.menus["examples"] = self.menus["file"].addMenu("Examples")
        self.menus["export"] = self.menus["file"].addMenu("Export")
        self.docks: dict[str, QDockWidget] = {}
        self.messages: list[str] = []
        self.saved = 0

    def add_dock(self, widget, title, area, object_name=None):
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name or title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[title] = dock
        return dock

    def show_message(self, text, timeout_ms=8000):
        self.messages.append(text)

    def save(self):
        self.saved += 1
        return True

    def maybe_save(self):
        return True

    def open_project(self, path):
        project = load_project(path)
        if files.is_example(path):  # a copy, as MainWindow opens it: runs are not written beside the example
            project.path = None
        self.document.set_project(project)
        return True


def test_the_fake_has_only_the_protocol_and_the_main_window_satisfies_it(qtbot):
    from gui.main_window import MainWindow

    fake = FakeWindow()
    qtbot.addWidget(fake)
    own = {name for name in set(dir(fake)) - set(dir(QMainWindow)) if not name.startswith("_")}
    assert own - {"messages", "saved"} == PROTOCOL_MEMBERS  # what the test reads back aside
    assert isinstance(fake, WorkbenchWindow)
    window = MainWindow()
    qtbot.addWidget(window)
    assert isinstance(window, WorkbenchWindow) and not isinstance(QMainWindow(), WorkbenchWindow)


def test_the_workbench_installs_and_trains_in_a_window_with_only_the_protocol(qtbot, tmp_path):
    window = FakeWindow()
    qtbot.addWidget(window)
    bench = install(window)
    assert install(window) is bench and window.workbench is bench
    assert {"Data", "Training", "Training Curves", "Runs", "Evaluation"} <= set(window.docks)
    assert "train" in window.menus and bench.actions.a.start in window.menus["train"].actions()
    window.show()
    qtbot.waitExposed(window)

    assert window.open_project(EXAMPLES / "iris_mlp.json")
    settings = bench.settings.training
    settings.update({"device": "cpu", "epochs": 1})
    bench.settings.update(settings, "test settings")
    bench.runs_root = tmp_path / "runs"
    bench.run_options.update(max_batches=2)
    with qtbot.waitSignal(bench.controller.stateChanged, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=lambda state: state == "idle"):
        bench.actions.a.start.trigger()
    run = bench.runs_panel.runs[-1]
    assert run.status == "finished", run.message
    assert len(run.result.history) == 1 and run.result.weights.exists()
    assert any(message.startswith(f"Run {run.number} started") for message in window.messages)
    bench.stop_and_wait()
    bench.tasks.wait()
