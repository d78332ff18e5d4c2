"""`export --onnx FILE --quantize int8 [--calibrate dynamic|static]`: an int8 model, its report, and bad input."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest

import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A moons MLP trained for a few epochs: (project path, weights path)."""
    from tests.engine.conftest import project_data

    root = tmp_path_factory.mktemp("quantize")
    project = root / "moons.json"
    project.write_text(json.dumps(project_data({"name": "moons", "n_samples": 400, "noise": 0.1}, hidden=64,
                                               epochs=8, input_params={"shape": [2]},
                                               target_params={"shape": [], "dtype": "int64"})))
    assert main.main(["train", str(project), "--out", str(root / "run"), "--quiet"]) == 0
    return project, root / "run" / "weights.safetensors"


def export(capsys, *args):
    status = main.main(["export", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def operators(path) -> set[str]:
    return {node.op_type for node in onnx.load(str(path)).graph.node}


@pytest.mark.parametrize("calibrate", ["dynamic", "static"])
def test_an_int8_model_is_written_and_compared_with_the_float_one(trained, tmp_path, capsys, calibrate):
    project, weights = trained
    target = tmp_path / "moons.int8.onnx"
    status, out, err = export(capsys, project, "--weights", weights, "--onnx", target, "--quantize", "int8",
                              "--calibrate", calibrate)
    assert status == 0, err
    assert err == ""  # no advice from onnxruntime's tools on the terminal
    lines = out.splitlines()
    assert lines[0].startswith(f"wrote {target}: int8 ONNX ({calibrate} quantization by onnxruntime)")
    assert lines[1].split() == ["float32", "int8", f"({calibrate})", "ratio"]
    assert lines[2].lstrip().startswith("size") and lines[3].lstrip().startswith("onnxruntime ms per batch of 64")
    accuracy = lines[4].split()
    assert accuracy[:2] == ["validation", "accuracy"]
    float_accuracy, int8_accuracy = (float(v.rstrip("%")) for v in accuracy[2:4])
    assert float_accuracy > 80 and abs(float_accuracy - int8_accuracy) < 10
    assert lines[5].startswith("checked: largest absolute difference between onnxruntime (float model) and torch")
    quantized_ops = {"dynamic": {"MatMulInteger", "DynamicQuantizeLinear"}, "static": {"QuantizeLinear"}}[calibrate]
    assert quantized_ops <= operators(target)
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    out = session.run(None, {"x": np.zeros((5, 2), dtype=np.float32)})[0]
    assert out.shape == (5, 2)  # the batch stays dynamic
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moons.int8.onnx"]  # nothing else left behind


def test_the_report_says_so_when_there_is_no_data_to_score_on(trained, tmp_path, capsys):
    project, weights = trained
    data = json.loads(project.read_text())
    data["training"]["dataset"] = {"name": "csv", "path": "missing.csv"}
    no_data = tmp_path / "no_data.json"
    no_data.write_text(json.dumps(data))
    status, out, err = export(capsys, no_data, "--weights", weights, "--onnx", tmp_path / "d.onnx", "--quantize", "int8")
    assert status == 0
    assert out.splitlines()[4].split()[-2:] == ["n/a", "n/a"]
    assert err.startswith("note: no validation score: ") and "missing.csv" in err
    status, out, err = export(capsys, no_data, "--weights", weights, "--onnx", tmp_path / "s.onnx", "--quantize",
                              "int8", "--calibrate", "static")
    assert status == 2 and out == ""
    assert err.startswith("neurocanvas export: error: static quantization calibrates on the project's training "
                          "data, which cannot be loaded: ") and err.rstrip().endswith("use --calibrate dynamic")
    assert not (tmp_path / "s.onnx").exists()


def test_quantize_options_apply_only_where_they_mean_something(trained, tmp_path, capsys):
    project, weights = trained
    status, _, err = export(capsys, project, "--weights", weights, "--python", tmp_path / "m.py", "--quantize", "int8")
    assert status == 2 and err == "neurocanvas export: error: --quantize and --calibrate apply only to --onnx\n"
    status, _, err = export(capsys, project, "--weights", weights, "--onnx", tmp_path / "m.onnx", "--calibrate", "static")
    assert status == 2 and err == "neurocanvas export: error: --calibrate applies only with --quantize int8\n"
    assert list(tmp_path.iterdir()) == []


def test_it_never_writes_over_its_inputs_and_a_failure_leaves_no_file(trained, tmp_path, capsys, monkeypatch):
    project, weights = trained
    before = weights.read_bytes()
    status, _, err = export(capsys, project, "--weights", weights, "--onnx", weights, "--quantize", "int8")
    assert status == 2 and "weights" in err and weights.read_bytes() == before
    import engine.export.quantize as quantize

    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator Foo")

    monkeypatch.setattr(quantize, "quantize_dynamic", broken)
    target = tmp_path / "q.onnx"
    target.write_bytes(b"an older file")
    status, _, err = export(capsys, project, "--weights", weights, "--onnx", target, "--quantize", "int8")
    assert status == 2
    assert err == ("neurocanvas export: error: onnxruntime could not quantize the model (dynamic): "
                   "unsupported operator Foo\n")
    assert target.read_bytes() == b"an older file" and sorted(p.name for p in tmp_path.iterdir()) == ["q.onnx"]
