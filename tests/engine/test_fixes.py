"""engine.fixes: each class of shape error gets a fix that makes the graph valid, and every fix offered
for a randomly broken example removes its error and introduces none (checked here independently)."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data_shapes import graph_as_trained
from engine.fixes import apply_edits, fixes_for, suggest
from engine.shapes import infer
from graphs.document import Graph
from graphs.project import load_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.json"))


def example(name: str) -> Graph:
    project = load_project(ROOT / "resources" / "examples" / f"{name}.json")
    graph, _ = graph_as_trained(project.graph, project.training, project.path.parent)
    return graph


def chain(*nodes) -> Graph:
    """A graph of (type, params) nodes wired in a line, ids n0, n1, ..."""
    graph = Graph()
    for i, (type_name, params) in enumerate(nodes):
        graph.add_node(type_name, params, f"n{i}")
        if i:
            graph.connect(f"n{i - 1}", f"n{i}")
    return graph


def with_loss(graph: Graph, last: str, loss: str, target_shape, dtype: str) -> Graph:
    graph.add_node(loss, {}, "loss")
    graph.add_node("Target", {"shape": target_shape, "dtype": dtype}, "y")
    graph.connect(last, "loss", "out", "input")
    graph.connect("y", "loss", "out", "target")
    return graph


def only_error(graph: Graph):
    result = infer(graph)
    assert len(result.errors) == 1, result.errors
    return result, result.errors[0]


def fixed(graph: Graph, fix) -> Graph:
    trial = graph.copy()
    apply_edits(trial, fix.edits)
    return trial


def titles(graph: Graph) -> list[str]:
    result, error = only_error(graph)
    fixes = suggest(graph, result, error)
    for fix in fixes:
        assert infer(fixed(graph, fix)).valid, fix.title
    return [fix.title for fix in fixes]


def test_linear_after_an_image_gets_a_flatten():
    graph = with_loss(chain(("Input", {"shape": [3, 8, 8]}), ("Linear", {"out_features": 10})),
                      "n1", "CrossEntropyLoss", [], "int64")
    assert titles(graph) == ["Insert Flatten before Linear 'n1'"]
    after = fixed(graph, suggest(graph, *only_error(graph))[0])
    assert [n.type for n in after.nodes()].count("Flatten") == 1
    assert infer(after).output_shapes("n1") == {"out": (10,)}


def test_conv_after_a_vector_gets_an_unflatten():
    graph = chain(("Input", {"shape": [64]}), ("Conv2d", {"out_channels": 4, "kernel_size": 3}))
    names = titles(graph)
    assert names[0] == "Insert Unflatten to [1, 8, 8] before 'n1'"
    graph = chain(("Input", {"shape": [1, 8, 8]}), ("Flatten", {}), ("Conv2d", {"out_channels": 4}))
    assert titles(graph)[0] == "Remove Flatten 'n1' before 'n2'"
    graph = chain(("Input", {"shape": [12]}), ("Conv1d", {"out_channels": 4, "kernel_size": 1}))
    assert titles(graph)[0] == "Insert Unflatten to [1, 12] before 'n1'"


def test_channel_mismatch_at_add():
    graph = chain(("Input", {"shape": [3, 8, 8]}), ("Conv2d", {"out_channels": 8, "padding": 1}),
                  ("BatchNorm2d", {}))
    graph.add_node("Conv2d", {"out_channels": 4, "padding": 1}, "side")
    graph.add_node("Add", {}, "add")
    graph.connect("n0", "side")
    graph.connect("n2", "add", "out", "in0")
    graph.connect("side", "add", "out", "in1")
    names = titles(graph)
    assert "Set out_channels of 'n1' to 4" in names  # found through the BatchNorm
    assert "Set out_channels of 'side' to 8" in names
    assert "Insert 1x1 Conv2d(8) before 'add.in1'" in names


def test_kernel_larger_than_its_input():
    graph = chain(("Input", {"shape": [1, 4, 4]}), ("Conv2d", {"out_channels": 2, "kernel_size": 5}))
    assert titles(graph) == ["Set padding of 'n1' to 2", "Set padding of 'n1' to 1", "Set kernel_size of 'n1' to 4"]
    graph = chain(("Input", {"shape": [1, 3, 9]}), ("MaxPool2d", {"kernel_size": 4}))
    assert "Set kernel_size of 'n1' to [3, 4]" in titles(graph)


def test_loss_whose_target_dtype_does_not_fit():
    graph = with_loss(chain(("Input", {"shape": [4]}), ("Linear", {"out_features": 3})), "n1",
                      "MSELoss", [], "int64")
    names = titles(graph)
    assert "Switch 'loss' to CrossEntropyLoss" in names
    graph = with_loss(chain(("Input", {"shape": [4]}), ("Linear", {"out_features": 3})), "n1",
                      "MSELoss", [3], "int64")
    assert "Set dtype of Target 'y' to float32" in titles(graph)


def test_a_fix_that_breaks_something_else_is_not_offered():
    # changing the producer's channels would break its other consumer, a Linear sized by hand via Reshape
    graph = chain(("Input", {"shape": [3, 4, 4]}), ("Conv2d", {"out_channels": 8, "padding": 1}),
                  ("Reshape", {"shape": [8, 16]}))
    graph.add_node("Conv2d", {"out_channels": 4, "padding": 1}, "side")
    graph.add_node("Add", {}, "add")
    graph.connect("n0", "side")
    graph.connect("n1", "add", "out", "in0")
    graph.connect("side", "add", "out", "in1")
    assert "Set out_channels of 'n1' to 4" not in titles(graph)


def test_edits_are_plain_data():
    graph = with_loss(chain(("Input", {"shape": [3, 8, 8]}), ("Linear", {"out_features": 10})),
                      "n1", "CrossEntropyLoss", [], "int64")
    (error, fixes), = fixes_for(graph)
    assert json.loads(json.dumps(fixes[0].as_dict())) == fixes[0].as_dict()
    assert [e["op"] for e in fixes[0].edits] == ["disconnect", "add_node", "connect", "connect"]


# ---- breaking valid examples at random -------------------------------------------------------------------
def _remove_flatten(graph: Graph, node) -> bool:
    above, below = graph.in_edges(node.id), graph.out_edges(node.id)
    if node.type != "Flatten" or len(above) != 1:
        return False
    graph.remove_node(node.id)
    for edge in below:
        graph.connect(above[0].source, edge.target, above[0].source_port, edge.target_port)
    return True


def _change_channels(graph: Graph, node, value) -> bool:
    if "out_channels" not in node.resolved_params():
        return False
    graph.set_params(node.id, {**node.params, "out_channels": value})
    return True


def _grow_kernel(graph: Graph, node, value) -> bool:
    if not node.type.startswith("Conv") or node.type.startswith("ConvTranspose"):
        return False
    graph.set_params(node.id, {**node.params, "kernel_size": value, "padding": 0})
    return True


def _flip_dtype(graph: Graph, node) -> bool:
    if node.type != "Target":
        return False
    dtype = node.resolved_params()["dtype"]
    graph.set_params(node.id, {**node.params, "dtype": "float32" if dtype == "int64" else "int64"})
    return True


def _flatten_before_conv(graph: Graph, node) -> bool:
    edge = graph.edge_into(node.id, "in")
    if not node.type.startswith("Conv") or edge is None:
        return False
    graph.disconnect(edge)
    graph.add_node("Flatten", {}, "broken_flatten")
    graph.connect(edge.source, "broken_flatten", edge.source_port, "in")
    graph.connect("broken_flatten", node.id, "out", edge.target_port)
    return True


BREAKERS = {
    "remove_flatten": lambda g, n, v: _remove_flatten(g, n),
    "change_channels": lambda g, n, v: _change_channels(g, n, v),
    "grow_kernel": lambda g, n, v: _grow_kernel(g, n, 7 + 2 * (v % 3)),
    "flip_dtype": lambda g, n, v: _flip_dtype(g, n),
    "flatten_before_conv": lambda g, n, v: _flatten_before_conv(g, n),
}
GRAPHS = {path.stem: example(path.stem) for path in EXAMPLES}


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(GRAPHS)), breaker=st.sampled_from(sorted(BREAKERS)), data=st.data())
def test_every_offered_fix_removes_its_error_and_introduces_none(name, breaker, data):
    graph = GRAPHS[name].copy()
    node = data.draw(st.sampled_from(graph.nodes()), label="node")
    if not BREAKERS[breaker](graph, node, data.draw(st.integers(1, 40), label="value")):
        return
    result = infer(graph)
    before = {(e.node, e.message) for e in result.errors}
    for error in result.errors:
        for fix in suggest(graph, result, error):
            after = {(e.node, e.message) for e in infer(fixed(graph, fix)).errors}
            assert (error.node, error.message) not in after, fix.title
            assert after <= before - {(error.node, error.message)}, fix.title


@pytest.mark.parametrize("breaker", ["remove_flatten", "flip_dtype", "flatten_before_conv"])
def test_the_common_breaks_of_the_digits_cnn_are_fixable(breaker):
    graph = GRAPHS["digits_cnn"].copy()
    node = next(n for n in graph.nodes() if BREAKERS[breaker](graph, n, 9))
    assert node and not infer(graph).valid
    for _ in range(3):
        result = infer(graph)
        if result.valid:
            break
        fixes = suggest(graph, result, result.errors[0])
        assert fixes, result.errors[0].message
        apply_edits(graph, fixes[0].edits)
    assert infer(graph).valid
