"""The PyTorch importer's call-site rules on models written as torchvision and timm write them: a stateless
module called N times becomes N nodes, a module with weights called N times becomes N nodes sharing its
weights, nesting maps through, every unmapped part is listed in the user's words, and the ResNet also
imports from its ONNX exports. Every import reproduces the module within 1e-5."""

import sys
from pathlib import Path

import pytest
import torch

from engine.errors import UserError
from engine.export import export_python, verify_onnx, verify_python
from engine.export.onnx_export import export_onnx
from engine.importers.common import ImportRefused
from engine.importers.onnx_import import import_onnx, verify_import
from engine.importers.torch_import import import_module, import_torch_file, verify_module_import

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def models():
    sys.path.insert(0, str(FIXTURES))
    try:
        import resnet_models

        yield resnet_models
    finally:
        sys.path.remove(str(FIXTURES))


def trained_looking(module):
    """Non-trivial batch-norm statistics and affine weights, so eval mode exercises them."""
    torch.manual_seed(1)
    for layer in module.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 2.0)
            layer.weight.data.uniform_(0.5, 1.5)
            layer.bias.data.uniform_(-0.2, 0.2)
    return module.eval()


def exact(module, result, *shapes):
    torch.manual_seed(2)
    inputs = [torch.randn(3, *shape) for shape in shapes]
    with torch.no_grad():
        want, got = module(*inputs), result.compiled.model(*inputs)
    torch.testing.assert_close(got, want, atol=TOLERANCE, rtol=0)
    assert verify_module_import(module, result).difference <= TOLERANCE


@pytest.fixture(scope="module")
def resnet(models):
    torch.manual_seed(0)
    return trained_looking(models.ResNet18(width=4))


def test_resnet18_blocks_call_one_relu_twice_and_import_exactly(resnet):
    result = import_module(resnet, [(3, 32, 32)])
    exact(resnet, result, (3, 32, 32))
    graph = result.project.graph
    for block in ("layer1_0", "layer1_1", "layer4_1"):
        assert graph.node(f"{block}_relu").type == graph.node(f"{block}_relu_1").type == "ReLU"
    assert graph.node("layer2_0_downsample_0").type == "Conv2d"
    assert graph.node("layer2_0_downsample_1").type == "BatchNorm2d"
    assert not any(node.shares for node in graph.nodes())  # a ReLU has no weights to share
    assert sorted(result.weights) == sorted(k.replace(".", "_", k.count(".") - 1) for k in resnet.state_dict())


def test_a_module_with_weights_called_twice_shares_them(models, tmp_path):
    torch.manual_seed(0)
    module = trained_looking(models.TiedNet())
    result = import_module(module, [(1, 4, 4), (1, 4, 4)])
    exact(module, result, (1, 4, 4), (1, 4, 4))
    graph = result.project.graph
    assert graph.node("project_1").shares == "project" and graph.node("mix_1").shares == "mix"
    assert graph.node("encoder_5").shares == "encoder_1" and graph.node("encoder_4").shares == "encoder_0"
    assert graph.node("encoder_6").shares is None  # the ReLU repeats
    assert "project_1.weight" not in result.weights and "project.weight" in result.weights
    assert sum(t.numel() for t in result.weights.values()) == sum(t.numel() for t in module.state_dict().values())
    # the shared weights survive both exports
    assert verify_python(result.compiled, export_python(result.compiled, graph, tmp_path / "tied.py")) <= TOLERANCE
    export_onnx(result.compiled, tmp_path / "tied.onnx")
    assert verify_onnx(result.compiled, tmp_path / "tied.onnx") <= TOLERANCE


def test_sequential_and_module_list_nesting_map_through(models):
    torch.manual_seed(0)
    module = models.NestedNet().eval()
    result = import_module(module, [(6,)])
    exact(module, result, (6,))
    ids = set(result.project.graph.node_ids())
    assert {"stages_0_blocks_0_0", "stages_1_blocks_1_1", "heads_0", "heads_1"} <= ids
    assert {"drop", "drop_1", "drop_2"} <= ids  # one Dropout, three calls, three nodes


def test_every_unmapped_part_is_listed_in_the_users_words_and_nothing_is_written(models, tmp_path, monkeypatch):
    with pytest.raises(ImportRefused) as error:
        import_module(models.CustomPartsNet(), [(6,)])
    message = str(error.value)
    assert "`self.drop_path` (a custom module `DropPath`): no node for it (it uses `Tensor.new_empty`, " \
           "`Tensor.bernoulli_`" in message
    assert "; replace it with Identity for inference, or see custom layers" in message
    assert "LayerScale" not in message  # its parameter read maps to a Parameter node
    assert "`self.gate` (a custom module `Gate`): no node for it (its forward cannot be traced at " \
           "resnet_models.py:134 (`if x.mean() > 0:`))" in message
    assert "`torch.erfinv` at resnet_models.py:152 (`return torch.erfinv(x.clamp(-0.5, 0.5))`)" in message
    assert message.count("custom module") == 2 and "Nothing was imported" in message

    monkeypatch.chdir(FIXTURES)
    with pytest.raises(UserError):
        import_torch_file("resnet_models:CustomPartsNet", tmp_path / "p.json", [(6,)])
    assert list(tmp_path.iterdir()) == []


def test_a_custom_module_used_in_many_places_is_one_part(models):
    with pytest.raises(ImportRefused) as error:
        import_module(models.DeepDropPathNet(), [(6,)])
    assert str(error.value).startswith(
        "cannot import DeepDropPathNet: 2 part(s) that cannot be mapped: `self.blocks[0].drop_path`, "
        "`self.blocks[1].drop_path`, `self.blocks[2].drop_path` and 2 more (a custom module `DropPath`): no node "
        "for it (it uses `Tensor.new_empty`, `Tensor.bernoulli_`")
    assert "; `self.gates[0]`, `self.gates[1]`, `self.gates[2]` and 2 more (a custom module `Gate`): no node for it " \
           "(its forward cannot be traced at resnet_models.py:134 (`if x.mean() > 0:`))" in str(error.value)


def test_a_part_that_cannot_be_mapped_as_used_names_the_users_line(models):
    class Doubled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 3)

        def forward(self, x):
            h = self.fc(x)
            return torch.cat([h, h], dim=0)

    with pytest.raises(ImportRefused) as error:
        import_module(Doubled(), [(3,)])
    assert "cannot concatenate along the batch (dim 0); use dim=1 for channels [at test_import_torch_rules.py:" \
           in str(error.value) and "(`return torch.cat([h, h], dim=0)`)]" in str(error.value)


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_resnet18_imports_from_torchs_onnx_exporters(resnet, tmp_path, exporter):
    path = tmp_path / "resnet.onnx"
    torch.onnx.export(resnet, (torch.randn(2, 3, 32, 32),), str(path), dynamo=exporter == "dynamo",
                      input_names=["x"], output_names=["logits"], **(
                          {"external_data": False} if exporter == "dynamo" else {"opset_version": 17}))
    result = import_onnx(path)  # the dynamo exporter writes ReduceMean for AdaptiveAvgPool2d(1)
    assert verify_import(path, result).difference <= TOLERANCE
    with torch.no_grad():
        x = torch.randn(3, 3, 32, 32)
        torch.testing.assert_close(result.compiled.model(x), resnet(x), atol=TOLERANCE, rtol=0)
