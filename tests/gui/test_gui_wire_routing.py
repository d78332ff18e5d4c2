"""No wire passes through a node other than its two ends (their bodies and their ports), so a
wire never looks as if it fed a node it does not: after auto-layout on every example, on the
cases that did (a Target's wire through Flatten's ports), and on random graphs."""

import random

import pytest
from PySide6.QtGui import QPainterPathStroker

from graphs.project import Project
from gui import files
from gui.canvas.node_item import PORT_R


def crossings(scene) -> list[tuple[str, str, str]]:
    """(source, target, node) for every wire whose drawn line meets another node or its ports."""
    stroker = QPainterPathStroker()
    stroker.setWidth(2)
    found = []
    for edge in scene.edge_items():
        stroke = stroker.createStroke(edge.path())
        for node in scene.node_items():
            if node in (edge.source, edge.target):
                continue
            area = node.mapRectToScene(node.rect()).adjusted(-PORT_R - 1, -1, PORT_R + 1, 1)
            if stroke.intersects(area):
                found.append((edge.edge.source, edge.edge.target, node.node_id))
    return found


def laid_out(window, qtbot, project: Project):
    window._set_project(project)
    window.document.flush()
    window.auto_layout()
    window.scene.reroute()
    return crossings(window.scene)


@pytest.mark.parametrize("path", files.example_paths(), ids=lambda p: p.stem)
def test_no_wire_crosses_a_node_after_auto_layout(window, qtbot, path):
    from graphs.project import load_project

    assert laid_out(window, qtbot, load_project(path)) == []


def two_losses() -> Project:
    """One Target feeding a loss right after Flatten and another after a longer head: the second
    wire runs from the Target's column past Flatten and the Linear layers."""
    project = Project(name="two heads")
    g = project.graph
    g.add_node("Input", {"shape": [1, 8, 8]}, "x")
    g.add_node("Flatten", {}, "flat")
    g.add_node("Linear", {"out_features": 10}, "short")
    g.add_node("Target", {"shape": [], "dtype": "int64"}, "y")
    g.add_node("CrossEntropyLoss", {}, "loss1")
    for i in range(3):
        g.add_node("Linear", {"out_features": 10 if i == 2 else 32}, f"deep{i}")
    g.add_node("CrossEntropyLoss", {}, "loss2")
    for chain in (("x", "flat", "short"), ("flat", "deep0", "deep1", "deep2")):
        for source, target in zip(chain, chain[1:]):
            g.connect(source, target)
    for loss, scores in (("loss1", "short"), ("loss2", "deep2")):
        g.connect(scores, loss, target_port="input")
        g.connect("y", loss, target_port="target")
    return project


def test_a_target_wire_does_not_run_through_other_nodes(window, qtbot):
    assert laid_out(window, qtbot, two_losses()) == []


@pytest.mark.parametrize("seed", range(12))
def test_no_wire_crosses_a_node_on_random_graphs(window, qtbot, seed):
    rng = random.Random(seed)
    project = Project(name=f"random {seed}")
    g = project.graph
    ids = []
    for i in range(rng.randint(6, 14)):
        node_id = f"n{i}"
        kind = "Input" if i == 0 else rng.choice(["ReLU", "Linear", "Add"])
        g.add_node(kind, {"shape": [16]} if kind == "Input" else ({"out_features": 16} if kind == "Linear" else {}),
                   node_id)
        free = [p for p in g.node(node_id).input_ports()]
        for port in free:
            g.connect(rng.choice(ids), node_id, target_port=port)
        ids.append(node_id)
    assert laid_out(window, qtbot, project) == []
