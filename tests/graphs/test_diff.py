"""graphs.diff: what turns one graph (or one run's settings) into another."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.diff import MISSING, flatten, graph_diff, settings_diff
from graphs.document import Edge, Graph


def chain(widths=(16, 8)) -> Graph:
    """Input -> fc0 -> act0 -> fc1 -> act1 ..."""
    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, node_id="x")
    previous = "x"
    for i, width in enumerate(widths):
        graph.add_node("Linear", {"out_features": width}, node_id=f"fc{i}")
        graph.add_node("ReLU", node_id=f"act{i}")
        graph.connect(previous, f"fc{i}")
        graph.connect(f"fc{i}", f"act{i}")
        previous = f"act{i}"
    return graph


def test_the_same_graph_has_an_empty_diff():
    assert graph_diff(chain(), chain()).empty


def test_added_removed_changed_and_rewired():
    a, b = chain(), chain()
    b.set_param("fc0", "out_features", 32)
    b.set_param("fc1", "bias", False)
    b.remove_node("act1")
    b.add_node("Dropout", {"p": 0.5}, node_id="drop")
    b.connect("fc1", "drop")
    diff = graph_diff(a, b)
    assert diff.added == ["drop"] and diff.removed == ["act1"]
    assert diff.changed == {"fc0": {"out_features": (16, 32)}, "fc1": {"bias": (MISSING, False)}}
    assert diff.edges_added == [Edge("fc1", "drop")] and diff.edges_removed == [Edge("fc1", "act1")]
    assert diff.as_dict()["params_changed"]["fc0"] == {"out_features": [16, 32]}


def test_a_moved_node_is_not_a_change():
    a, b = chain(), chain()
    b.move_node("fc0", (300.0, 40.0))
    assert graph_diff(a, b).empty


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["fc0", "fc1"]), st.integers(1, 64)), max_size=6),
       st.sets(st.sampled_from(["act0", "act1"])))
def test_random_param_edits_and_removals_are_found_exactly(edits, removed):
    a, b = chain(), chain()
    final = {}
    for node, width in edits:
        b.set_param(node, "out_features", width)
        final[node] = width
    for node in removed:
        b.remove_node(node)
    diff = graph_diff(a, b)
    original = {"fc0": 16, "fc1": 8}
    assert diff.changed == {node: {"out_features": (original[node], width)}
                            for node, width in final.items() if width != original[node]}
    assert sorted(diff.removed) == sorted(removed) and diff.added == []
    assert set(diff.edges_removed) == {e for e in a.edges() if e.source in removed or e.target in removed}
    # the diff, applied to a, gives b's params back
    for node, params in diff.changed.items():
        assert b.node(node).params["out_features"] == params["out_features"][1]


def test_settings_diff_compares_nested_settings_by_dotted_name():
    a = {"epochs": 2, "optimizer": {"type": "Adam", "lr": 0.01}, "dataset": {"name": "digits"}}
    b = {"epochs": 2, "optimizer": {"type": "SGD", "lr": 0.01, "momentum": 0.9}, "dataset": {"name": "digits"},
         "patience": 3}
    assert settings_diff(a, b) == {"optimizer.type": ("Adam", "SGD"), "optimizer.momentum": (MISSING, 0.9),
                                   "patience": (MISSING, 3)}
    assert flatten({"a": {"b": {"c": 1}}, "d": {}}) == {"a.b.c": 1, "d": {}}
