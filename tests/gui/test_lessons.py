"""The starter lessons: each is a valid project that trains on built-in data, has its text, and opens from
Help > Lessons with the text beside the canvas."""

import json

import pytest
from PySide6.QtWidgets import QApplication

from engine.shapes import infer
from graphs.project import load_project
from graphs.validate import validate
from gui.lessons import LESSONS_DIR, lesson_paths, lesson_text, lesson_title

EXPECTED = ["01_neurons_and_layers", "02_activation_functions", "03_loss_functions", "04_optimisers",
            "05_overfitting_and_regularisation", "06_cnns_for_images", "07_recurrent_networks",
            "08_transfer_learning"]


def test_the_lessons_are_shipped_in_order():
    assert [p.stem for p in lesson_paths()] == EXPECTED
    assert lesson_title(lesson_paths()[1]) == "2. Activation functions"


@pytest.mark.parametrize("name", EXPECTED)
def test_each_lesson_has_text_that_names_its_nodes(name):
    path = LESSONS_DIR / f"{name}.json"
    text = lesson_text(path)
    assert text.startswith("# Lesson ") and "## What to" in text
    project = load_project(path)
    named = [node_id for node_id in project.graph.node_ids() if f"`{node_id}`" in text]
    assert named, "the text points at the project's nodes by their ids"
    assert "dataset" in project.training and project.training["dataset"]["name"] in (
        "moons", "spirals", "circles", "digits")


@pytest.mark.parametrize("name", EXPECTED)
def test_each_lesson_validates_and_trains_an_epoch(name, tmp_path):
    torch = pytest.importorskip("torch")
    from engine.training.trainer import Trainer

    torch.set_num_threads(1)
    project = load_project(LESSONS_DIR / f"{name}.json")
    assert validate(project.graph) == []
    assert infer(project.graph).errors == []
    run = Trainer(project, device="cpu", epochs=1, max_batches=2, out_dir=tmp_path / "run", threads=1).run()
    assert run.status == "finished" and len(run.history) == 1
    assert run.history[0]["train_loss"] == pytest.approx(run.history[0]["train_loss"])  # finite, not NaN


def test_the_overlay_lessons_say_what_to_change():
    """The lessons whose runs are overlaid name the exact setting to change before re-running."""
    for name, words in (("02_activation_functions", ["Sigmoid", "Tanh", "Runs"]),
                        ("03_loss_functions", ["loss_weight", "Runs"]),
                        ("04_optimisers", ["Momentum", "Adam", "Runs"]),
                        ("05_overfitting_and_regularisation", ["`p`", "Weight", "Early stopping", "Runs"])):
        text = lesson_text(LESSONS_DIR / f"{name}.json")
        assert all(word in text for word in words), name
    lesson3 = json.loads((LESSONS_DIR / "03_loss_functions.json").read_text())
    weights = {n["id"]: n["params"]["loss_weight"] for n in lesson3["nodes"] if "loss_weight" in n.get("params", {})}
    assert weights == {"cross_entropy": 1.0, "mse": 0.0}


def test_help_menu_opens_each_lesson_beside_the_canvas(window, qtbot):
    menu = window.menus["lessons"]
    assert menu in [action.menu() for action in window.menus["help"].actions()]
    menu.aboutToShow.emit()
    actions = [a for a in menu.actions() if a.text()[:1].isdigit()]
    assert [a.text() for a in actions] == [lesson_title(p) for p in lesson_paths()]
    dock = window.docks["Lesson"]
    assert not dock.isVisible()
    for action, path in zip(actions, lesson_paths()):
        action.trigger()
        QApplication.processEvents()
        assert dock.isVisible()
        assert window.lessons.view.lesson == path
        assert window.lessons.view.toPlainText().startswith(f"Lesson {int(path.stem[:2])}")
        assert window.document.project.name == load_project(path).name
        assert window.document.project.path is None and window.is_example  # Save asks where
        assert not window.document.result.errors
        assert window.document.undo_stack.isClean()


def test_a_lesson_keeps_an_unsaved_document_when_asked(window, dialogs):
    from PySide6.QtWidgets import QMessageBox

    window.add_from_palette("ReLU")
    assert not window.document.undo_stack.isClean()
    dialogs.answer = QMessageBox.StandardButton.Cancel
    before = window.document.project
    assert not window.lessons.open(lesson_paths()[0])
    assert window.document.project is before
    assert dialogs.kinds() == ["question"]


def test_the_lesson_text_goes_when_another_project_replaces_the_lesson(window):
    assert window.lessons.open(lesson_paths()[3])
    QApplication.processEvents()
    assert window.docks["Lesson"].isVisible()
    window.add_from_palette("ReLU")  # editing the lesson keeps its text
    assert window.docks["Lesson"].isVisible() and window.lessons.view.lesson == lesson_paths()[3]
    window.document.undo_stack.setClean()
    assert window.new_project()
    QApplication.processEvents()
    assert not window.docks["Lesson"].isVisible() and window.lessons.view.lesson is None


def test_the_transfer_learning_lesson_opens_with_its_shipped_weights(window):
    """The opened copy has no folder, so its relative `init_from` becomes the file beside the lesson."""
    path = LESSONS_DIR / "08_transfer_learning.json"
    assert load_project(path).training["init_from"] == "08_transfer_learning.safetensors"
    assert window.lessons.open(path)
    project = window.document.project
    assert project.path is None
    assert project.training["init_from"] == str(LESSONS_DIR.resolve() / "08_transfer_learning.safetensors")
    assert [n.id for n in project.graph.nodes() if not n.trainable] == ["conv1", "bn1"]
    assert window.workbench.settings.training["init_from"] == project.training["init_from"]  # the panel shows it
