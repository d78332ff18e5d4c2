"""Custom layers in the editor: the trust dialog before anything runs, the answer remembered per folder
and file contents, the palette's "Custom" category, and custom nodes on the canvas."""

import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QPlainTextEdit

from graphs.custom_types import CodeFile
from gui import trust
from gui.trust import TrustDialog

FIXTURE = Path(__file__).resolve().parents[1] / "engine" / "fixtures" / "custom_layers"
MARKER = '\nfrom pathlib import Path as _Path\n_Path(__file__).with_name("ran.marker").write_text("ran")\n'


@pytest.fixture
def folder(tmp_path):
    target = tmp_path / "project"
    shutil.copytree(FIXTURE, target)
    with open(target / "custom_layers.py", "a", encoding="utf-8") as handle:
        handle.write(MARKER)
    return target


@pytest.fixture
def answers(monkeypatch):
    """The trust dialog's answers, in turn; records the files each question showed."""
    asked = []

    class Answers(list):
        def ask(self, _parent, files):
            asked.append([file.path.name for file in files])
            return self.pop(0)

    record = Answers()
    record.asked = asked
    monkeypatch.setattr(trust, "ask", record.ask)
    return record


def test_declining_opens_nothing_and_runs_nothing(window, folder, answers, dialogs):
    answers.append(False)
    before = window.document.graph.snapshot()
    assert not window.open_project(folder / "project.json")
    assert answers.asked == [["custom_layers.py"]]
    assert not (folder / "ran.marker").exists()
    assert window.document.graph.snapshot() == before and "critical" not in dialogs.kinds()


def test_trusting_opens_it_and_is_remembered_until_the_file_changes(window, folder, answers, qtbot):
    answers.append(True)
    assert window.open_project(folder / "project.json")
    assert (folder / "ran.marker").exists()
    assert window.document.graph.node("se").spec.category == "Custom"
    result = window.document.result
    assert result.valid and result.output_shapes("se") == {"out": (8, 8, 8)} and result.info["se"].params == 76
    assert window.open_project(folder / "project.json")  # the same files: not asked again
    assert len(answers.asked) == 1
    with open(folder / "custom_layers.py", "a", encoding="utf-8") as handle:
        handle.write("# changed\n")
    answers.append(False)
    assert not window.open_project(folder / "project.json")
    assert len(answers.asked) == 2


def test_custom_types_appear_in_the_palette_and_add_as_undoable_nodes(window, folder, answers, example):
    answers.append(True)
    assert window.open_project(folder / "project.json")
    custom = window.palette._categories["Custom"]
    assert [custom.child(i).text(0) for i in range(custom.childCount())] == ["SqueezeExcite", "Amplify"]
    assert "Multiplies its input by a constant factor." in window.palette.item("Amplify").toolTip(0)
    window.palette.search.setText("amplif")
    assert window.palette.visible_types() == ["Amplify"]
    window.palette.search.setText("custom")
    assert window.palette.visible_types() == ["SqueezeExcite", "Amplify"]
    window.palette.search.clear()
    node_id = window.add_from_palette("Amplify")
    assert window.document.graph.node(node_id).resolved_params() == {"factor": 2.0}
    assert window.scene.node_item(node_id).category == "Custom"
    window.document.undo_stack.undo()
    assert not window.document.graph.has_node(node_id)
    # another project: its palette has no Custom category
    assert window.open_project(example("digits_cnn"))
    assert "Custom" not in window.palette._categories and "Amplify" not in window.palette.visible_types()


def test_the_dialog_shows_each_file_escaped_and_read_only(qtbot, tmp_path):
    file = CodeFile("custom_layers.py", tmp_path / "custom_layers.py", "x = 1\nprint('\x1b[2J')\n")
    dialog = TrustDialog([file])
    qtbot.addWidget(dialog)
    assert dialog.shown_text() == "x = 1\nprint('\\x1b[2J')\n"
    assert dialog.tabs.widget(0).isReadOnly() and isinstance(dialog.tabs.widget(0), QPlainTextEdit)
    assert dialog.cancel_button.isDefault() and dialog.trust_button.text() == "Trust and Open"


def test_a_crashed_sessions_work_on_a_custom_project_is_restored_after_trusting_it(window, folder, answers, dialogs):
    from PySide6.QtWidgets import QMessageBox

    from engine.custom_layers import code_loader
    from graphs.project import load_project
    from tests.reliability.gui.test_autosave import leave_crashed_session

    project = load_project(folder / "project.json", code_loader(True))
    project.graph.add_node("Amplify", {"factor": 3.0}, "added", (0, 300))
    leave_crashed_session(window, project)
    answers.append(True)  # the recovery file lives elsewhere: its code is shown and trusted again
    dialogs.answer = QMessageBox.StandardButton.Yes
    window.open_initial(str(folder / "project.json"))
    assert window.document.graph.node("added").resolved_params() == {"factor": 3.0}
    assert window.document.project.custom_code is None  # as the project lists it: custom_layers.py beside it
    assert window.document.project.path == folder / "project.json" and window.isWindowModified()


def test_the_quick_add_popup_lists_the_projects_custom_layers(window, folder, answers):
    answers.append(True)
    assert window.open_project(folder / "project.json")
    window.view.open_quick_add()
    popup = window.view.quick_add
    popup.search.setText("squeezeex")
    assert popup.current() == "SqueezeExcite" and "Custom" in popup.list.currentItem().text()
    popup.accept_current()
    added = [n for n in window.document.graph.nodes() if n.type == "SqueezeExcite" and n.id != "se"]
    assert len(added) == 1


def test_copy_and_paste_of_a_custom_node_runs_no_code(window, folder, answers, monkeypatch):
    answers.append(True)
    assert window.open_project(folder / "project.json")
    (folder / "ran.marker").unlink()
    window.scene.select_nodes(["se"])
    assert window.copy()
    new_ids = window.paste()
    assert len(new_ids) == 1 and window.document.graph.node(new_ids[0]).type == "SqueezeExcite"
    assert not (folder / "ran.marker").exists()  # pasting reads no file: the project's types serve


def test_a_custom_layer_groups_into_a_unit_and_is_added_inside_one(window, folder, answers, tmp_path):
    answers.append(True)
    assert window.open_project(folder / "project.json")
    doc = window.document
    window.scene.select_nodes(["conv1", "se"])
    instance = window.units.group_selection("SEBlock")
    result = doc.flush()
    assert not result.errors and result.info[instance].params == 80 + 76
    assert doc.graph.unit_graph("SEBlock").node("se").spec.category == "Custom"
    window.units.open_instance(instance)
    node_id = window.add_from_palette("Amplify")
    assert doc.scope_graph.node(node_id).spec.category == "Custom"
    assert window.scene.node_item(node_id).category == "Custom"
    doc.undo_stack.undo()
    assert not doc.scope_graph.has_node(node_id)
    window.units.leave()
    assert doc.flush().output_shapes("fc") == {"out": (10,)}
    assert window.save_as(folder / "grouped.json")
    answers.append(True)
    assert window.open_project(folder / "grouped.json")
    assert window.document.graph.unit_graph("SEBlock").node("se").type == "SqueezeExcite"
