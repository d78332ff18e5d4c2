"""Incremental shape inference gives exactly what a fresh inference gives, after any edit."""

import random

from engine.shapes import ShapeInference, infer
from graphs import Graph


def chain(n=200):
    g = Graph()
    g.add_node("Input", {"shape": [8]}, "x")
    previous = "x"
    for i in range(n):
        node = g.add_node("Linear" if i % 2 == 0 else "ReLU", {"out_features": 8} if i % 2 == 0 else {}, f"n{i}")
        g.connect(previous, node)
        previous = node
    return g


def picture(result):
    return ({k: v.outputs for k, v in result.info.items()}, [(e.node, e.message) for e in result.errors])


def test_incremental_equals_fresh_after_random_edits():
    g = chain(60)
    live = ShapeInference(g)
    rng = random.Random(0)
    for step in range(80):
        node = f"n{rng.randrange(0, 60, 2)}"
        action = rng.random()
        if action < 0.6:
            g.set_param(node, "out_features", rng.choice([4, 8, 16]))
        elif action < 0.8:
            edge = g.edge_into(node, "in")
            if edge:
                g.disconnect(edge)
        else:
            index = int(node[1:])
            source = "x" if index == 0 else f"n{index - 1}"
            if g.edge_into(node, "in") is None:
                g.connect(source, node)
        assert picture(live.result()) == picture(infer(g)), f"step {step}"


def test_an_edit_recomputes_only_what_changed(monkeypatch):
    g = chain(200)
    live = ShapeInference(g)
    live.result()
    calls = []
    import engine.shapes as shapes

    original = shapes.infer_node
    monkeypatch.setattr(shapes, "infer_node", lambda *a: calls.append(a[0]) or original(*a))
    g.set_param("n198", "out_features", 9)  # a Linear near the end
    result = live.result()
    assert calls == ["n198", "n199"]
    assert result.output_shapes("n199") == {"out": (9,)}
    calls.clear()
    g.set_param("n100", "bias", False)  # same output shape: descendants keep their cache
    live.result()
    assert calls == ["n100"]


def test_errors_appear_on_the_node_that_causes_them_only():
    g = chain(6)
    g.set_params("x", {"shape": [8, 8]})
    g.add_node("Conv2d", {}, "conv")
    g.connect("n5", "conv")
    result = ShapeInference(g).result()
    assert [(e.node, type(e).__name__) for e in result.errors] == [("conv", "ShapeError")]
    assert "expects input [C, H, W], got [8, 8]" in result.errors[0].message
