"""The library of ready units (resources/units/*.json): each file compiles, and its model computes exactly what
a hand-written PyTorch module computes with the same weights, copied by name (`state_dict` keys such as
`layer.0.conv1.weight` on both sides), in evaluation and in training mode."""

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from engine.compiler import compile_graph  # noqa: E402
from engine.shapes import infer  # noqa: E402
from graphs.project import load_project  # noqa: E402
from graphs.validate import validate  # noqa: E402

UNITS_DIR = Path(__file__).resolve().parents[2] / "resources" / "units"


def conv_bn(cin, cout, k, stride=1, groups=1, eps=1e-5):
    return nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout, eps=eps)


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride=1, downsample=False):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, planes, 3, stride)
        self.conv2, self.bn2 = conv_bn(planes, planes, 3)
        if downsample:
            self.downsample, self.downsample_bn = nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        shortcut = self.downsample_bn(self.downsample(x)) if hasattr(self, "downsample") else x
        return torch.relu(out + shortcut)


class Bottleneck(nn.Module):
    def __init__(self, cin, width, cout, stride=1, downsample=False):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, width, 1)
        self.conv2, self.bn2 = conv_bn(width, width, 3, stride)
        self.conv3, self.bn3 = conv_bn(width, cout, 1)
        if downsample:
            self.downsample, self.downsample_bn = nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(torch.relu(self.bn2(self.conv2(out)))))
        shortcut = self.downsample_bn(self.downsample(x)) if hasattr(self, "downsample") else x
        return torch.relu(out + shortcut)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels, squeeze, activation=nn.ReLU):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Conv2d(channels, squeeze, 1), nn.Conv2d(squeeze, channels, 1)
        self.activation = activation()

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(self.activation(self.fc1(self.avgpool(x)))))


class InvertedResidual(nn.Module):
    """MobileNetV2's (ReLU6, no squeeze-excitation) or EfficientNet's MBConv (SiLU, squeeze-excitation)."""

    def __init__(self, cin, hidden, cout, stride=1, kernel=3, squeeze=None):
        super().__init__()
        self.expand, self.expand_bn = conv_bn(cin, hidden, 1)
        self.depthwise, self.depthwise_bn = conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.act = nn.ReLU6() if squeeze is None else nn.SiLU()
        if squeeze is not None:  # its layers named as the unit's se_* nodes
            for name, module in SqueezeExcitation(hidden, squeeze, nn.SiLU).named_children():
                setattr(self, f"se_{name}", module)
        self.project, self.project_bn = conv_bn(hidden, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        out = self.act(self.depthwise_bn(self.depthwise(self.act(self.expand_bn(self.expand(x))))))
        if hasattr(self, "se_fc1"):
            out = out * torch.sigmoid(self.se_fc2(self.se_activation(self.se_fc1(self.se_avgpool(out)))))
        out = self.project_bn(self.project(out))
        return out + x if self.residual else out


class EncoderBlock(nn.Module):
    """Pre-norm: x + dropout1(attention(norm1(x))), then + dropout2(linear2(dropout(gelu(linear1(norm2(x))))))."""

    def __init__(self, d_model, heads, feedforward, dropout=0.1):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.self_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.linear1, self.linear2 = nn.Linear(d_model, feedforward), nn.Linear(feedforward, d_model)
        self.dropout, self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.dropout1(self.self_attn(h, h, h, need_weights=False)[0])
        return x + self.dropout2(self.linear2(self.dropout(nn.functional.gelu(self.linear1(self.norm2(x))))))


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, cout, 3)
        self.conv2, self.bn2 = conv_bn(cout, cout, 3)

    def forward(self, x):
        return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class UNetDown(DoubleConv):
    def forward(self, x):
        return super().forward(nn.functional.max_pool2d(x, 2))


class UNetUp(DoubleConv):
    def __init__(self, cin, skip, cout):
        super().__init__(skip + cout, cout)
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)

    def forward(self, x, skip):
        return super().forward(torch.cat([skip, self.up(x)], dim=1))


class Inception(nn.Module):
    def __init__(self, cin, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        for name, a, b, k in (("branch1", cin, ch1x1, 1), ("branch2_reduce", cin, ch3x3red, 1),
                              ("branch2", ch3x3red, ch3x3, 3), ("branch3_reduce", cin, ch5x5red, 1),
                              ("branch3", ch5x5red, ch5x5, 5), ("branch4", cin, pool_proj, 1)):
            conv, bn = conv_bn(a, b, k, eps=0.001)
            setattr(self, name, conv)
            setattr(self, f"{name}_bn", bn)

    def basic(self, name, x):
        return torch.relu(getattr(self, f"{name}_bn")(getattr(self, name)(x)))

    def forward(self, x):
        return torch.cat([self.basic("branch1", x),
                          self.basic("branch2", self.basic("branch2_reduce", x)),
                          self.basic("branch3", self.basic("branch3_reduce", x)),
                          self.basic("branch4", nn.functional.max_pool2d(x, 3, 1, 1))], dim=1)


class Chain(nn.Module):
    """The instances of a library file's model, in order, each fed by the one before."""

    def __init__(self, **children):
        super().__init__()
        for name, module in children.items():
            setattr(self, name, module)

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return x


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.down1, self.up1 = UNetDown(8, 16), UNetUp(16, 8, 8)

    def forward(self, x):
        stem = self.stem(x)
        return self.up1(self.down1(stem), stem)


# file -> (the hand-written equivalent of its model, the input's shape without the batch)
REFERENCES = {
    "resnet_basic_block.json": (lambda: Chain(down=BasicBlock(16, 32, 2, downsample=True),
                                              layer=nn.Sequential(BasicBlock(32, 32), BasicBlock(32, 32))),
                                (16, 8, 8)),
    "resnet_bottleneck.json": (lambda: Chain(down=Bottleneck(32, 16, 64, 2, downsample=True),
                                             block=Bottleneck(64, 16, 64)), (32, 8, 8)),
    "mobilenetv2_inverted_residual.json": (lambda: Chain(down=InvertedResidual(16, 96, 24, 2),
                                                         block=InvertedResidual(24, 144, 24)), (16, 8, 8)),
    "mbconv_se.json": (lambda: Chain(down=InvertedResidual(16, 64, 24, 2, kernel=5, squeeze=4),
                                     block=InvertedResidual(24, 144, 24, squeeze=6)), (16, 8, 8)),
    "squeeze_excitation.json": (lambda: Chain(se=SqueezeExcitation(32, 8)), (32, 8, 8)),
    "transformer_encoder_block.json": (lambda: Chain(encoder=nn.Sequential(EncoderBlock(32, 4, 64),
                                                                           EncoderBlock(32, 4, 64))), (10, 32)),
    "unet_steps.json": (UNet, (1, 16, 16)),
    "inception_module.json": (lambda: Chain(inception3a=Inception(32, 16, 24, 32, 4, 8, 8)), (32, 8, 8)),
}


def test_every_library_file_has_a_reference():
    assert sorted(p.name for p in UNITS_DIR.glob("*.json")) == sorted(REFERENCES)


def randomised(model: nn.Module) -> nn.Module:
    """Weights and batch-norm statistics far from their initial values, so that every one of them counts."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator) + 0.5 if name.endswith("running_var") \
                    else torch.randn(tensor.shape, generator=generator) * 0.3
                tensor.copy_(values)
    return model


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_a_library_unit_computes_what_the_hand_written_module_does(name):
    torch.manual_seed(0)
    project = load_project(UNITS_DIR / name)
    assert project.graph.units and project.graph.uses_units()
    assert validate(project.graph) == [] and infer(project.graph).errors == []
    model = randomised(compile_graph(project.graph).model)
    make_reference, shape = REFERENCES[name]
    reference = make_reference()
    reference.load_state_dict(model.state_dict(), strict=True)  # the same names, every tensor
    x = torch.randn(3, *shape)
    for training in (False, True):  # batch norm on running statistics, then on the batch's
        model.train(training)
        reference.train(training)
        if training:  # dropout off, so both sides compute the same function
            for module in [*model.modules(), *reference.modules()]:
                if isinstance(module, (nn.Dropout, nn.MultiheadAttention)):
                    module.p = module.dropout = 0.0
        expected = reference(x)
        assert torch.equal(model(x), expected), (name, training)
    expected.sum().backward()
    model(x).sum().backward()
    reference_params = dict(reference.named_parameters())
    assert sorted(reference_params) == sorted(key for key, _ in model.named_parameters())
    for key, param in model.named_parameters():
        torch.testing.assert_close(param.grad, reference_params[key].grad, msg=key)


def test_the_transformer_block_matches_torch_s_own_encoder_layer():
    """With norm_first and GELU, torch's TransformerEncoderLayer has the same parameter names and computes the
    same function (to rounding: its kernels may fuse)."""
    model = randomised(compile_graph(load_project(UNITS_DIR / "transformer_encoder_block.json").graph).model).eval()
    layers = nn.Sequential(*(nn.TransformerEncoderLayer(32, 4, 64, activation="gelu", batch_first=True,
                                                        norm_first=True) for _ in range(2)))
    torch_layers = Chain(encoder=layers).eval()
    torch_layers.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(3, 10, 32)
    torch.testing.assert_close(model(x), torch_layers(x), rtol=1e-5, atol=1e-5)
