"""ONNX export: every example (and the extra projects covering every op kind) passes onnx.checker and
runs in onnxruntime at two batch sizes within 1e-4 of torch; names, single file, fallback, errors."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from engine.export import ExportError, export_onnx, prepare_model, verify_onnx
from engine.export.model import run_model, sample_inputs
from graphs import Graph, load_project

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = sorted((ROOT / "resources/examples").glob("*.json")) + sorted(
    (Path(__file__).parent / "export_projects").glob("*.json"))
TOLERANCE = 1e-4


def compiled_project(path, seed=0):
    return prepare_model(load_project(path).graph, seed=seed)


def adaptive_pool_graph() -> Graph:
    """AdaptiveAvgPool2d to a size that does not divide its input: the TorchScript exporter refuses it."""
    graph = Graph()
    graph.add_node("Input", {"shape": [2, 5, 5]}, "x")
    graph.add_node("AdaptiveAvgPool2d", {"output_size": [2, 3]}, "pool")
    graph.add_node("Flatten", {}, "flat")
    graph.connect("x", "pool")
    graph.connect("pool", "flat")
    return graph


def run_in_onnxruntime(path, compiled, batch):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = sample_inputs(compiled, batch, seed=batch)
    actual = session.run(None, {name: t.numpy() for name, t in zip(compiled.inputs, inputs)})
    return run_model(compiled.model.eval(), inputs), actual


@pytest.mark.parametrize("path", PROJECTS, ids=[p.stem for p in PROJECTS])
def test_every_project_exports_and_matches_torch_at_two_batch_sizes(path, tmp_path):
    compiled = compiled_project(path)
    target = tmp_path / "model.onnx"
    result = export_onnx(compiled, target)

    assert result.exporter == "torchscript" and result.fallback_reason == ""
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # one self-contained file, no .data
    model = onnx.load(str(target))
    onnx.checker.check_model(model, full_check=True)
    assert result.opset == 17 == next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    assert [i.name for i in model.graph.input] == compiled.inputs
    assert [o.name for o in model.graph.output] == compiled.outputs
    for value in [*model.graph.input, *model.graph.output]:
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    for batch in (1, 5):
        expected, actual = run_in_onnxruntime(target, compiled, batch)
        for want, got in zip(expected, actual, strict=True):
            assert got.shape == (batch, *want.shape[1:])
            np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=TOLERANCE)
    assert verify_onnx(compiled, target) <= TOLERANCE


@pytest.mark.slow
def test_falls_back_to_the_torch_export_exporter_silently(tmp_path, capfd):
    compiled = prepare_model(adaptive_pool_graph())
    target = tmp_path / "pool.onnx"
    result = export_onnx(compiled, target)

    assert result.exporter == "dynamo" and result.opset >= 18
    assert "torchscript exporter" in result.fallback_reason and "adaptive_avg_pool2d" in result.fallback_reason
    assert [p.name for p in tmp_path.iterdir()] == ["pool.onnx"]
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no deprecation warnings, progress lines or native IR dumps
    for batch in (1, 4):
        expected, actual = run_in_onnxruntime(target, compiled, batch)
        np.testing.assert_allclose(actual[0], expected[0].numpy(), rtol=0, atol=TOLERANCE)


def test_a_failed_export_leaves_the_old_file_and_no_temporary_files(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous export")
    with pytest.raises(ExportError, match="torchscript exporter.*adaptive_avg_pool2d"):
        export_onnx(prepare_model(adaptive_pool_graph()), target, exporter="torchscript")
    assert target.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_export_leaves_the_callers_model_in_training_mode_and_unchanged(tmp_path):
    compiled = compiled_project(ROOT / "resources/examples/residual_cnn.json")
    compiled.model.train()
    before = {k: v.clone() for k, v in compiled.model.state_dict().items()}
    export_onnx(compiled, tmp_path / "model.onnx")
    verify_onnx(compiled, tmp_path / "model.onnx")
    assert compiled.model.training
    after = compiled.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # batch-norm statistics untouched


def test_static_batch_and_a_newer_opset(tmp_path):
    compiled = compiled_project(ROOT / "resources/examples/digits_lstm.json")
    target = tmp_path / "fixed.onnx"
    result = export_onnx(compiled, target, opset=18, dynamic_batch=False)
    model = onnx.load(str(target))
    assert result.opset == 18 and not result.dynamic_batch
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    assert verify_onnx(compiled, target) <= TOLERANCE  # run at the exported batch size


def test_verify_reports_a_difference_when_the_weights_changed(tmp_path):
    compiled = compiled_project(ROOT / "resources/examples/iris_mlp.json")
    target = tmp_path / "model.onnx"
    export_onnx(compiled, target)
    with torch.no_grad():
        compiled.model.get_submodule("fc2").bias.add_(1.0)
    assert verify_onnx(compiled, target) == pytest.approx(1.0, abs=1e-5)


def test_verify_refuses_a_file_of_another_model(tmp_path):
    target = tmp_path / "iris.onnx"
    export_onnx(compiled_project(ROOT / "resources/examples/iris_mlp.json"), target)
    with pytest.raises(ExportError, match="does not belong to this model"):
        verify_onnx(compiled_project(ROOT / "resources/examples/digits_cnn.json"), target)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ExportError, match="not a valid ONNX model"):
        verify_onnx(compiled_project(ROOT / "resources/examples/iris_mlp.json"), tmp_path / "junk.onnx")


def test_bad_requests_raise_export_errors(tmp_path):
    compiled = compiled_project(ROOT / "resources/examples/iris_mlp.json")
    with pytest.raises(ExportError, match="opset 13 is too old"):
        export_onnx(compiled, tmp_path / "m.onnx", opset=13)
    with pytest.raises(ExportError, match="does not exist"):
        export_onnx(compiled, tmp_path / "missing" / "m.onnx")
    assert list(tmp_path.iterdir()) == []
