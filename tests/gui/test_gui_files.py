"""Files: save / reopen, failures shown in dialogs, examples opened as copies, recent files, settings."""

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from gui import files
from gui.main_window import MainWindow
from tests.gui.app_process import run_app_script

Button = QMessageBox.StandardButton


def test_save_close_reopen_gives_the_same_document(cnn_window, tmp_path, qtbot):
    w = cnn_window
    w.document.add_node("Dropout", (300, 300))
    w.document.move_nodes({"x": (-40, 20)})
    path = tmp_path / "model.json"
    assert w.save_as(path)
    snapshot = w.document.graph.snapshot()
    assert not w.isWindowModified()
    assert w.close()
    other = MainWindow()
    qtbot.addWidget(other)
    assert other.open_project(path)
    assert other.document.graph.snapshot() == snapshot
    assert other.document.graph.node("x").position == (-40.0, 20.0)
    assert "zoom" in other.document.project.gui["view"]
    assert other.windowTitle().startswith("model.json")


def test_failed_open_shows_dialog_and_keeps_document(cnn_window, tmp_path, dialogs):
    w = cnn_window
    w.document.add_node("ReLU", (0, 300))  # unsaved, but the user chose to discard
    project, snapshot = w.document.project, w.document.graph.snapshot()
    bad = tmp_path / "broken.json"
    bad.write_text('{"format": "neurocanvas", "version": 1, "nodes": [{"id": "a", "type": "Nope"}]}')
    assert not w.open_project(bad)
    assert dialogs.kinds() == ["question", "critical"]
    assert "unknown node type 'Nope'" in dialogs.texts("critical")[0]
    assert str(bad) in dialogs.texts("critical")[0]
    assert w.document.project is project and w.document.graph.snapshot() == snapshot
    assert not w.open_project(tmp_path / "missing.json")
    assert "cannot read the file" in dialogs.texts("critical")[1]


def test_failed_save_shows_dialog_and_keeps_document(cnn_window, tmp_path, dialogs):
    w = cnn_window
    w.document.add_node("ReLU", (0, 300))
    target = tmp_path / "no" / "such" / "folder" / "m.json"
    assert not w.save_as(target)
    assert dialogs.kinds() == ["critical"] and "cannot save" in dialogs.texts("critical")[0]
    assert w.isWindowModified() and w.document.project.path is None
    assert not target.exists()


def test_example_opens_as_a_copy_and_save_asks_where(window, example, tmp_path, dialogs):
    path = example("iris_mlp")
    shipped = path.read_bytes()
    assert window.open_project(path)
    assert window.document.project.path is None and window.is_example
    assert "(example)" in window.windowTitle()
    window.document.add_node("ReLU", (0, 500))
    dialogs.save_path = ""  # the user cancels the Save As dialog
    assert not window.save()
    assert path.read_bytes() == shipped
    dialogs.save_path = str(tmp_path / "mine")
    assert window.save()
    assert (tmp_path / "mine.json").exists() and path.read_bytes() == shipped
    assert window.document.project.path == tmp_path / "mine.json"
    assert not window.is_example and not window.isWindowModified()


def test_window_modified_follows_the_undo_stack(cnn_window, tmp_path):
    w = cnn_window
    assert "[*]" in w.windowTitle() and not w.isWindowModified()
    w.document.add_node("ReLU", (0, 300))
    assert w.isWindowModified()
    w.document.undo_stack.undo()
    assert not w.isWindowModified()
    w.document.add_node("ReLU", (0, 300))
    w.save_as(tmp_path / "a.json")
    assert not w.isWindowModified()
    w.act.undo.trigger()
    assert w.isWindowModified()
    assert w.act.undo.text() == "&Undo Set kernel_size of 'conv'" or w.act.undo.text().startswith("&Undo")


def test_unsaved_changes_prompt_save_discard_cancel(cnn_window, example, tmp_path, dialogs):
    w = cnn_window
    w.document.add_node("ReLU", (0, 300))
    snapshot = w.document.graph.snapshot()
    dialogs.answer = Button.Cancel
    assert not w.open_project(example("iris_mlp"))
    assert w.document.graph.snapshot() == snapshot
    assert not w.close() and w.isVisible()
    dialogs.answer = Button.Save
    dialogs.save_path = str(tmp_path / "kept.json")
    assert w.open_project(example("iris_mlp"))
    assert (tmp_path / "kept.json").exists()
    w.document.add_node("ReLU", (0, 300))
    dialogs.answer = Button.Discard
    assert w.new_project()
    assert len(w.document.graph) == 0 and w.windowTitle().startswith("untitled")
    assert dialogs.kinds().count("question") == 4


def test_recent_files_and_last_project(window, cnn_project, tmp_path, qtbot):
    paths = []
    for i in range(12):
        window._set_project(cnn_project)
        path = tmp_path / f"p{i}.json"
        window.save_as(path)
        paths.append(str(path.resolve()))
    recent = window.recent.paths()
    assert len(recent) == files.MAX_RECENT and recent[0] == paths[-1] and recent[-1] == paths[2]
    window.fill_recent_menu()
    labels = [a.text() for a in window.menus["recent"].actions() if a.text()]
    assert labels[0].startswith("&1  p11.json")
    fresh = MainWindow()
    qtbot.addWidget(fresh)
    fresh.open_initial(None)
    assert fresh.document.project.path == Path(paths[-1])


def test_start_up_falls_back_to_the_digits_example(window, tmp_path):
    if not files.DEFAULT_EXAMPLE.exists():
        pytest.skip("digits example missing")
    window.recent.add(tmp_path / "gone.json")  # the last project was deleted since
    window.open_initial(None)
    assert window.is_example and window.document.project.path is None
    assert window.document.result.valid


def test_examples_menu_opens_each_as_copy(window):
    window.fill_examples_menu()
    actions = [a for a in window.menus["examples"].actions() if a.isEnabled()]
    assert len(actions) == len(files.example_paths())
    if actions:
        actions[0].trigger()
        assert window.is_example and window.document.project.path is None


def test_dock_layout_and_geometry_are_remembered(window, qtbot):
    summary = window.docks["Model Summary"]
    assert summary.isVisible()
    summary.hide()
    window.resize(760, 560)  # inside the offscreen screen (800 x 600), which restoreGeometry clamps to
    assert window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert not again.docks["Model Summary"].isVisible()
    assert again.docks["Palette"].isVisible()
    assert again.size().width() == window.size().width()
    again.reset_panel_layout()
    assert again.docks["Model Summary"].isVisible()


def test_add_dock_helper_and_menus(window):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    dock = window.add_dock(QLabel("training"), "Training", Qt.DockWidgetArea.BottomDockWidgetArea)
    assert dock.objectName() == "TrainingDock"
    assert dock.toggleViewAction() in window.menus["panels"].actions()
    assert {"file", "edit", "view", "help", "export", "recent", "examples"} <= set(window.menus)


def test_a_dock_added_later_gets_its_place_back(window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    dock = window.add_dock(QLabel("training"), "Training", Qt.DockWidgetArea.BottomDockWidgetArea)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    assert window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    late = again.add_dock(QLabel("training"), "Training", Qt.DockWidgetArea.BottomDockWidgetArea)
    assert again.dockWidgetArea(late) == Qt.DockWidgetArea.LeftDockWidgetArea


def test_standard_shortcuts(window):
    from PySide6.QtGui import QKeySequence

    a = window.act
    assert a.save.shortcut() == QKeySequence(QKeySequence.StandardKey.Save)
    assert a.open.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert a.new.shortcut() == QKeySequence(QKeySequence.StandardKey.New)
    assert a.undo.shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    assert a.duplicate.shortcut().toString() == "Ctrl+D"
    assert a.auto_layout.shortcut().toString() == "Ctrl+L"
    assert a.frame_all.shortcut().toString() == "F"
    assert a.frame_selected.shortcut().toString() == "Shift+F"


def test_run_opens_the_given_project(monkeypatch, cnn_window, tmp_path):
    from gui import app as app_module

    path = tmp_path / "run.json"
    cnn_window.save_as(path)
    seen = {}

    def fake_exec(*_args):
        window = QApplication.instance()._neurocanvas_window
        seen["title"] = window.windowTitle()
        seen["nodes"] = len(window.document.graph)
        seen["name"] = QApplication.applicationName()
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert app_module.run(str(path)) == 0
    assert seen == {"title": "run.json[*] — Neurocanvas", "nodes": 7, "name": "Neurocanvas"}


def test_start_up_imports_no_torch(tmp_path):
    out = run_app_script(
        "import sys\n"
        "app = create_app()\n"
        "w = MainWindow()\n"
        "w.open_initial(None)\n"
        "w.show()\n"
        "app.processEvents()\n"
        "print('torch' in sys.modules, len(w.document.graph))\n"
        "w.document.undo_stack.setClean()\n",
        tmp_path)
    assert out.returncode == 0, out.stderr
    torch_loaded, _nodes = out.stdout.split()
    assert torch_loaded == "False"


def test_file_dialogs_start_in_the_last_used_folder(tmp_path, monkeypatch):
    project_dir, used, gone = tmp_path / "projects", tmp_path / "exports", tmp_path / "gone"
    for folder in (project_dir, used, gone):
        folder.mkdir()
    monkeypatch.chdir(tmp_path)  # never the process's working folder
    assert files.start_folder(None) == Path.home()
    assert files.start_folder(project_dir / "p.json") == project_dir
    assert files.start_folder(files.DEFAULT_EXAMPLE) == Path.home()  # not into the shipped examples
    files.remember_folder(used / "model.onnx")
    assert files.start_folder(project_dir / "p.json") == used.resolve()
    files.remember_folder(gone)  # a chosen folder is remembered as itself
    assert files.start_folder(None) == gone.resolve()
    gone.rmdir()
    assert files.start_folder(project_dir / "p.json") == project_dir
    files.RecentFiles().add(project_dir / "p.json")  # opening or saving a project remembers its folder
    assert files.start_folder(None) == project_dir.resolve()


def test_open_and_save_as_dialogs_start_where_an_export_was_written(cnn_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    exports = tmp_path / "exports"
    exports.mkdir()
    files.remember_folder(exports / "model.onnx")  # as File > Export does
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (asked.append(a[2]), ("", ""))[1])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (asked.append(a[2]), ("", ""))[1])
    assert not cnn_window.open_dialog() and not cnn_window.save_as_dialog()
    assert Path(asked[0]) == exports.resolve() and Path(asked[1]).parent == exports.resolve()
