"""The Data and Training panels: every change is an undoable edit of project.training, the Input and
Target shapes follow the chosen data, and device-only options appear only where they apply."""

import pytest


@pytest.fixture
def data_panel(open_example, qtbot):
    def open_(name: str):
        bench = open_example(name)
        bench.show_dock("data")
        qtbot.waitUntil(lambda: bench.data_panel.preview is not None, timeout=60_000)
        return bench, bench.data_panel
    return open_


def choose(combo, data) -> None:
    index = combo.findData(data) if combo.findData(data) >= 0 else combo.findText(data)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_choosing_a_dataset_fits_input_and_target_as_one_undo_step(data_panel, qtbot):
    bench, panel = data_panel("digits_cnn")
    graph, stack = bench.document.graph, bench.document.undo_stack
    assert panel.preview.kind == "images" and len(panel.preview.images) > 0
    assert panel.images.count == len(panel.preview.images)
    assert sum(panel.preview.class_counts.values()) == 1797

    choose(panel.source, "sine")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"]["name"] == "sine", timeout=30_000)
    assert graph.node("x").params["shape"] == [1]
    assert graph.node("y").params == {"shape": [1], "dtype": "float32"}
    assert bench.window.isWindowModified()
    assert panel.preview.kind == "table" and panel.table.columnCount() == 2  # x and the label

    stack.undo()
    assert bench.settings.training["dataset"] == {"name": "digits"}
    assert graph.node("x").params["shape"] == [1, 8, 8]
    assert graph.node("y").params == {"shape": [], "dtype": "int64"}
    assert panel.source.currentData() == "digits"
    stack.redo()
    assert graph.node("x").params["shape"] == [1]


def test_split_and_seed_are_saved_and_merge_while_stepping(data_panel, qtbot):
    bench, panel = data_panel("iris_mlp")
    stack = bench.document.undo_stack
    before = stack.count()
    panel.val_split.setValue(0.3)
    panel.val_split.setValue(0.35)
    assert bench.settings.training["val_split"] == 0.35
    assert stack.count() == before + 1  # two steps of one field merge
    panel.seed.setValue(7)
    assert bench.settings.training["seed"] == 7
    qtbot.waitUntil(lambda: panel.shown_key is not None and panel.shown_key.seed == 7, timeout=30_000)
    stack.undo()
    assert panel.seed.value() == 0


def test_csv_file_chooser_and_target_column(data_panel, qtbot, dialogs, tmp_path):
    bench, panel = data_panel("iris_mlp")
    path = tmp_path / "houses.csv"
    path.write_text("rooms,age,kind,price\n" + "".join(f"{i % 5},{i % 7},{'ab'[i % 2]},{i * 1.5}\n"
                                                         for i in range(40)))
    choose(panel.source, "csv")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"] == {"name": "csv"}, timeout=30_000)
    assert panel.error.isVisibleTo(panel)  # a CSV source without a file says what is missing
    dialogs.open_path = str(path)
    panel.browse.click()
    qtbot.waitUntil(lambda: bench.settings.training["dataset"].get("path") == str(path), timeout=30_000)
    assert [panel.target.itemText(i) for i in range(panel.target.count())] == ["rooms", "age", "kind", "price"]
    assert panel.target.currentText() == "price"  # the engine's default: the last column
    qtbot.waitUntil(lambda: panel.columns.used_as("kind") == "one-hot, 2 levels", timeout=30_000)  # a category

    choose(panel.target, "kind")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"].get("target") == "kind", timeout=30_000)
    assert "2 classes" in panel.preview.description
    headers = [panel.table.horizontalHeaderItem(i).text() for i in range(panel.table.columnCount())]
    assert headers == ["rooms", "age", "price", "label"]
    assert panel.table.item(1, 3).text() == "b" and panel.counts.counts == {"a": 20, "b": 20}
    assert bench.document.graph.node("y").params == {"shape": [], "dtype": "int64"}


def test_training_settings_are_undoable_edits(open_example, qtbot):
    bench = open_example("iris_mlp")
    bench.show_dock("training")
    panel = bench.training_panel
    qtbot.waitUntil(lambda: panel.device.count() > 1, timeout=60_000)
    stack = bench.document.undo_stack

    panel.epochs.setValue(7)
    assert bench.settings.training["epochs"] == 7 and bench.window.isWindowModified()
    choose(panel.optimizer, "SGD")
    assert panel.form.isRowVisible(panel.momentum)
    panel.momentum.setValue(0.9)
    assert bench.settings.training["optimizer"] == {"type": "SGD", "lr": 0.01, "momentum": 0.9}
    choose(panel.schedule, "cosine")
    assert bench.settings.training["schedule"] == {"type": "cosine"}
    panel.early.setChecked(True)
    assert bench.settings.training["patience"] == panel.patience.value()
    stack.undo()
    stack.undo()
    assert "schedule" not in bench.settings.training and "patience" not in bench.settings.training
    assert panel.schedule.currentData() is None and not panel.early.isChecked()
    while stack.canUndo():
        stack.undo()
    assert bench.settings.training["optimizer"] == {"type": "Adam", "lr": 0.01}


def test_devices_are_listed_and_cuda_options_appear_only_for_cuda(open_example, qtbot):
    bench = open_example("iris_mlp")
    bench.show_dock("training")
    panel = bench.training_panel
    qtbot.waitUntil(lambda: panel.device.count() > 1, timeout=60_000)
    ids = [panel.device.itemData(i) for i in range(panel.device.count())]
    assert ids[:2] == ["auto", "cpu"]
    assert "GB" in panel.device.itemText(1)  # the name and memory of each device
    if not panel.has_cuda:
        assert not panel.form.isRowVisible(panel.amp) and not panel.form.isRowVisible(panel.compile)
    panel.device.addItem("cuda:0 — a GPU, 80.0 GB", "cuda:0")
    choose(panel.device, "cuda:0")
    assert panel.form.isRowVisible(panel.amp) and panel.amp.isEnabled()
    choose(panel.amp, "bf16")
    assert bench.settings.training["amp"] == "bf16" and bench.settings.training["device"] == "cuda:0"
    choose(panel.device, "cpu")
    assert not panel.form.isRowVisible(panel.amp) and "amp" not in bench.settings.training


def test_image_folder_chooser_previews_images_with_labels(data_panel, qtbot, monkeypatch, tmp_path):
    from PIL import Image
    from PySide6.QtWidgets import QFileDialog

    for label, shade in (("cat", 40), ("dog", 200)):
        (tmp_path / "pets" / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (6, 5), (shade, i * 20, 0)).save(tmp_path / "pets" / label / f"{i}.png")
    bench, panel = data_panel("iris_mlp")
    choose(panel.source, "image_folder")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"] == {"name": "image_folder"}, timeout=30_000)
    assert panel.form.isRowVisible(panel.size) and panel.form.isRowVisible(panel.grayscale)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "pets")))
    panel.browse.click()
    qtbot.waitUntil(lambda: panel.preview is not None and panel.preview.kind == "images", timeout=30_000)
    assert set(panel.preview.labels) == {"cat", "dog"} and panel.images.count == len(panel.preview.labels)
    assert panel.counts.counts == {"cat": 3, "dog": 3}
    assert bench.document.graph.node("x").params["shape"] == [3, 5, 6]
    panel.grayscale.setChecked(True)
    qtbot.waitUntil(lambda: bench.document.graph.node("x").params["shape"] == [1, 5, 6], timeout=30_000)


def test_the_csv_column_list_never_opens_a_named_pipe_and_follows_the_delimiter(tmp_path):
    import os

    from gui.workbench.data_sources import csv_columns

    pipe = tmp_path / "data.csv"
    os.mkfifo(pipe)  # a plain open() would wait forever for a writer
    assert csv_columns(pipe) == []
    semicolons = tmp_path / "semi.csv"
    semicolons.write_text("age;income;label\n1;2;a\n")
    assert csv_columns(semicolons, ";") == ["age", "income", "label"]


def test_names_from_a_csv_are_shown_escaped_and_kept_as_spelt(data_panel, qtbot, dialogs, tmp_path):
    bench, panel = data_panel("iris_mlp")
    path = tmp_path / "odd.csv"
    path.write_text('"ro\x1b[31mms","ki\nnd"\n' + "".join(f"{i},{'a' if i % 2 else 'b'}\x07\n" for i in range(40)))
    choose(panel.source, "csv")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"] == {"name": "csv"}, timeout=30_000)
    dialogs.open_path = str(path)
    panel.browse.click()
    qtbot.waitUntil(lambda: panel.target.count() == 2, timeout=30_000)
    assert [panel.target.itemText(i) for i in range(2)] == ["ro\\x1b[31mms", "ki\\nnd"]
    choose(panel.target, "ki\\nnd")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"].get("target") == "ki\nnd", timeout=30_000)
    qtbot.waitUntil(lambda: panel.preview is not None, timeout=30_000)
    headers = [panel.table.horizontalHeaderItem(i).text() for i in range(panel.table.columnCount())]
    assert headers == ["ro\\x1b[31mms", "label"]
    assert set(panel.counts.counts) == {"a\\x07", "b\\x07"}
    shown = [panel.table.item(r, c).text() for r in range(panel.table.rowCount()) for c in range(2)]
    assert all(text.isprintable() for text in shown)


def test_a_project_named_with_control_characters_is_shown_escaped():
    from graphs.project import Project
    from gui.files import display_name

    assert display_name(Project(name="evil\n\x1b]0;title\x07")) == "evil\\n\\x1b]0;title\\x07"
