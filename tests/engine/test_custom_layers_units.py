"""Custom layers inside units: a unit's inner graph knows its project's custom types, and a custom node in a
unit loads, validates, infers shapes (one-shot and live), compiles and exports to Python and ONNX."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.custom_layers import code_loader
from engine.export import export_onnx, export_python, prepare_model, verify_python
from engine.shapes import ShapeInference, infer
from engine.training import Trainer
from engine.unit_compile import compile_units
from graphs.document import Graph
from graphs.errors import GraphError, ProjectFormatError
from graphs.project import Project, load_project, save_project
from graphs.units import UnitDefinition, expand
from graphs.validate import validate

FIXTURE = Path(__file__).parent / "fixtures" / "custom_layers"


def units_project(folder: Path) -> Path:
    """A project beside the fixture's custom_layers.py: a unit `SEBlock` (Conv2d -> SqueezeExcite, its
    reduction a unit param) used twice, then an Amplify of the model's own, Flatten and Linear."""
    folder.mkdir()
    shutil.copy(FIXTURE / "custom_layers.py", folder)
    types = load_project(FIXTURE / "project.json", code_loader(True)).graph.custom_types
    g = Graph()
    g.custom_types = types
    g.add_unit(UnitDefinition("SEBlock", Graph(units=g.units), {"red": 2}, "A convolution, then squeeze-excite."))
    inner = g.unit_graph("SEBlock")
    inner.add_node("UnitInput", node_id="x")
    inner.add_node("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, "conv")
    inner.add_node("SqueezeExcite", {"reduction": {"ref": "red"}}, "se")
    inner.add_node("UnitOutput", node_id="y")
    inner.connect("x", "conv")
    inner.connect("conv", "se")
    inner.connect("se", "y")
    g.add_node("Input", {"shape": [1, 8, 8]}, "image")
    g.add_node("SEBlock", {"red": 2}, "b1")
    g.add_node("SEBlock", {"red": 4}, "b2")
    g.add_node("Amplify", {"factor": 3.0}, "amp")
    g.add_node("Flatten", node_id="flat")
    g.add_node("Linear", {"out_features": 5}, "fc")
    g.connect("image", "b1", target_port="x")
    g.connect("b1", "b2", "y", "x")
    g.connect("b2", "amp", "y")
    g.connect("amp", "flat")
    g.connect("flat", "fc")
    return save_project(Project(g, name="se-units"), folder / "project.json")


@pytest.fixture
def graph(tmp_path):
    """The project as loaded from its file (its code trusted)."""
    return load_project(units_project(tmp_path / "project"), code_loader(True)).graph


def test_a_units_inner_graph_has_its_projects_custom_types(graph):
    inner = graph.unit_graph("SEBlock")
    assert inner.custom_types is graph.custom_types
    assert inner.node("se").spec is graph.custom_types["SqueezeExcite"]
    assert inner.node("se").params == {"reduction": {"ref": "red"}}
    assert graph.copy().unit_graph("SEBlock").custom_types is graph.custom_types
    assert "amp" not in graph.units and not graph.is_layer("SEBlock")
    assert graph.is_layer("Amplify") and graph.node_ids_of_type("Amplify") == ["amp"]


def test_the_expansion_holds_the_custom_layers_with_the_instances_values(graph):
    expanded = expand(graph)
    assert expanded.errors == [] and validate(graph) == []
    flat = expanded.graph
    assert flat.custom_types is graph.custom_types
    assert flat.node("b1.se").params == {"reduction": 2} and flat.node("b2.se").params == {"reduction": 4}
    assert flat.node("amp").spec is graph.custom_types["Amplify"]


@pytest.mark.parametrize("live", [False, True])
def test_shapes_of_custom_layers_inside_and_outside_units(graph, live):
    inference = ShapeInference(graph, live_validation=live)
    result = inference.result()
    assert result.errors == []
    assert result.info["b2"].outputs["y"].shape == (8, 8, 8)
    assert result.info["amp"].outputs["out"].shape == (8, 8, 8)  # a custom layer of the model itself
    assert result.info["fc"].outputs["out"].shape == (5,)
    # b1: a Conv2d (1 -> 8) and a SqueezeExcite(8, reduction 2): 8*1*9+8 + (8*4+4) + (4*8+8)
    assert result.info["b1"].params == 80 + 36 + 40
    graph.unit_graph("SEBlock").set_params("conv", {"out_channels": 6, "kernel_size": 3, "padding": 1})
    assert inference.result().info["amp"].outputs["out"].shape == (6, 8, 8)
    inference.close()


def test_a_custom_layer_inside_a_unit_compiles_and_backpropagates(graph):
    compiled = compile_units(graph, infer(graph))
    keys = compiled.model.state_dict()
    assert keys["b1.se.fc1.weight"].shape == (4, 8) and keys["b2.se.fc1.weight"].shape == (2, 8)
    output = compiled.model(torch.randn(3, 1, 8, 8))
    output = output[0] if isinstance(output, tuple) else output
    output.sum().backward()
    assert keys["b1.se.fc1.weight"].shape == compiled.model.get_submodule("b1.se.fc1").weight.grad.shape


def test_python_export_imports_the_class_for_the_unit_class(graph, tmp_path):
    compiled = prepare_model(graph, seed=1)
    out = tmp_path / "out"
    out.mkdir()
    path = export_python(compiled, graph, out / "model.py", weights_path=out / "model.safetensors")
    code = path.read_text()
    assert "from custom_layers import Amplify, SqueezeExcite" in code
    block = code[code.index("class SEBlock(nn.Module):"):code.index("class Model")]
    assert "self.se = SqueezeExcite(in_channels=8, reduction=red" in block
    assert (out / "custom_layers.py").read_text() == (FIXTURE / "custom_layers.py").read_text()
    assert verify_python(compiled, path) == 0.0
    ran = subprocess.run([sys.executable, "model.py"], cwd=out, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr


def test_onnx_export_of_units_with_a_custom_layer(graph, tmp_path):
    result = export_onnx(prepare_model(graph, seed=1), tmp_path / "model.onnx")
    assert result.path.is_file()


def test_a_unit_cannot_take_the_name_of_a_custom_layer(graph, tmp_path):
    with pytest.raises(GraphError, match="'SqueezeExcite' is the name of one of the project's custom layers"):
        graph.add_unit(UnitDefinition("SqueezeExcite", Graph(units=graph.units), {}, ""))
    with pytest.raises(GraphError, match="'Amplify' is the name of one of the project's custom layers"):
        graph.rename_unit("SEBlock", "Amplify")
    assert list(graph.units) == ["SEBlock"]
    path = tmp_path / "project" / "project.json"
    path.write_text(path.read_text().replace('"SEBlock"', '"Amplify"'))
    with pytest.raises(ProjectFormatError, match="unit name 'Amplify' is the name of one of the project's custom"):
        load_project(path, code_loader(True))


def test_a_project_with_a_custom_layer_in_a_unit_trains_and_its_run_folder_reloads(graph, tmp_path):
    graph.set_param("fc", "out_features", 10)
    graph.add_node("Target", {"shape": [], "dtype": "int64"}, "y")
    graph.add_node("CrossEntropyLoss", node_id="loss")
    graph.connect("fc", "loss", target_port="input")
    graph.connect("y", "loss", target_port="target")
    training = {"dataset": {"name": "digits"}, "val_split": 0.2, "batch_size": 64, "epochs": 1, "seed": 0,
                "device": "cpu", "optimizer": {"type": "Adam", "lr": 0.003}}
    trainer = Trainer(Project(graph, name="se-units", training=training), max_batches=2, out_dir=tmp_path / "run")
    result = trainer.run()
    assert result.status == "finished", result.message
    assert trainer.compiled.model.get_submodule("b2.se").fc1.weight.shape == (2, 8)
    copied = load_project(tmp_path / "run" / "project.json", code_loader(True)).graph
    assert copied.unit_graph("SEBlock").node("se").spec.op.file.path == tmp_path / "run" / "custom_layers.py"
