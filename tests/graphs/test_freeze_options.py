"""A node's `trainable` and `lr_mult`: saved on the node, absent when default, checked, one event per change."""

from __future__ import annotations

import json

import pytest

from graphs.document import Graph
from graphs.errors import GraphError, ProjectFormatError
from graphs.project import Project, loads_project


def small_graph() -> Graph:
    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, "x")
    graph.add_node("Linear", {"out_features": 2}, "fc")
    graph.connect("x", "fc")
    return graph


def test_saved_on_the_node_only_when_not_the_default_and_loaded_back():
    graph = small_graph()
    graph.set_training_options("fc", trainable=False, lr_mult=0.1)
    data = json.loads(Project(graph).to_json())
    by_id = {node["id"]: node for node in data["nodes"]}
    assert by_id["fc"]["trainable"] is False and by_id["fc"]["lr_mult"] == 0.1
    assert "trainable" not in by_id["x"] and "lr_mult" not in by_id["x"]
    again = loads_project(json.dumps(data)).graph
    assert (again.node("fc").trainable, again.node("fc").lr_mult) == (False, 0.1)
    assert again.snapshot() == graph.snapshot()


def test_an_old_file_without_them_loads_as_trainable():
    text = json.dumps({"format": "neurocanvas", "version": 1, "nodes": [{"id": "fc", "type": "Linear"}]})
    node = loads_project(text).graph.node("fc")
    assert node.trainable is True and node.lr_mult == 1.0


@pytest.mark.parametrize("field, value", [("trainable", "no"), ("trainable", 0), ("lr_mult", -1),
                                          ("lr_mult", "fast"), ("lr_mult", True)])
def test_bad_values_in_a_file_are_refused_naming_the_node(field, value):
    text = json.dumps({"format": "neurocanvas", "version": 1,
                       "nodes": [{"id": "fc", "type": "Linear", field: value}]})
    with pytest.raises(ProjectFormatError, match=f"nodes\\[0\\].*'fc'.*{field} must be"):
        loads_project(text, "p.json")


def test_one_event_per_change_and_none_when_nothing_changes():
    graph = small_graph()
    heard = []
    graph.training_options_changed.sub(lambda *args: heard.append(args))
    graph.set_training_options("fc", trainable=False)
    graph.set_training_options("fc", trainable=False)
    graph.set_training_options("fc", lr_mult=2)
    assert heard == [("fc", False, 1.0), ("fc", False, 2.0)]
    with pytest.raises(GraphError, match="lr_mult"):
        graph.set_training_options("fc", lr_mult=float("nan"))
    copied = graph.copy().node("fc")
    assert (copied.trainable, copied.lr_mult) == (False, 2.0)
