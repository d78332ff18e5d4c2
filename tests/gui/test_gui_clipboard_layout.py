"""Copy / paste / duplicate, and auto-layout (the pure function and the window command)."""

import networkx as nx
import pytest
from PySide6.QtWidgets import QApplication

from graphs.document import Graph
from graphs.layout import layered_layout
from graphs.validate import to_networkx, topological_order
from gui import clipboard


def test_copy_paste_keeps_inner_wires_with_fresh_ids(cnn_window):
    w = cnn_window
    graph = w.document.graph
    w.scene.select_nodes(["conv", "act", "flat"])
    assert w.copy()
    data = clipboard.from_mime(QApplication.clipboard().mimeData())
    assert [n["id"] for n in data["nodes"]] == ["conv", "act", "flat"]
    assert len(data["edges"]) == 2  # x->conv and flat->fc leave the selection
    before = set(graph.node_ids())
    new = w.paste()
    assert len(new) == 3 and not set(new) & before
    assert [graph.node(n).type for n in new] == ["Conv2d", "ReLU", "Flatten"]
    inner = {(e.source, e.target) for e in graph.edges() if e.source in new or e.target in new}
    assert inner == {(new[0], new[1]), (new[1], new[2])}
    assert graph.node(new[0]).params == graph.node("conv").params
    assert w.scene.selected_node_ids() == new
    assert w.document.undo_stack.text(w.document.undo_stack.count() - 1) == "Paste 3 nodes"
    w.document.undo_stack.undo()
    assert set(graph.node_ids()) == before


def test_paste_twice_does_not_stack_nodes(cnn_window):
    w = cnn_window
    w.scene.select_nodes(["fc"])
    w.copy()
    first, second = w.paste(), w.paste()
    a, b = (w.document.graph.node(n[0]).position for n in (first, second))
    assert a != b


def test_duplicate_with_ctrl_d(cnn_window):
    w = cnn_window
    graph = w.document.graph
    w.scene.select_nodes(["flat", "fc"])
    w.act.duplicate.trigger()
    new = w.scene.selected_node_ids()
    assert len(new) == 2 and not {"flat", "fc"} & set(new)
    assert graph.node(new[0]).position == (graph.node("flat").position[0] + 40, graph.node("flat").position[1] + 40)
    assert [(e.source, e.target) for e in graph.edges() if e.target in new] == [(new[0], new[1])]
    assert w.document.undo_stack.count() == 1


def test_cut_is_copy_then_delete(cnn_window):
    w = cnn_window
    w.scene.select_nodes(["act"])
    w.act.cut.trigger()
    assert not w.document.graph.has_node("act")
    assert [n["id"] for n in clipboard.from_mime(QApplication.clipboard().mimeData())["nodes"]] == ["act"]


def test_paste_of_foreign_text_is_refused_politely(cnn_window):
    w = cnn_window
    QApplication.clipboard().setText("hello")
    assert w.paste() == []
    assert "no Neurocanvas nodes" in w.statusBar().currentMessage()
    bad = {"format": "neurocanvas", "version": 1, "nodes": [{"id": "a", "type": "Linear", "params": {"x": 1}}]}
    assert w.document.paste(bad) == []
    assert "Cannot paste" in w.statusBar().currentMessage()
    assert w.document.undo_stack.count() == 0


def test_plan_paste_ids_never_clash():
    graph = Graph()
    graph.add_node("ReLU", node_id="relu_1")
    data = {"format": "neurocanvas", "version": 1,
            "nodes": [{"id": "relu_1", "type": "ReLU"}, {"id": "relu_2", "type": "ReLU"}],
            "edges": [{"source": "relu_1", "target": "relu_2"}]}
    plan = clipboard.plan_paste(graph, data)
    assert [n.id for n in plan.nodes] == ["relu_2", "relu_3"]
    assert [(e.source, e.target) for e in plan.edges] == [("relu_2", "relu_3")]


# ---- auto-layout ----------------------------------------------------------------
def _assert_layered(graph, positions, sizes):
    """Every wire runs left to right within a band, or down into a later band; no two nodes overlap."""
    for e in graph.edges():
        source, target = positions[e.source], positions[e.target]
        rightwards = source[0] + sizes.get(e.source, (170, 0))[0] < target[0]
        later_band = target[1] > source[1] + sizes.get(e.source, (0, 110))[1]
        assert rightwards or later_band, e
    order = topological_order(graph)
    xs = [positions[n][0] for n in order]
    rects = {n: (x, y, x + sizes.get(n, (170, 110))[0], y + sizes.get(n, (170, 110))[1])
             for n, (x, y) in positions.items()}
    ids = list(rects)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            ra, rb = rects[a], rects[b]
            assert ra[2] <= rb[0] or rb[2] <= ra[0] or ra[3] <= rb[1] or rb[3] <= ra[1], (a, b)
    return xs


@pytest.mark.parametrize("seed", range(8))
def test_layout_on_random_dags(seed):
    import random

    rng = random.Random(seed)
    graph = Graph()
    for i in range(rng.randrange(3, 25)):
        graph.add_node("Add", {"inputs": 2}, f"n{i}")
    ids = graph.node_ids()
    for j, target in enumerate(ids[1:], 1):
        for port in ("in0", "in1"):
            if rng.random() < 0.7:
                graph.connect(rng.choice(ids[:j]), target, "out", port)
    sizes = {n: (rng.randrange(120, 300), rng.randrange(60, 200)) for n in ids}
    positions = layered_layout(graph, sizes)
    assert set(positions) == set(ids)
    _assert_layered(graph, positions, sizes)


def test_layout_survives_a_cycle_from_a_file():
    graph = Graph()
    for name in "abc":
        graph.add_node("ReLU", node_id=name)
    graph.connect("a", "b")
    graph.connect("b", "c", check=False)
    graph.connect("c", "b", check=False)  # invalid file: c feeds b twice and makes a cycle
    positions = layered_layout(graph)
    assert set(positions) == {"a", "b", "c"}
    assert not nx.is_directed_acyclic_graph(to_networkx(graph))


def test_auto_layout_in_window_is_one_undo_step(window, example, qtbot):
    window.open_project(example("residual_cnn"))
    graph = window.document.graph
    for i, node_id in enumerate(graph.node_ids()):  # scramble
        window.document.move_nodes({node_id: ((i * 7919) % 900, (i * 104729) % 700)})
    scrambled = graph.snapshot()
    count = window.document.undo_stack.count()
    window.act.auto_layout.trigger()
    assert window.document.undo_stack.count() == count + 1
    assert window.document.undo_stack.text(count) == "Auto-layout"
    positions = {n.id: n.position for n in graph.nodes()}
    _assert_layered(graph, positions, window.scene.node_sizes())
    rects = [item.sceneBoundingRect() for item in window.scene.node_items()]
    assert not any(rects[i].intersects(rects[j]) for i in range(len(rects)) for j in range(i + 1, len(rects)))
    window.document.undo_stack.undo()
    assert graph.snapshot() == scrambled


def test_paste_at_the_cursor_then_steps_when_pasted_again(cnn_window, monkeypatch):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QCursor

    w = cnn_window
    w.scene.select_nodes(["fc"])
    w.copy()
    spot = QPoint(200, 150)
    monkeypatch.setattr(QCursor, "pos", staticmethod(lambda: w.view.viewport().mapToGlobal(spot)))
    monkeypatch.setattr(w.view, "underMouse", lambda: True)
    first = w.paste()
    target = w.view.mapToScene(spot)
    assert w.document.graph.node(first[0]).position == (round(target.x()), round(target.y()))
    second = w.paste()
    assert w.document.graph.node(second[0]).position == (round(target.x()) + 40, round(target.y()) + 40)
