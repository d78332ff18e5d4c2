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
from engine.importers.unit_check import unit_uses as uses
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
    assert uses(graph) == {"BasicBlock": 8}
    # the downsample Sequential only three blocks have is an optional chain, switched by a bool param
    definition = graph.units["BasicBlock"]
    assert definition.doc == "Imported from the class BasicBlock."
    assert definition.params == {"out_channels": 4, "stride": 1, "downsample": False}
    assert definition.optional == {"downsample_0": "downsample", "downsample_1": "downsample"}
    inner = graph.unit_graph("BasicBlock")
    assert inner.node("conv1").params["out_channels"] == {"ref": "out_channels"}
    assert inner.node("conv2").params["out_channels"] == {"ref": "out_channels"}
    assert inner.node("downsample_0").params["stride"] == {"ref": "stride"}
    assert [n.id for n in graph.nodes() if n.type in graph.units or n.type == REPEAT] == \
        ["layer1", "layer2", "layer3", "layer4"]
    assert graph.node("layer1").params == {"unit": "BasicBlock", "count": 2}
    for stage, width in [("layer2", 8), ("layer3", 16), ("layer4", 32)]:
        assert graph.node(stage).params == {"unit": "BasicBlock", "count": 2, "out_channels": width,
                                            "overrides": {"0": {"stride": 2, "downsample": True}}}
    assert "grouped into units: BasicBlock (8)" in files.result.notes


def test_resnet18_round_trip_stays_exact(resnet):
    module, files = resnet
    assert files.verification.difference <= TOLERANCE
    project = load_project(files.project_path)
    compiled = prepare_model(project.graph, files.weights_path)
    keys = set(compiled.model.state_dict())
    assert {"layer1.0.conv1.weight", "layer4.1.bn2.running_mean"} <= keys  # the Repeats keep torch's keys
    # torch's `layer2.0.downsample.0.weight`: a node id holds no dot, so its layer is downsample_0
    assert {key for key in keys if "downsample" in key and key.endswith(".weight")} == \
        {f"layer{i}.0.downsample_{j}.weight" for i in (2, 3, 4) for j in (0, 1)}
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
    assert code.count("class BasicBlock(nn.Module):") == 1 and "class BasicBlock_" not in code
    assert "if downsample else None" in code and "if self.downsample_0 is None else" in code
    assert "BasicBlock(downsample=True, in_channels=4, out_channels=8, stride=2)" in code
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


@pytest.mark.parametrize("dynamo, name", [(True, "BasicBlock"), (False, "Block")])
def test_an_onnx_file_from_torchs_exporters_imports_with_the_same_structure(resnet, tmp_path, dynamo, name):
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
    assert uses(graph) == {name: 8}
    assert graph.node("layer1").params == {"unit": name, "count": 2}
    assert graph.node("layer4").params["overrides"]["0"]["downsample"] is True
    # (the dynamo exporter folds each BatchNorm into its Conv, which then carries the BatchNorm's name)
    assert set(graph.units[name].optional.values()) == {"downsample"}
    assert all(node_id.startswith("downsample_") for node_id in graph.units[name].optional)
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


class TorchvisionBottleneck(torch.nn.Module):
    """torchvision's Bottleneck: 1x1, 3x3 (stride), 1x1 to 4 x planes; downsample a Sequential or None."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        width = planes
        self.conv1, self.bn1 = torch.nn.Conv2d(inplanes, width, 1, bias=False), torch.nn.BatchNorm2d(width)
        self.conv2 = torch.nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(width)
        self.conv3, self.bn3 = torch.nn.Conv2d(width, planes * 4, 1, bias=False), torch.nn.BatchNorm2d(planes * 4)
        self.relu = torch.nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet50(torch.nn.Module):
    """torchvision's resnet50 layout ([3, 4, 6, 3] Bottlenecks), at a narrow width."""

    def __init__(self, width=2):
        super().__init__()
        self.inplanes = width
        self.conv1 = torch.nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.layer1 = self._make_layer(width, 3)
        self.layer2 = self._make_layer(width * 2, 4, stride=2)
        self.layer3 = self._make_layer(width * 4, 6, stride=2)
        self.layer4 = self._make_layer(width * 8, 3, stride=2)
        self.fc = torch.nn.Linear(width * 32, 10)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = torch.nn.Sequential(torch.nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                                             torch.nn.BatchNorm2d(planes * 4))
        layers = [TorchvisionBottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [TorchvisionBottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return torch.nn.Sequential(*layers)

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


def test_resnet50_has_one_bottleneck_used_sixteen_times_in_four_repeats(tmp_path):
    module = trained_looking(ResNet50())
    result = import_module(module, [(3, 16, 16)], name="resnet50", units=True)
    graph = result.project.graph
    assert uses(graph) == {"TorchvisionBottleneck": 16}
    assert graph.units["TorchvisionBottleneck"].optional == {"downsample_0": "downsample",
                                                             "downsample_1": "downsample"}
    assert [n.id for n in graph.nodes() if n.type == REPEAT] == ["layer1", "layer2", "layer3", "layer4"]
    # layer1's first block changes the width without a stride: its downsample is on, its stride 1
    assert graph.node("layer1").params == {"unit": "TorchvisionBottleneck", "count": 3, "conv1_out_channels": 2,
                                           "conv3_out_channels": 8, "overrides": {"0": {"downsample": True}}}
    for stage in ("layer2", "layer3", "layer4"):
        assert graph.node(stage).params["overrides"] == {"0": {"stride": 2, "downsample": True}}
    assert "grouped into units: TorchvisionBottleneck (16)" in result.notes
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert (result.compiled.model.eval()(x) - module(x)).abs().max().item() <= TOLERANCE
    files = save_verified(result, verify_module_import(module, result), "ResNet50", tmp_path / "r50.json")
    compiled = prepare_model(load_project(files.project_path).graph, files.weights_path)
    path = export_python(compiled, load_project(files.project_path).graph, tmp_path / "r50.py")
    code = path.read_text(encoding="utf-8")
    assert code.count("class TorchvisionBottleneck(nn.Module):") == 1 and "class TorchvisionBottleneck_" not in code
    assert verify_python(compiled, path) == 0.0


class MaybeNorm(torch.nn.Module):
    """A layer some instances have on the main path: `self.norm` is a LayerNorm or None."""

    def __init__(self, norm):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)
        self.norm = torch.nn.LayerNorm(4) if norm else None
        self.act = torch.nn.Tanh()

    def forward(self, x):
        x = self.fc(x)
        return self.act(x if self.norm is None else self.norm(x))


class Gated(torch.nn.Module):
    """A gate some instances have: it reads two values, so it cannot be skipped."""

    def __init__(self, gate):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)
        self.act = torch.nn.Tanh()
        self.gate = torch.nn.Sigmoid() if gate else None

    def forward(self, x):
        y = self.act(self.fc(x))
        return y if self.gate is None else y * self.gate(x)


class Mixed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = MaybeNorm(True), MaybeNorm(False), MaybeNorm(False)
        self.d, self.e = Gated(False), Gated(True)

    def forward(self, x):
        return self.e(self.d(self.c(self.b(self.a(x)))))


def test_a_layer_only_some_instances_have_is_optional_unless_it_cannot_be_skipped():
    module = Mixed().eval()
    result = import_module(module, [(4,)], units=True)
    graph = result.project.graph
    assert uses(graph) == {"MaybeNorm": 3, "Gated": 1, "Gated_gate": 1}
    assert graph.units["MaybeNorm"].optional == {"norm": "with_norm"}
    assert graph.units["MaybeNorm"].params == {"with_norm": False}
    assert graph.node("a").params == {"with_norm": True} and graph.node("b").params == {}
    assert not graph.units["Gated"].optional and not graph.units["Gated_gate"].optional
    x = torch.randn(5, 4)
    with torch.no_grad():
        assert torch.equal(result.compiled.model(x), module(x))
