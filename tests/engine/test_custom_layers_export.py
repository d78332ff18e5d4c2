"""Custom layers in the exports: Python code that imports the class from a copy of its file, ONNX where
torch's exporter can trace the class and a clear error where it cannot."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import main
from engine.compiler import compile_graph
from engine.custom_layers import code_loader
from engine.errors import UserError
from engine.export import export_onnx
from graphs.project import load_project

FIXTURE = Path(__file__).parent / "fixtures" / "custom_layers"


@pytest.fixture
def project_folder(tmp_path):
    folder = tmp_path / "project"
    shutil.copytree(FIXTURE, folder)
    return folder


def test_python_export_copies_the_file_and_imports_the_class(project_folder, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert main.main(["export", str(project_folder / "project.json"), "--trust-code", "--python",
                      str(out / "model.py")]) == 0
    assert "largest absolute difference between the generated code and torch: 0 " in capsys.readouterr().out
    code = (out / "model.py").read_text()
    assert "from custom_layers import SqueezeExcite" in code
    assert 'self.se = SqueezeExcite(in_channels=8, reduction=2, gate="sigmoid")' in code
    assert (out / "custom_layers.py").read_text() == (project_folder / "custom_layers.py").read_text()
    ran = subprocess.run([sys.executable, "model.py"], cwd=out, capture_output=True, text=True)
    assert ran.returncode == 0 and ran.stdout.strip() == "fc: [2, 10]", ran.stderr


def test_python_export_never_replaces_another_file_of_that_name(project_folder, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "custom_layers.py").write_text("# someone else's file\n")
    assert main.main(["export", str(project_folder / "project.json"), "--trust-code", "--python",
                      str(out / "model.py")]) == 2
    assert "custom_layers.py exists and differs from the custom layers file" in capsys.readouterr().err
    assert (out / "custom_layers.py").read_text() == "# someone else's file\n" and not (out / "model.py").exists()
    # beside the project itself the file is the same one: it is left as it is
    assert main.main(["export", str(project_folder / "project.json"), "--trust-code", "--python",
                      str(project_folder / "model.py")]) == 0


def test_onnx_export_of_a_traceable_custom_layer(project_folder, tmp_path):
    project = load_project(project_folder / "project.json", code_loader(True))
    result = export_onnx(compile_graph(project.graph), tmp_path / "model.onnx")
    assert result.path.is_file() and result.output_names == ("fc",)


def test_onnx_export_says_when_a_custom_layer_cannot_be_traced(project_folder, tmp_path):
    (project_folder / "custom_layers.py").write_text(
        (project_folder / "custom_layers.py").read_text() + "\n\n"
        "class Untraceable(nn.Module):\n"
        "    def forward(self, x):\n"
        "        if torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export():\n"
        "            raise RuntimeError('this layer runs eagerly only')\n"
        "        return x\n")
    project = load_project(project_folder / "project.json", code_loader(True))
    graph = project.graph
    graph.add_node("Untraceable", {}, "odd")
    edge = next(e for e in graph.edges() if e.target == "act1")
    graph.disconnect(edge)
    graph.connect("se", "odd")
    graph.connect("odd", "act1")
    with pytest.raises(UserError, match=r"custom layers \(.*Untraceable \(custom_layers.py\)\).*--python"):
        export_onnx(compile_graph(graph), tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_a_model_too_large_to_check_at_its_size_is_checked_smaller_with_its_custom_layers(monkeypatch):
    """The export's check shrinks free input sizes (engine.check_sizes) where a custom layer's arguments stay
    the same: it once looked the custom type up in the catalogue and failed with a KeyError."""
    import engine.memory_budget
    from engine.check_sizes import check_shapes
    from engine.export import prepare_model
    from graphs.document import Graph

    monkeypatch.setattr(engine.memory_budget, "available_bytes", lambda: 8 * 10**9)  # a check may use 2 GB
    graph = Graph()
    graph.custom_types = load_project(FIXTURE / "project.json", code_loader(True)).graph.custom_types
    graph.add_node("Input", {"shape": [1, 20000, 20000]}, "x")
    graph.add_node("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, "conv")
    graph.add_node("SqueezeExcite", {"reduction": 2}, "se")
    graph.connect("x", "conv")
    graph.connect("conv", "se")
    shapes = check_shapes(prepare_model(graph), 2)
    assert shapes.reduced and shapes.shapes == {"x": (1, 32, 32)}
    assert shapes.output_shape("se") == (8, 32, 32)
