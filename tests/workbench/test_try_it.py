"""The Try It panel: one input at a time through the trained model, in the background, answers as bars."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from graphs.project import load_project
from gui.workbench.export_actions import ModelSource
from gui.workbench.tasks import TaskRunner
from gui.workbench.try_it import TryItPanel
from tests.engine.predict_fixtures import cnn_project, image_folder, train

ANSWER_MS = 60_000


@pytest.fixture(scope="module")
def trained_cnn(tmp_path_factory):
    root = tmp_path_factory.mktemp("try_it")
    folder = image_folder(root)
    project = cnn_project(root, {"name": "image_folder", "path": "imgs", "size": [8, 8]})
    return project, train(project, root / "run"), folder


@pytest.fixture
def panel(qtbot, trained_cnn):
    project, weights, _ = trained_cnn
    tasks = TaskRunner()
    loaded = load_project(project)
    widget = TryItPanel(tasks, lambda: ModelSource(None, None, "the untrained model", "t"), lambda: loaded)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    tasks.wait()


def ask(qtbot, panel, action) -> None:
    with qtbot.waitSignal(panel.answered, timeout=ANSWER_MS):
        action()


def test_an_image_gets_its_classes_as_bars_most_likely_first(qtbot, panel, trained_cnn):
    _, weights, folder = trained_cnn
    panel.choose_weights(str(weights))
    assert panel.model_label.text() == "Model: the weights in weights.safetensors"
    panel.top_k.setValue(2)
    ask(qtbot, panel, lambda: panel.predict_file(folder / "red" / "4.png"))
    assert panel.bars.title.text() == "4.png: <b>red</b>"  # the name without its folders
    formats = [bar.format() for bar in panel.bars.bars]
    assert [f.split()[0] for f in formats] == ["red", "blue"]
    values = [bar.value() for bar in panel.bars.bars]
    assert values[0] >= values[1] and sum(values) == pytest.approx(1000, abs=2)
    assert not panel.preview.pixmap().isNull()  # the picture is shown
    assert not panel.typed.isEnabled()  # an image model takes no typed text
    ask(qtbot, panel, lambda: panel.predict_file(folder / "blue" / "4.png"))  # the loaded model is reused
    assert panel.bars.title.text().endswith("<b>blue</b>")


def test_bad_input_is_said_in_words_naming_the_file(qtbot, panel, trained_cnn, tmp_path):
    _, weights, _ = trained_cnn
    panel.choose_weights(str(weights))
    sound = tmp_path / "beep.wav"
    with wave.open(str(sound), "wb") as handle:
        handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(8000)
        handle.writeframes(b"\0\0" * 80)
    ask(qtbot, panel, lambda: panel.predict_file(sound))
    assert f"'{sound}' is a WAV file, but this model takes images" in panel.bars.title.text()
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    ask(qtbot, panel, lambda: panel.predict_file(damaged))
    assert "cannot read image" in panel.bars.title.text() and "damaged.png" in panel.bars.title.text()
    assert panel.bars.bars == []


def test_weights_of_another_graph_and_no_weights_are_explained(qtbot, panel, tmp_path):
    ask(qtbot, panel, lambda: panel.predict_file(tmp_path / "x.png"))
    assert "there is no trained model yet" in panel.bars.title.text()
    other = Path(__file__).resolve().parents[2] / "resources" / "examples" / "digits_cnn.json"
    from engine.export import prepare_model
    from engine.weights import save_weights

    weights = save_weights(prepare_model(load_project(other).graph).model, tmp_path / "digits.safetensors",
                           {"metric": "val_accuracy", "class_names": json.dumps([str(i) for i in range(10)])})
    panel.choose_weights(str(weights))
    ask(qtbot, panel, lambda: panel.predict_file(tmp_path / "x.png"))
    assert "do not fit this model: tensor" in panel.bars.title.text()


def test_the_workbench_has_the_panel_and_it_uses_the_newest_run(open_example, finished, qtbot):
    bench = open_example("iris_mlp", epochs=1)
    assert bench.docks["try_it"].windowTitle() == "Try It"
    run = finished(bench)
    bench.show_dock("try_it")
    assert bench.try_it.model_label.text() == f"Model: the model of run {run.number}"
    bench.try_it.typed.setText("5.1,3.5,1.4,0.2")
    ask(qtbot, bench.try_it, bench.try_it.predict_typed)
    names = [bar.format().split()[0] for bar in bench.try_it.bars.bars]
    assert len(names) == 3 and set(names) <= {"setosa", "versicolor", "virginica"}
    assert bench.try_it.typed.isEnabled() and "x4" in bench.try_it.typed.toolTip()
    bench.try_it.typed.setText("1,2")
    ask(qtbot, bench.try_it, bench.try_it.predict_typed)
    assert "the row has 2 values, but this model takes 4" in bench.try_it.bars.title.text()


def test_file_export_writes_an_int8_model_and_compares_it(open_example, finished, qtbot, dialogs, tmp_path):
    bench = open_example("iris_mlp", epochs=1)
    finished(bench)
    for key, calibrate in (("onnx_int8", "dynamic"), ("onnx_int8_static", "static")):
        target = tmp_path / f"iris-{calibrate}.onnx"
        assert bench.exports.export(key, str(target))
        qtbot.waitUntil(lambda: not bench.exports.busy, timeout=ANSWER_MS)
        message = dialogs.texts("information")[-1]
        assert f"Wrote {target.name}: int8 ONNX ({calibrate} quantization by onnxruntime)" in message
        assert "float32: " in message and f"int8 ({calibrate}): " in message and "validation accuracy" in message
        assert target.is_file()
    assert bench.exports.actions["onnx_int8"].text() == "ONNX &int8, Dynamic Quantization…"
    python = tmp_path / "iris.py"
    assert bench.exports.export("python", str(python))
    qtbot.waitUntil(lambda: not bench.exports.busy, timeout=ANSWER_MS)
    assert "It predicts from files: python iris.py INPUT..." in dialogs.texts("information")[-1]


def test_a_dropped_file_is_answered_and_top_k_is_remembered(qtbot, panel, trained_cnn, qapp):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    _, weights, folder = trained_cnn
    panel.choose_weights(str(weights))
    panel.top_k.setValue(1)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(folder / "blue" / "7.png"))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    ask(qtbot, panel, lambda: panel.dropEvent(drop))
    assert panel.bars.title.text().endswith("7.png: <b>blue</b>") and len(panel.bars.bars) == 1
    again = TryItPanel(panel.tasks, panel.model_source, panel.project)
    qtbot.addWidget(again)
    assert again.top_k.value() == 1  # QSettings
