"""A torchvision-style ResNet BasicBlock whose downsample branch is optional, and a small model using it."""

from __future__ import annotations

from graphs.document import Graph
from graphs.units import UnitDefinition
from tests.graphs.unit_cases import basic_block


def optional_block(units) -> UnitDefinition:
    """x -> conv1 (stride) -> bn1 -> relu1 -> conv2 -> bn2 -> + -> relu2 -> y; the skip goes through
    downsample_0 (a strided 1x1 conv) and downsample_1 (BatchNorm) only where `downsample` is true."""
    return basic_block(units, shortcut=("downsample_0", "downsample_1"), switch="downsample",
                       doc="torchvision's BasicBlock.")


def optional_resnet() -> Graph:
    """Input [1, 8, 8] -> stem (4) -> layer1 (2 blocks, planes 4) -> layer2 (2 blocks, planes 8, copy 0
    stride 2 with its downsample) -> pool -> flatten -> fc."""
    g = Graph()
    g.add_unit(optional_block(g.units))
    g.add_node("Input", {"shape": [1, 8, 8]}, "image")
    g.add_node("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "stem")
    g.add_node("Repeat", {"unit": "BasicBlock", "count": 2, "planes": 4}, "layer1")
    g.add_node("Repeat", {"unit": "BasicBlock", "count": 2, "planes": 8,
                          "overrides": {"0": {"stride": 2, "downsample": True}}}, "layer2")
    g.add_node("AdaptiveAvgPool2d", node_id="pool")
    g.add_node("Flatten", node_id="flatten")
    g.add_node("Linear", {"out_features": 10}, "fc")
    g.connect("image", "stem")
    g.connect("stem", "layer1", target_port="x")
    g.connect("layer1", "layer2", "y", "x")
    g.connect("layer2", "pool", "y")
    g.connect("pool", "flatten")
    g.connect("flatten", "fc")
    return g
