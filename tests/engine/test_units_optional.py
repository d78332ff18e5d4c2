"""Optional layers in the engine: a unit whose `downsample` is switched per instance compiles to
torchvision's BasicBlock (keys, outputs), exports to Python as ONE class with `... if downsample else
None`, exactly, and to ONNX with nested names, exactly in onnxruntime."""

import onnx
import torch
from torch import nn

from engine.compiler import compile_graph
from engine.export import export_onnx, export_python, prepare_model, verify_onnx, verify_python
from engine.shapes import infer
from tests.engine import test_units_engine as engine_cases
from tests.graphs.optional_cases import optional_resnet

torch.set_num_threads(1)


class BasicBlock(engine_cases.BasicBlock):
    """torchvision's, with its downsample given or None."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__(inplanes, planes, stride)
        del self.shortcut, self.shortcut_bn
        self.downsample_0, self.downsample_1 = downsample or (None, None)

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        identity = x if self.downsample_0 is None else self.downsample_1(self.downsample_0(x))
        return self.relu2(out + identity)


class Net(nn.Module):
    """optional_resnet() written by hand."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(4, 4), BasicBlock(4, 4))
        shortcut = (nn.Conv2d(4, 8, 1, 2, bias=False), nn.BatchNorm2d(8))
        self.layer2 = nn.Sequential(BasicBlock(4, 8, 2, shortcut), BasicBlock(8, 8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.layer2(self.layer1(self.stem(x))))))


def test_switched_blocks_compile_to_torchvisions_layout_and_compute_the_same():
    compiled = compile_graph(optional_resnet())
    keys = set(compiled.model.state_dict())
    assert "layer2.0.downsample_0.weight" in keys and "layer2.0.downsample_1.running_var" in keys
    assert not any(key.startswith(("layer1.0.downsample", "layer1.1.downsample", "layer2.1.downsample"))
                   for key in keys)
    reference = Net().eval()
    assert keys == set(reference.state_dict())
    compiled.model.load_state_dict(reference.state_dict())
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(compiled.model.eval()(x), reference(x))
    shapes = infer(optional_resnet())
    assert shapes.errors == [] and shapes.output_shapes("layer2") == {"y": (8, 4, 4)}
    assert shapes.info["layer2"].params == sum(p.numel() for p in reference.layer2.parameters())


def test_python_export_writes_one_class_with_a_none_downsample(tmp_path):
    graph = optional_resnet()
    compiled = prepare_model(graph, seed=2)
    code = export_python(compiled, graph, tmp_path / "model.py").read_text(encoding="utf-8")
    assert code.count("class BasicBlock") == 1
    assert "self.downsample_1 = nn.BatchNorm2d(num_features=planes) if downsample else None" in code
    assert "downsample_0 = x if self.downsample_0 is None else self.downsample_0(x)" in code
    assert "BasicBlock(downsample=True, in_channels=4, planes=8, stride=2)" in code
    assert "BasicBlock(downsample=False, in_channels=8, planes=8, stride=1)" in code
    assert verify_python(compiled, tmp_path / "model.py") == 0.0


def test_onnx_export_of_switched_blocks_is_nested_and_exact(tmp_path):
    compiled = prepare_model(optional_resnet(), seed=4)
    export_onnx(compiled, tmp_path / "model.onnx")
    for batch in (1, 3):
        assert verify_onnx(compiled, tmp_path / "model.onnx", batch=batch, seed=batch) < 1e-5
    names = [node.name for node in onnx.load(str(tmp_path / "model.onnx")).graph.node]
    assert any(name.startswith("/layer2/layer2.0/downsample_0/") for name in names)
    assert not any(name.startswith("/layer2/layer2.1/downsample_0/") for name in names)
