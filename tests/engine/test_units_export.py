"""Exports of a model with units: the Python file has a class per unit, a Repeat as an nn.Sequential and a
model class instantiating them, with the compiled model's state_dict keys and exactly its outputs (also in a
fresh interpreter that cannot import Neurocanvas); the ONNX file has nested names and runs in onnxruntime
as torch does."""

import json
import subprocess
import sys

import onnx
import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.export import export_onnx, export_python, prepare_model, verify_onnx, verify_python
from engine.export.model import run_model, sample_inputs
from graphs.document import Graph
from graphs.units import UnitDefinition
from tests.graphs.unit_cases import basic_block, resnet_graph


def nested_graph() -> Graph:
    """A `Stage` unit holding a Repeat of BasicBlock (copy 0 strided) and a Linear-free head, used twice."""
    g = Graph()
    g.add_unit(basic_block(g.units))
    stage = UnitDefinition("Stage", Graph(units=g.units), {"width": 4}, "Two blocks, the first one strided.")
    g.add_unit(stage)
    inner = g.unit_graph("Stage")
    inner.add_node("UnitInput", node_id="x")
    inner.add_node("Repeat", {"unit": "BasicBlock", "count": 2, "planes": {"ref": "width"},
                              "overrides": {"0": {"stride": 2}}}, "blocks")
    inner.add_node("UnitOutput", node_id="y")
    inner.connect("x", "blocks", target_port="x")
    inner.connect("blocks", "y", "y")
    g.add_node("Input", {"shape": [3, 16, 16]}, "image")
    g.add_node("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "stem")
    g.add_node("Stage", {"width": 6}, "stage1")
    g.add_node("Stage", {"width": 8}, "stage2")
    g.add_node("AdaptiveAvgPool2d", node_id="pool")
    g.add_node("Flatten", node_id="flatten")
    g.add_node("Linear", {"out_features": 5}, "fc")
    g.connect("image", "stem")
    g.connect("stem", "stage1", target_port="x")
    g.connect("stage1", "stage2", "y", "x")
    g.connect("stage2", "pool", "y")
    g.connect("pool", "flatten")
    g.connect("flatten", "fc")
    return g


GRAPHS = {"resnet": resnet_graph, "nested": nested_graph}


@pytest.fixture(params=sorted(GRAPHS))
def exported(request, tmp_path):
    graph = GRAPHS[request.param]()
    compiled = prepare_model(graph, seed=1)
    path = export_python(compiled, graph, tmp_path / "model.py", weights_path=tmp_path / "model.safetensors")
    return graph, compiled, path


def test_python_export_has_a_class_per_unit_and_reproduces_the_model_exactly(exported):
    graph, compiled, path = exported
    code = path.read_text(encoding="utf-8")
    for unit in graph.units:
        assert f"class {unit}(nn.Module):" in code
    assert "= nn.Sequential(" in code  # a Repeat
    assert verify_python(compiled, path) == 0.0
    namespace = {"__name__": "exported", "__file__": str(path)}
    exec(compile(code, str(path), "exec"), namespace)
    rebuilt = namespace["Model"]()
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == \
        {k: v.shape for k, v in compiled.model.state_dict().items()}


def test_units_become_classes_with_their_differing_values_as_arguments():
    graph = nested_graph()
    compiled = prepare_model(graph, seed=0)
    from engine.export.python_code import python_source

    code = python_source(compiled, graph)
    assert "class Stage(nn.Module):" in code and '"""Two blocks, the first one strided."""' in code
    # the unit params name the arguments (`planes`, `width`); the input size the engine infers is one too
    assert "class BasicBlock(nn.Module):\n    \"\"\"A ResNet basic block.\"\"\"\n\n" \
           "    def __init__(self, in_channels, planes, stride):" in code
    assert "out_channels=planes, kernel_size=3, stride=stride" in code
    assert "    def __init__(self, in_channels, width):\n        super().__init__()\n        self.blocks = nn.Sequential(\n" \
           "            BasicBlock(in_channels=in_channels, planes=width, stride=2),\n" \
           "            BasicBlock(in_channels=width, planes=width, stride=1),\n        )" in code
    assert "self.stage1 = Stage(in_channels=4, width=6)" in code
    assert "self.stage2 = Stage(in_channels=6, width=8)" in code
    assert "        blocks = self.blocks(x)\n        return blocks" in code
    assert "stage1.blocks.0.conv1.weight" in compiled.model.state_dict()


def test_the_generated_file_runs_alone_in_a_fresh_interpreter(tmp_path):
    graph = nested_graph()
    compiled = prepare_model(graph, seed=2)
    path = export_python(compiled, graph, tmp_path / "model.py", weights_path=tmp_path / "model.safetensors")
    inputs = sample_inputs(compiled, 3, seed=4)
    save_file({"x": inputs[0]}, tmp_path / "inputs.safetensors")
    driver = (
        "import importlib.util, sys\n"
        "for package in ('engine', 'graphs', 'gui', 'main'):\n"
        "    sys.modules[package] = None\n"
        "import torch\n"
        "from safetensors.torch import load_file, save_file\n"
        f"spec = importlib.util.spec_from_file_location('exported', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "model = module.load()\n"
        "with torch.no_grad():\n"
        f"    out = model(load_file({str(tmp_path / 'inputs.safetensors')!r})['x'])\n"
        f"save_file({{'out': out.contiguous()}}, {str(tmp_path / 'out.safetensors')!r})\n"
    )
    subprocess.run([sys.executable, "-c", driver], check=True, capture_output=True, timeout=120)
    expected = run_model(compiled.model.eval(), inputs)[0]
    assert torch.equal(load_file(tmp_path / "out.safetensors")["out"], expected)


def test_onnx_export_has_nested_names_and_runs_like_torch(tmp_path):
    graph = nested_graph()
    compiled = prepare_model(graph, seed=3)
    result = export_onnx(compiled, tmp_path / "model.onnx")
    assert result.input_names == ("image",) and result.output_names == ("fc",)
    for batch in (1, 4):
        assert verify_onnx(compiled, tmp_path / "model.onnx", batch=batch, seed=batch) < 1e-5
    names = [node.name for node in onnx.load(str(tmp_path / "model.onnx")).graph.node]
    assert "/stage1/blocks/blocks.0/conv1/Conv" in names
    assert "/stage2/blocks/blocks.1/Add" in names


def test_a_units_project_file_exports_through_the_cli(tmp_path):
    from graphs.project import Project, save_project

    save_project(Project(graph=nested_graph(), name="nested"), tmp_path / "nested.json")
    done = subprocess.run([sys.executable, "main.py", "export", str(tmp_path / "nested.json"), "--python",
                           str(tmp_path / "nested.py")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    code = (tmp_path / "nested.py").read_text(encoding="utf-8")
    assert "class BasicBlock(nn.Module):" in code and "class Stage(nn.Module):" in code
    assert json.loads((tmp_path / "nested.json").read_text())["version"] == 2


def test_a_unit_with_two_outputs_one_unread_exports_exactly(tmp_path):
    g = Graph()
    g.add_unit(UnitDefinition("Heads", Graph(units=g.units), {}, "Two heads on one input."))
    inner = g.unit_graph("Heads")
    inner.add_node("UnitInput", node_id="x")
    inner.add_node("Linear", {"out_features": 4}, "a")
    inner.add_node("Linear", {"out_features": 3}, "b")
    inner.add_node("UnitOutput", node_id="ya")
    inner.add_node("UnitOutput", node_id="yb")
    for source, target in [("x", "a"), ("x", "b"), ("a", "ya"), ("b", "yb")]:
        inner.connect(source, target)
    g.add_node("Input", {"shape": [5]}, "features")
    g.add_node("Heads", node_id="heads")
    g.add_node("ReLU", node_id="relu")
    g.connect("features", "heads", target_port="x")
    g.connect("heads", "relu", "ya")
    compiled = prepare_model(g, seed=0)
    path = export_python(compiled, g, tmp_path / "heads.py")
    assert verify_python(compiled, path) == 0.0
    assert "        return a, b" in path.read_text(encoding="utf-8")
    export_onnx(compiled, tmp_path / "heads.onnx")
    assert verify_onnx(compiled, tmp_path / "heads.onnx") < 1e-5
