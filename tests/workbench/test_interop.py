"""File > Import ONNX… and File > Export > Cluster Launch Script… through the real menu actions."""

import json
import os
import stat
from pathlib import Path

import onnxruntime
import torch

from engine.compiler import compile_graph
from engine.export import export_onnx
from graphs import load_project
from tests.gui.conftest import EXAMPLES


def test_import_onnx_from_the_menu_opens_the_graph_with_its_weights(bench, qtbot, dialogs, tmp_path):
    torch.manual_seed(0)
    compiled = compile_graph(load_project(EXAMPLES / "residual_cnn.json").graph)
    model_path = tmp_path / "residual.onnx"
    export_onnx(compiled, model_path)
    dialogs.open_path = str(model_path)
    dialogs.save_path = str(tmp_path / "imported.json")
    window = bench.window
    assert window.menus["file"].actions().count(bench.interop.import_onnx_action) == 1
    bench.interop.import_onnx_action.trigger()
    qtbot.waitUntil(lambda: window.document.project.path == tmp_path / "imported.json", timeout=60_000)
    graph = window.document.graph
    assert {n.type for n in graph.nodes()} >= {"Input", "Conv2d", "Add", "MaxPool2d", "Linear"}  # BN folded
    assert len(window.scene.node_items()) == len(graph)
    assert (tmp_path / "imported.safetensors").exists()
    assert "matches onnxruntime" in window.statusBar().currentMessage()
    assert window.document.result.valid


def test_a_bad_onnx_file_is_refused_with_a_dialog_and_nothing_changes(bench, qtbot, dialogs, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    before = bench.window.document.graph.snapshot()
    dialogs.open_path, dialogs.save_path = str(bad), str(tmp_path / "out.json")
    bench.interop.import_onnx_action.trigger()
    qtbot.waitUntil(lambda: "critical" in dialogs.kinds(), timeout=30_000)
    assert bench.window.document.graph.snapshot() == before
    assert not (tmp_path / "out.json").exists()


def test_launch_script_for_the_saved_project(bench, tmp_path):
    window = bench.window
    project = tmp_path / "moons.json"
    project.write_text((EXAMPLES / "moons_mlp.json").read_text())
    assert window.open_project(project)
    script = bench.interop.write_launch_script(nproc_per_node=2, out_dir=str(tmp_path / "launch"))
    assert script == tmp_path / "launch" / "launch.sh"
    text = script.read_text()
    assert "torchrun" in text and "2" in text and os.stat(script).st_mode & stat.S_IXUSR
    copies = [p for p in (tmp_path / "launch").iterdir() if p.suffix == ".json"]
    assert copies and json.loads(copies[0].read_text())["name"] == "moons-mlp"


def test_imported_weights_reproduce_the_onnx_model(tmp_path):
    """The files the menu action writes load into the compiled graph and match onnxruntime."""
    from engine.importers.onnx_import import import_onnx_file
    from engine.weights import load_weights

    torch.manual_seed(1)
    compiled = compile_graph(load_project(EXAMPLES / "digits_cnn.json").graph)
    export_onnx(compiled, tmp_path / "m.onnx")
    files = import_onnx_file(tmp_path / "m.onnx", tmp_path / "m.json")
    model = compile_graph(load_project(files.project_path).graph).model.eval()
    load_weights(model, files.weights_path)
    x = torch.randn(4, 1, 8, 8)
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert abs(model(x).detach().numpy() - expected).max() < 1e-4


def test_export_and_import_dialogs_start_in_the_last_used_folder(bench, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    asked = []

    def dialog(_parent, _title, start, *_args):
        asked.append(start)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(dialog))
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "work"
    folder.mkdir()
    window = bench.window
    assert window.save_as(folder / "saved.json")
    window.new_project()  # untitled: no folder of its own
    assert not bench.exports.export("onnx")
    bench.interop.import_onnx()
    assert [Path(asked[0]).parent, Path(asked[1])] == [folder.resolve(), folder.resolve()]
