"""The augmentation editor in the Data panel and mixup/CutMix in the Training panel: every change is one
undoable edit of project.training, and the preview shows augmented samples beside the originals."""

from tests.engine.test_image_folders_at_scale import write_folder

AUGMENT = [{"type": "RandomResizedCrop", "size": [8, 8], "scale": [0.8, 1.0]}, {"type": "RandomHorizontalFlip"},
           {"type": "ColorJitter", "brightness": 0.2}]


def _open(open_example, qtbot, tmp_path):
    write_folder(tmp_path / "imgs", per_class=4, size=(8, 8))
    bench = open_example("shapes_cnn_augment", dataset={"name": "image_folder", "path": str(tmp_path / "imgs"),
                                                        "workers": 0, "augment": AUGMENT})
    bench.show_dock("data")
    panel = bench.data_panel.augment
    qtbot.waitUntil(lambda: bench.data_panel.preview is not None and panel.augmented_grid.count > 0, timeout=60_000)
    return bench, panel


def _augment(bench):
    return bench.settings.training["dataset"].get("augment")


def test_the_preview_shows_augmented_samples_beside_the_originals(open_example, qtbot, tmp_path):
    bench, panel = _open(open_example, qtbot, tmp_path)
    assert panel.isVisible() and panel.list.count() == 3
    assert panel.original_grid.count == panel.augmented_grid.count == len(bench.data_panel.preview.images)
    from engine.data.augment import preview_images

    first = preview_images(AUGMENT, panel.originals, panel.seed.value())
    assert any((a != b).any() for a, b in zip(first, panel.originals))  # augmented, not copies
    shown_key = bench.data_panel.shown_key
    panel.refresh.click()
    assert panel.seed.value() == 1
    qtbot.waitUntil(lambda: not bench.tasks.busy, timeout=30_000)
    assert bench.data_panel.shown_key == shown_key  # the data itself is not reloaded


def test_adding_moving_editing_and_removing_are_undoable_edits(open_example, qtbot, tmp_path):
    bench, panel = _open(open_example, qtbot, tmp_path)
    stack = bench.document.undo_stack
    panel.kind.setCurrentText("RandomCrop")
    panel.add.click()
    assert _augment(bench)[-1] == {"type": "RandomCrop", "size": [8, 8], "padding": 4}  # sized to the images
    assert panel.list.count() == 4 and panel.list.currentRow() == 3
    panel.up.click()
    assert [e["type"] for e in _augment(bench)] == ["RandomResizedCrop", "RandomHorizontalFlip", "RandomCrop",
                                                     "ColorJitter"]
    panel.list.setCurrentRow(3)
    panel.arguments.setText('{"brightness": 0.5, "contrast": 0.1}')
    panel.arguments.editingFinished.emit()
    assert _augment(bench)[3] == {"type": "ColorJitter", "brightness": 0.5, "contrast": 0.1}
    panel.arguments.setText("{brightness")
    panel.arguments.editingFinished.emit()
    assert panel.error.isVisibleTo(panel) and "augment entry 3 (ColorJitter)" in panel.error.text()
    panel.list.setCurrentRow(0)
    panel.remove.click()
    assert [e["type"] for e in _augment(bench)] == ["RandomHorizontalFlip", "RandomCrop", "ColorJitter"]
    assert stack.undoText() == "Remove augmentation RandomResizedCrop"
    for _ in range(4):
        stack.undo()
    assert _augment(bench) == AUGMENT and panel.list.count() == 3
    stack.redo()
    assert len(_augment(bench)) == 4


def test_mixup_and_cutmix_are_training_settings(open_example, qtbot):
    bench = open_example("iris_mlp")
    bench.show_dock("training")
    panel = bench.training_panel
    qtbot.waitUntil(lambda: panel.device.count() > 1, timeout=60_000)
    panel.mixup.setValue(0.2)
    panel.cutmix.setValue(1.0)
    assert bench.settings.training["mixup"] == 0.2 and bench.settings.training["cutmix"] == 1.0
    bench.document.undo_stack.undo()
    assert "cutmix" not in bench.settings.training and panel.cutmix.value() == 0.0
    panel.mixup.setValue(0.0)
    assert "mixup" not in bench.settings.training and panel.mixup.specialValueText() == "off"


def test_choosing_a_folder_replaces_the_generated_sample_set(open_example, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    write_folder(tmp_path / "imgs", per_class=4, size=(8, 8))
    bench = open_example("shapes_cnn_augment", dataset={"name": "image_folder", "sample": "shapes", "workers": 0})
    bench.show_dock("data")
    panel = bench.data_panel
    qtbot.waitUntil(lambda: panel.path.isEnabled(), timeout=60_000)
    assert "generated sample set 'shapes'" in panel.path.placeholderText()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "imgs")))
    panel.browse.click()
    qtbot.waitUntil(lambda: bench.settings.training["dataset"].get("path") == str(tmp_path / "imgs"), timeout=60_000)
    assert "sample" not in bench.settings.training["dataset"]
