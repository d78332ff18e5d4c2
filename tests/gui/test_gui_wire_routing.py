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


def _free_rows_by_hand(rects, x1: float, x2: float) -> list[float]:
    """The free rows, one rect at a time in Python: the reference the router's array form must equal."""
    spans = sorted((r.top(), r.bottom()) for r in rects if r.right() >= x1 and r.left() <= x2)
    rows, reach = [], None
    for top, bottom in spans:
        if reach is not None and top - reach > 2:
            rows.append((reach + top) / 2)
        reach = bottom if reach is None else max(reach, bottom)
    return rows


def test_free_rows_are_the_gaps_between_the_obstacles_in_a_span():
    from PySide6.QtCore import QPointF, QRectF

    from gui.canvas.routing import _Router

    rng = random.Random(3)
    rects = [QRectF(rng.uniform(0, 2000), rng.uniform(0, 3000), rng.uniform(60, 200), rng.uniform(20, 80))
             for _ in range(300)]
    router = _Router(QPointF(1500, 100), QPointF(100, 2800), rects)
    for x1, x2 in [(0, 2500), (-100, 300), (800, 900), (1900, 2600), (5000, 6000)]:
        assert router.free_rows(x1, x2) == _free_rows_by_hand(rects, x1, x2)
    assert _Router(QPointF(0, 0), QPointF(-10, 10), []).free_rows(0, 10) == []


def test_a_backward_wire_runs_back_along_free_lanes_and_down_the_left_margin():
    """Three rows of a wrapped layout: the wire from the first row's last node into the third row's first runs
    back along the lane below the first row, down the left margin and along the lane above the third row,
    clear of every node (the plain curve would cut through the middle row)."""
    from PySide6.QtCore import QPointF, QRectF

    from gui.canvas.routing import obstacle, route, wire_path

    rows = [[QRectF(x, y, 120, 60) for x in range(0, 1200, 200)] for y in (0, 150, 300)]
    obstacles = [obstacle(r) for r in rows[0][:-1] + rows[1] + rows[2][1:]]  # not the wire's two ends
    start, end = QPointF(1120, 30), QPointF(0, 330)
    stroker = QPainterPathStroker()
    stroker.setWidth(2)
    assert any(stroker.createStroke(wire_path(start, end)).intersects(r) for r in obstacles)
    path = route(start, end, lambda area: [r for r in obstacles if r.intersects(area)])
    assert not any(stroker.createStroke(path).intersects(r) for r in obstacles)
    points = [(path.elementAt(i).x, path.elementAt(i).y) for i in range(path.elementCount())]
    assert any(60 < y < 150 for _, y in points) and any(210 < y < 300 for _, y in points)  # both lanes
    assert min(x for x, _ in points) < 0  # the left margin
