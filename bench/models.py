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


def mlp_graph() -> Graph:
    """784-512-512-10 with ReLU, CrossEntropyLoss."""
    g = Graph()
    g.add_node("Input", {"shape": [784]}, "x")
    g.add_node("Linear", {"out_features": 512}, "fc1")
    g.add_node("ReLU", {}, "act1")
    g.add_node("Linear", {"out_features": 512}, "fc2")
    g.add_node("ReLU", {}, "act2")
    g.add_node("Linear", {"out_features": 10}, "fc3")
    g.add_node("Target", {"shape": [], "dtype": "int64"}, "y")
    g.add_node("CrossEntropyLoss", {}, "loss")
    for a, b in [("x", "fc1"), ("fc1", "act1"), ("act1", "fc2"), ("fc2", "act2"), ("act2", "fc3")]:
        g.connect(a, b)
    g.connect("fc3", "loss", target_port="input")
    g.connect("y", "loss", target_port="target")
    return g


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
