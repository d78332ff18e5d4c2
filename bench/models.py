"""The benchmark models, twice: as Neurocanvas graphs and written by hand as plain nn.Modules.

The hand-written modules use the node ids as attribute names, so a compiled model's
state_dict loads into them unchanged (tests/bench checks both compute the same function).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from graphs import Graph, load_project

EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples"


def mlp_classifier(input_shape: list[int], hidden: list[int], classes: int) -> Graph:
    """Input (flattened when it has several dims), Linear+ReLU per hidden width (ids fc1, act1, fc2,
    ...), a last Linear to `classes` scores, and CrossEntropyLoss against an int64 Target."""
    g = Graph()
    g.add_node("Input", {"shape": list(input_shape)}, "x")
    previous = "x"
    if len(input_shape) > 1:
        previous = g.add_node("Flatten", {}, "flat")
        g.connect("x", previous)
    for index, width in enumerate([*hidden, classes], start=1):
        layer = g.add_node("Linear", {"out_features": width}, f"fc{index}")
        g.connect(previous, layer)
        previous = layer
        if index <= len(hidden):
            previous = g.add_node("ReLU", {}, f"act{index}")
            g.connect(layer, previous)
    g.add_node("Target", {"shape": [], "dtype": "int64"}, "y")
    g.add_node("CrossEntropyLoss", {}, "loss")
    g.connect(previous, "loss", target_port="input")
    g.connect("y", "loss", target_port="target")
    return g


def mlp_graph() -> Graph:
    """784-512-512-10 with ReLU, CrossEntropyLoss."""
    return mlp_classifier([784], [512, 512], 10)


class HandMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(512, 512)
        self.act2 = nn.ReLU()
        self.fc3 = nn.Linear(512, 10)

    def forward(self, x):
        return self.fc3(self.act2(self.fc2(self.act1(self.fc1(x)))))


class HandDigitsCNN(nn.Module):
    """resources/examples/digits_cnn.json, by hand."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)
        self.act1 = nn.ReLU()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(16 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(self.flat(self.act1(self.conv1(x))))


class HandResidualCNN(nn.Module):
    """resources/examples/residual_cnn.json, by hand."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.conv2, self.bn2 = nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.conv3, self.bn3 = nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.act1, self.act2, self.act3 = nn.ReLU(), nn.ReLU(), nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flat = nn.Flatten()
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        shortcut = self.act1(self.bn1(self.conv1(x)))
        y = self.act2(self.bn2(self.conv2(shortcut)))
        y = self.bn3(self.conv3(y))
        y = self.act3(y + shortcut)
        return self.fc(self.drop(self.flat(self.pool(y))))


def cases():
    """(name, graph, hand-written class, input shape without batch)."""
    return [
        ("MLP 784-512-512-10", mlp_graph(), HandMLP, (784,)),
        ("digits CNN", load_project(EXAMPLES / "digits_cnn.json").graph, HandDigitsCNN, (1, 8, 8)),
        ("residual CNN", load_project(EXAMPLES / "residual_cnn.json").graph, HandResidualCNN, (1, 8, 8)),
    ]


def same_function(compiled_model: nn.Module, hand: nn.Module, x: torch.Tensor) -> float:
    """Load the compiled model's weights into the hand-written one; max abs output difference."""
    hand.load_state_dict(compiled_model.state_dict())
    compiled_model.eval()
    hand.eval()
    with torch.no_grad():
        return (compiled_model(x) - hand(x)).abs().max().item()
