"""Checks that a new node type goes through every export, shared by the per-family test modules: ONNX
(checked and run in onnxruntime at two batch sizes against torch) and Python (the generated file rebuilds
the model exactly, with the same state_dict keys and shapes)."""

from engine.export import export_onnx, prepare_model, verify_onnx
from engine.export.python_code import export_python, verify_python


def assert_onnx_runs_like_torch(graph, tmp_path):
    compiled = prepare_model(graph, seed=0)
    result = export_onnx(compiled, tmp_path / "model.onnx")
    assert result.fallback_reason == ""
    for batch in (1, 4):
        assert verify_onnx(compiled, tmp_path / "model.onnx", batch=batch, seed=batch) < 1e-5


def assert_python_rebuilds_the_model(graph, tmp_path) -> tuple[str, object]:
    """The generated code and a fresh instance of its class."""
    compiled = prepare_model(graph, seed=0)
    path = export_python(compiled, graph, tmp_path / "model.py")
    code = path.read_text(encoding="utf-8")
    assert verify_python(compiled, path) == 0.0
    namespace = {"__name__": "exported"}
    exec(compile(code, str(path), "exec"), namespace)
    rebuilt = namespace["Model"]()
    assert [(k, v.shape) for k, v in rebuilt.state_dict().items()] == \
        [(k, v.shape) for k, v in compiled.model.state_dict().items()]
    return code, rebuilt
