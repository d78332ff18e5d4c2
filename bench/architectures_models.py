"""The standard architectures written by hand in plain PyTorch, as a user would, for section 9.

Small enough for a training step on a 2-core CPU in well under a second: ResNet-18 with
narrow widths, MobileNetV2 with a small width multiplier, a small ViT (all on 32x32
images) and a Transformer text classifier. `resnet50()` is the full-size ResNet-50
whose import time is measured. Each is written the way torchvision or a tutorial
writes it (in-place residual adds, `torch.flatten`, `nn.TransformerEncoder`, a class
token and learned positions as `nn.Parameter`), not in a form shaped for the importer.
"""

from __future__ import annotations

import torch
from torch import nn

CLASSES = 10
IMAGE = (3, 32, 32)
VOCAB, SEQUENCE = 1000, 32


def _conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1) -> list:
    return [nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels)]


class BasicBlock(nn.Module):
    """ResNet-18/34's block: two 3x3 convolutions and a shortcut (1x1 convolution where the shape changes)."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(in_channels, channels, 3, stride)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = _conv_bn(channels, channels, 3)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(*_conv_bn(in_channels, channels, 1, stride))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """ResNet-50's block: 1x1 reduce, 3x3, 1x1 expand (x4), and a shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1, self.bn1 = _conv_bn(in_channels, channels, 1)
        self.conv2, self.bn2 = _conv_bn(channels, channels, 3, stride)
        self.conv3, self.bn3 = _conv_bn(channels, out_channels, 1)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(*_conv_bn(in_channels, out_channels, 1, stride))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """torchvision's ResNet. `small_images` uses a 3x3 stride-1 stem without max pooling (for 32x32)."""

    def __init__(self, block, layers: list[int], widths: list[int], classes: int, small_images: bool):
        super().__init__()
        self.in_channels = widths[0]
        if small_images:
            self.conv1, self.bn1 = _conv_bn(3, widths[0], 3)
            self.maxpool = nn.Identity()
        else:
            self.conv1, self.bn1 = _conv_bn(3, widths[0], 7, stride=2)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._layer(block, widths[0], layers[0], 1)
        self.layer2 = self._layer(block, widths[1], layers[1], 2)
        self.layer3 = self._layer(block, widths[2], layers[2], 2)
        self.layer4 = self._layer(block, widths[3], layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * block.expansion, classes)
        _init_like_torchvision(self)

    def _layer(self, block, channels: int, count: int, stride: int) -> nn.Sequential:
        blocks = []
        for index in range(count):
            blocks.append(block(self.in_channels, channels, stride if index == 0 else 1))
            self.in_channels = channels * block.expansion
        return nn.Sequential(*blocks)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet18_narrow() -> ResNet:
    """ResNet-18 (2-2-2-2 basic blocks) with widths 16-32-64-128, for 32x32 images."""
    return ResNet(BasicBlock, [2, 2, 2, 2], [16, 32, 64, 128], CLASSES, small_images=True)


def resnet50(classes: int = 1000) -> ResNet:
    """ResNet-50 at full width (3-4-6-3 bottlenecks, 64-128-256-512): about 25.6 M parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], [64, 128, 256, 512], classes, small_images=False)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand, 3x3 depthwise, 1x1 project (no activation), residual when shapes agree."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = in_channels * expand_ratio
        layers = []
        if expand_ratio != 1:
            layers += [*_conv_bn(in_channels, hidden, 1), nn.ReLU6(inplace=True)]
        layers += [*_conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6(inplace=True),
                   *_conv_bn(hidden, out_channels, 1)]
        self.conv = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x):
        if self.use_residual:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision's MobileNetV2 with a width multiplier, the first stride and one later stride set to 1 for
    32x32 images (as CIFAR versions do)."""

    # expansion t, channels c, repeats n, first stride s
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]

    def __init__(self, width_mult: float = 0.25, classes: int = CLASSES, last_channel: int = 320):
        super().__init__()
        channels = _divisible(32 * width_mult)
        features = [*_conv_bn(3, channels, 3), nn.ReLU6(inplace=True)]
        for t, c, n, s in self.SETTINGS:
            out_channels = _divisible(c * width_mult)
            for index in range(n):
                features.append(InvertedResidual(channels, out_channels, s if index == 0 else 1, t))
                channels = out_channels
        features += [*_conv_bn(channels, last_channel, 1), nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last_channel, classes))
        _init_like_torchvision(self)

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


def _init_like_torchvision(model: nn.Module) -> None:
    """He initialisation (fan-out) of the convolutions, as torchvision's ResNet and MobileNetV2 do; with
    PyTorch's default initialisation a deep narrow network's output hardly depends on its input."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")


def _divisible(value: float, divisor: int = 8) -> int:
    """torchvision's _make_divisible: round to a multiple of 8, never more than 10% down."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _encoder(dim: int, heads: int, layers: int, activation: str) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.1, activation=activation,
                                       batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class VisionTransformer(nn.Module):
    """A small ViT: 4x4 patches of a 32x32 image embedded by a strided convolution, a class token and learned
    positions, two pre-norm encoder layers, the class token's final state to a Linear head."""

    def __init__(self, dim: int = 64, heads: int = 4, layers: int = 2, patch: int = 4, classes: int = CLASSES):
        super().__init__()
        patches = (IMAGE[1] // patch) * (IMAGE[2] // patch)
        self.patch_embed = nn.Conv2d(IMAGE[0], dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, patches + 1, dim) * 0.02)
        self.encoder = _encoder(dim, heads, layers, "gelu")
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (batch, patches, dim)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        x = self.norm(self.encoder(x))
        return self.head(x[:, 0])


class TextClassifier(nn.Module):
    """Token embedding plus learned positions, two Transformer encoder layers, mean over the sequence, Linear."""

    def __init__(self, dim: int = 64, heads: int = 4, layers: int = 2, classes: int = CLASSES):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, dim)
        self.positions = nn.Parameter(torch.randn(1, SEQUENCE, dim) * 0.02)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.1, batch_first=True)
            for _ in range(layers))
        self.fc = nn.Linear(dim, classes)

    def forward(self, tokens):
        x = self.embedding(tokens) + self.positions
        for layer in self.layers:
            x = layer(x)
        return self.fc(x.mean(dim=1))


def architectures():
    """(name, model factory, input shape without the batch, input dtype, training batch size) for the
    training rows; the batch sizes keep a step on one busy CPU core between about 0.1 and 0.35 s."""
    return [
        ("ResNet-18 (narrow, 16-32-64-128)", resnet18_narrow, IMAGE, torch.float32, 32),
        ("MobileNetV2 (width 0.25)", MobileNetV2, IMAGE, torch.float32, 16),
        ("ViT (patch 4, dim 64, 2 layers)", VisionTransformer, IMAGE, torch.float32, 64),
        ("Transformer text classifier", TextClassifier, (SEQUENCE,), torch.int64, 64),
    ]


def settle_batch_norm(model: nn.Module, shape, dtype, batches: int = 8) -> nn.Module:
    """Set the batch norms' running statistics to the average over a few random batches, as training would:
    with the initial ones (mean 0, variance 1) a deep network's output in eval mode hardly depends on its
    input, and comparing two models' outputs would prove little."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average
    model.train()
    with torch.no_grad():
        for seed in range(batches):
            model(example_input(shape, dtype, 32, seed=100 + seed))
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    return model


def example_input(shape, dtype, batch: int, seed: int = 0) -> torch.Tensor:
    """Random images, or random token ids below the vocabulary size."""
    generator = torch.Generator().manual_seed(seed)
    if dtype == torch.int64:
        return torch.randint(0, VOCAB, (batch, *shape), generator=generator)
    return torch.randn(batch, *shape, generator=generator)
