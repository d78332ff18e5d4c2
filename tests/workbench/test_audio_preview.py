"""The Data panel previews an audio folder as coloured spectrograms with labels; its audio options are undoable."""

from __future__ import annotations

import numpy as np
import pytest

from gui.workbench.audio_preview import axes_text, coloured
from tests.engine.wav_files import sound_folder, tone


@pytest.fixture
def data_panel(open_example, qtbot):
    bench = open_example("iris_mlp")
    bench.show_dock("data")
    qtbot.waitUntil(lambda: bench.data_panel.preview is not None, timeout=60_000)
    return bench, bench.data_panel


def _choose(combo, data) -> None:
    index = combo.findData(data)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_an_audio_folder_previews_spectrograms_with_labels_and_shapes_the_input(data_panel, qtbot, monkeypatch,
                                                                                tmp_path):
    from PySide6.QtWidgets import QFileDialog

    sound_folder(tmp_path / "sounds", {"high": [tone(3000), tone(3500)], "low": [tone(200), tone(300)]})
    bench, panel = data_panel
    _choose(panel.source, "audio_folder")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"] == {"name": "audio_folder"}, timeout=30_000)
    assert panel.form.isRowVisible(panel.features) and panel.form.isRowVisible(panel.numbers["n_mels"])
    assert not panel.form.isRowVisible(panel.size) and not panel.form.isRowVisible(panel.numbers["n_mfcc"])
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "sounds")))
    panel.browse.click()
    qtbot.waitUntil(lambda: panel.preview is not None and panel.preview.kind == "audio", timeout=30_000)
    assert panel.samples.currentWidget() is panel.spectrograms
    assert panel.spectrograms.count == len(panel.preview.labels) == 3  # the training samples (1 validates)
    assert set(panel.preview.labels) == {"high", "low"}
    assert "40 mel bands" in panel.spectrograms.axes.text() and "101 frames" in panel.spectrograms.axes.text()
    assert bench.document.graph.node("x").params["shape"] == [1, 40, 101]
    for picture, label in zip(panel.preview.images, panel.preview.labels):  # high tones light up high rows
        loudest_row = picture[:, 10:-10].mean(axis=1).argmax()
        assert (loudest_row < 20) == (label == "high")  # row 0 is the top: the highest band

    _choose(panel.features, "mfcc")
    qtbot.waitUntil(lambda: bench.document.graph.node("x").params["shape"] == [1, 13, 101], timeout=30_000)
    assert bench.settings.training["dataset"]["features"] == "mfcc"
    assert panel.form.isRowVisible(panel.numbers["n_mfcc"])
    panel.numbers["n_mfcc"].setText("20")
    panel.numbers["n_mfcc"].editingFinished.emit()
    qtbot.waitUntil(lambda: bench.document.graph.node("x").params["shape"] == [1, 20, 101], timeout=30_000)
    bench.document.undo_stack.undo()
    assert bench.document.graph.node("x").params["shape"] == [1, 13, 101]
    assert panel.features.currentData() == "mfcc" and panel.numbers["n_mfcc"].text() == ""


def test_a_bad_sound_file_is_shown_by_name_in_the_panel(data_panel, qtbot, tmp_path):
    root = sound_folder(tmp_path / "sounds", {"a": [tone(300)], "b": [tone(600)]})
    (root / "b" / "broken.wav").write_bytes(b"RIFF\0\0\0\0WAVE")
    bench, panel = data_panel
    training = bench.settings.training
    training["dataset"] = {"name": "audio_folder", "path": str(root)}
    bench.settings.update(training, "use sounds")
    qtbot.waitUntil(lambda: panel.error.isVisible(), timeout=30_000)
    assert "'sounds/b/broken.wav'" in panel.error.text() and "no 'fmt ' chunk" in panel.error.text()


def test_quiet_is_dark_and_loud_is_bright():
    rgb = coloured(np.array([[0.0, 0.5, 1.0]]))
    brightness = rgb.sum(axis=-1)[0]
    assert rgb.shape == (1, 3, 3) and brightness[0] < brightness[1] < brightness[2]
    assert axes_text("mfcc", (13, 101)).startswith("MFCC (cepstral coefficients): 13 coefficients")


def test_the_keywords_example_previews_its_generated_set_and_a_chosen_folder_replaces_it(
        open_example, qtbot, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setenv("NEUROCANVAS_CACHE", str(tmp_path / "cache"))
    bench = open_example("keywords_audio_cnn")
    bench.show_dock("data")
    panel = bench.data_panel
    qtbot.waitUntil(lambda: panel.preview is not None, timeout=60_000)
    assert panel.preview.kind == "audio" and "generated sample set 'keywords'" in panel.path.placeholderText()
    assert set(panel.preview.labels) <= {"buzz", "down", "hiss", "two_tone", "up"}
    sound_folder(tmp_path / "sounds", {"a": [tone(300)] * 2, "b": [tone(900)] * 2})
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "sounds")))
    panel.browse.click()
    qtbot.waitUntil(lambda: set(panel.preview.labels) <= {"a", "b"}, timeout=30_000)
    spec = bench.settings.training["dataset"]
    assert "sample" not in spec and spec["path"] == str(tmp_path / "sounds") and spec["n_mels"] == 40
    bench.document.undo_stack.undo()
    assert bench.settings.training["dataset"]["sample"] == "keywords"
