"""import-torch makes units of the module hierarchy: a class instantiated several times becomes one unit named
after it, the values that differ between its instances unit params, and an nn.Sequential of one unit's
instances a Repeat. Torchvision's ResNet-18 keeps its state_dict keys where its stages are Repeats, exports
to Python with `class BasicBlock`, and the round trip (import -> save -> load -> compile) stays exact."""

import warnings

import pytest
import torch

import main
from engine.export import export_python, prepare_model, verify_python
from engine.importers.common import save_verified
from engine.importers.onnx_import import import_onnx, verify_import
from engine.importers.torch_import import import_module, verify_module_import
from engine.importers.unit_grouping import unit_uses as uses
from graphs.project import load_project
from graphs.units import REPEAT
from tests.engine.test_import_torch_rules import FIXTURES, models, trained_looking

__all__ = ["models"]  # a fixture

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def resnet(models, tmp_path_factory):
    """torchvision's ResNet-18 layout imported as the import-torch command does, and written."""
    module = trained_looking(models.ResNet18())
    result = import_module(module, [(3, 32, 32)], name="resnet", units=True)
    files = save_verified(result, verify_module_import(module, result), "ResNet18",
                          tmp_path_factory.mktemp("resnet") / "resnet.json")
    return module, files


def test_resnet18_has_one_class_of_block_used_eight_times(resnet):
    _, files = resnet
    graph = files.result.project.graph
    assert uses(graph) == {"BasicBlock": 5, "BasicBlock_downsample": 3}
    # both are the class BasicBlock: the downsample branch only three of them have is a second structure
    assert {graph.units[name].doc for name in graph.units} == {"Imported from the class BasicBlock."}
    assert graph.units["BasicBlock"].params == {"out_channels": 4}
    inner = graph.unit_graph("BasicBlock")
    assert inner.node("conv1").params["out_channels"] == {"ref": "out_channels"}
    assert inner.node("conv2").params["out_channels"] == {"ref": "out_channels"}
    assert [n.id for n in graph.nodes() if n.type in graph.units or n.type == REPEAT] == \
        ["layer1", "layer2_0", "layer2_1", "layer3_0", "layer3_1", "layer4_0", "layer4_1"]
    assert graph.node("layer1").params == {"unit": "BasicBlock", "count": 2}
    assert graph.node("layer3_1").params == {"out_channels": 16}
    assert "grouped into units: BasicBlock (5), BasicBlock_downsample (3)" in files.result.notes


def test_resnet18_round_trip_stays_exact(resnet):
    module, files = resnet
    assert files.verification.difference <= TOLERANCE
    project = load_project(files.project_path)
    compiled = prepare_model(project.graph, files.weights_path)
    assert "layer1.0.conv1.weight" in compiled.model.state_dict()  # the Repeat keeps torch's keys
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        difference = (compiled.model.eval()(x) - module(x)).abs().max().item()
    assert difference <= TOLERANCE


def test_resnet18_python_export_defines_class_basic_block(resnet, tmp_path):
    module, files = resnet
    project = load_project(files.project_path)
    compiled = prepare_model(project.graph, files.weights_path)
    path = export_python(compiled, project.graph, tmp_path / "resnet.py")
    code = path.read_text(encoding="utf-8")
    assert "class BasicBlock(nn.Module):" in code and "class BasicBlock_downsample(nn.Module):" in code
    assert "self.layer1 = nn.Sequential(BasicBlock(out_channels=4), BasicBlock(out_channels=4))" in code
    assert verify_python(compiled, path) == 0.0
    namespace = {"__name__": "exported", "__file__": str(path)}
    exec(compile(code, str(path), "exec"), namespace)
    rebuilt = namespace["Model"]().eval()
    rebuilt.load_state_dict(compiled.model.state_dict())  # the module's weights, as imported
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (rebuilt(x) - module(x)).abs().max().item() <= TOLERANCE


def test_a_sequential_of_custom_blocks_becomes_a_repeat(models):
    module = models.NestedNet().eval()
    result = import_module(module, [(6,)], units=True)
    graph = result.project.graph
    assert graph.node("stages").type == REPEAT and graph.node("stages").params == {"unit": "Stage", "count": 2}
    assert uses(graph) == {"Stage": 2}
    x = torch.randn(4, 6)
    with torch.no_grad():
        assert torch.allclose(result.compiled.model(x), module(x), atol=TOLERANCE)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)
        self.act = torch.nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x))


class Twice(torch.nn.Module):
    """One block applied twice: its layers share their weights, which a unit's instances do not."""

    def __init__(self):
        super().__init__()
        self.block = Block()

    def forward(self, x):
        return self.block(self.block(x))


def test_shared_weights_keep_the_import_flat_and_say_why():
    module = Twice().eval()
    result = import_module(module, [(4,)], units=True)
    assert not result.project.graph.uses_units()
    assert result.notes == ["imported flat, without units: it shares weights between layers"]
    x = torch.randn(3, 4)
    with torch.no_grad():
        assert torch.allclose(result.compiled.model(x), module(x), atol=TOLERANCE)


def test_a_model_of_torch_layers_only_stays_flat():
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    result = import_module(module, [(4,)], units=True)
    assert not result.project.graph.uses_units() and result.notes == []


def test_the_cli_imports_units_by_default_and_flat_on_request(models, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(FIXTURES)
    assert main.main(["import-torch", "resnet_models:NestedNet", str(tmp_path / "units.json"),
                      "--input-shape", "6"]) == 0
    assert "units (instances): Stage (2)" in capsys.readouterr().out
    assert load_project(tmp_path / "units.json").graph.units.keys() == {"Stage"}
    assert main.main(["import-torch", "resnet_models:NestedNet", str(tmp_path / "flat.json"),
                      "--input-shape", "6", "--flat"]) == 0
    flat = load_project(tmp_path / "flat.json").graph
    assert not flat.uses_units() and "stages_0_blocks_0_0" in flat.node_ids()


@pytest.mark.parametrize("dynamo, names", [(True, ("BasicBlock", "BasicBlock_downsample")),
                                           (False, ("Block", "Block_downsample"))])
def test_an_onnx_file_from_torchs_exporters_imports_with_the_same_structure(resnet, tmp_path, dynamo, names):
    """The dynamo exporter records each node's module path and class: the same units come back. The
    TorchScript exporter's node names keep the module paths only (`/layer1/layer1.0/conv1/Conv`): the same
    structure comes back, its units named Block."""
    module, _ = resnet
    path = tmp_path / "resnet.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(2, 3, 32, 32),), str(path), dynamo=dynamo, input_names=["x"],
                          output_names=["y"], **({"external_data": False} if dynamo else
                                                 {"dynamic_axes": {"x": {0: "batch"}, "y": {0: "batch"}}}))
    result = import_onnx(path, units=True)
    graph = result.project.graph
    assert uses(graph) == {names[0]: 5, names[1]: 3}
    assert graph.node("layer1").params == {"unit": names[0], "count": 2}
    assert graph.units[names[1]].params == {"out_channels": 8}
    # (the dynamo exporter folds each BatchNorm into its Conv, which then carries the BatchNorm's name)
    assert any(node_id.startswith("downsample_") for node_id in graph.unit_graph(names[1]).node_ids())
    assert verify_import(path, result).difference <= TOLERANCE
    assert not import_onnx(path).project.graph.uses_units()  # the library call stays flat unless asked


class Linear(torch.nn.Module):
    """A class of one's own named like a catalogue layer: its unit cannot take the name as it is."""

    def __init__(self, width, out):
        super().__init__()
        self.proj = torch.nn.Linear(width, out)
        self.act = torch.nn.GELU()

    def forward(self, x):
        return self.act(self.proj(x))


class TwoLinears(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Linear(4, 6)
        self.second = Linear(6, 3)

    def forward(self, x):
        return self.second(self.first(x))


def test_a_class_named_like_a_layer_gets_a_unit_name_of_its_own():
    module = TwoLinears().eval()
    result = import_module(module, [(4,)], units=True)
    graph = result.project.graph
    assert list(graph.units) == ["LinearUnit"] and uses(graph) == {"LinearUnit": 2}
    assert graph.units["LinearUnit"].params == {"out_features": 6}  # in_features is inferred, not a param
    assert graph.node("second").params == {"out_features": 3}
    x = torch.randn(5, 4)
    with torch.no_grad():
        assert torch.allclose(result.compiled.model(x), module(x), atol=TOLERANCE)


class Bottleneck(torch.nn.Module):
    """1x1 down to `width`, 3x3, 1x1 up to 4 x `width`: two patterns of out_channels in one block."""

    def __init__(self, channels, width):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, width, 1)
        self.conv2 = torch.nn.Conv2d(width, width, 3, padding=1)
        self.conv3 = torch.nn.Conv2d(width, 4 * width, 1)

    def forward(self, x):
        return torch.relu(self.conv3(self.conv2(self.conv1(x))))


class Bottlenecks(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Bottleneck(3, 2)
        self.second = Bottleneck(8, 3)

    def forward(self, x):
        return self.second(self.first(x))


def test_two_patterns_of_one_argument_are_named_after_their_layers():
    module = Bottlenecks().eval()
    result = import_module(module, [(3, 6, 6)], units=True)
    graph = result.project.graph
    assert graph.units["Bottleneck"].params == {"conv1_out_channels": 2, "conv3_out_channels": 8}
    inner = graph.unit_graph("Bottleneck")
    assert inner.node("conv2").params["out_channels"] == {"ref": "conv1_out_channels"}
    assert graph.node("second").params == {"conv1_out_channels": 3, "conv3_out_channels": 12}
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        assert torch.allclose(result.compiled.model(x), module(x), atol=TOLERANCE)
