"""LiveValidation finds exactly what validate() finds, after any sequence of edits, re-checking only what
an edit can affect."""

from __future__ import annotations

import random

import pytest

from graphs.document import Graph
from graphs.errors import GraphError
from graphs.live_validation import LiveValidation
from graphs.validate import validate

TYPES = ["Input", "Linear", "ReLU", "Add", "Conv2d", "Target", "CrossEntropyLoss", "Flatten", "Concat"]


def same(live: LiveValidation, graph: Graph) -> None:
    def key(error):
        return type(error).__name__, error.node, error.port, error.message

    assert sorted(map(key, live.errors())) == sorted(map(key, validate(graph)))


def random_edit(graph: Graph, rng: random.Random) -> None:
    ids = graph.node_ids()
    choice = rng.randrange(9)
    try:
        if choice < 3 or not ids:
            graph.add_node(rng.choice(TYPES))
        elif choice == 3:
            graph.remove_node(rng.choice(ids))
        elif choice in (4, 5):
            target = graph.node(rng.choice(ids))
            ports = target.input_ports()
            if ports:  # unchecked, as a loaded file may be: cycles, ports fed twice, unknown ports
                graph.connect(rng.choice(ids), target.id, "out", rng.choice([*ports, "nope"]), check=False)
        elif choice == 6 and graph.edges():
            graph.disconnect(rng.choice(graph.edges()))
        elif choice == 7:
            node = graph.node(rng.choice(ids))
            if node.type == "Linear":
                graph.set_param(node.id, "shares", rng.choice([*ids, "ghost", None]))
            elif node.type in ("Add", "Concat"):
                graph.set_param(node.id, "inputs", rng.randrange(1, 4))
        else:
            graph.move_node(rng.choice(ids), (rng.random(), rng.random()))
    except GraphError:
        pass  # an edit the document refuses changes nothing


@pytest.mark.parametrize("seed", range(12))
def test_live_validation_agrees_with_validate_after_random_edits(seed):
    rng = random.Random(seed)
    graph = Graph()
    live = LiveValidation(graph)
    for step in range(150):
        random_edit(graph, rng)
        if step % 7 == 0:
            same(live, graph)
    same(live, graph)
    live.close()


def test_only_the_nodes_an_edit_can_affect_are_checked_again():
    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, "x")
    previous = "x"
    for i in range(50):
        graph.add_node("Linear", {"out_features": 4}, f"fc{i}")
        graph.connect(previous, f"fc{i}")
        previous = f"fc{i}"
    live = LiveValidation(graph)
    live.errors()
    checked = []
    original = live._check
    live._check = lambda node_id: checked.append(node_id) or original(node_id)
    graph.set_param("fc10", "out_features", 8)
    live.errors()
    assert checked == []  # its ports stay, and it had no problem: only its params are resolved again
    checked.clear()
    graph.move_node("fc3", (5, 5))
    assert live.errors() == [] and checked == []


def test_the_nodes_fed_by_a_node_whose_output_ports_change_are_checked_again():
    graph = Graph()
    graph.add_node("Input", {"shape": [4, 8]}, "x")
    graph.add_node("Chunk", {"chunks": 2, "dim": 1}, "chunk")
    graph.add_node("Linear", {"out_features": 4}, "fc")
    graph.connect("x", "chunk")
    graph.connect("chunk", "fc", "out1")
    live = LiveValidation(graph)
    assert live.errors() == validate(graph)
    checked = []
    original = live._check
    live._check = lambda node_id: checked.append(node_id) or original(node_id)
    graph.set_param("chunk", "chunks", 4)
    assert live.errors() == validate(graph)
    assert sorted(checked) == ["chunk", "fc"]


def test_a_node_whose_params_stop_resolving_is_checked_again_and_so_are_the_nodes_it_feeds():
    """(A kept flat graph of units takes params the expansion substituted without checking them.)"""
    graph = Graph(dotted_ids=True)
    graph.add_node("Input", {"shape": [4]}, "x")
    graph.add_node("Linear", {"out_features": 4}, "fc")
    graph.add_node("ReLU", node_id="relu")
    graph.connect("x", "fc")
    graph.connect("fc", "relu")
    live = LiveValidation(graph)
    assert live.errors() == []
    node = graph.live_node("fc")
    found = []
    for params in ({"out_features": 0}, {"out_features": 4}):
        old, node.params = node.params, params
        graph._keep_resolved(node, None)
        graph.params_changed.emit("fc", old, dict(params))
        found.append([(e.node, str(e)) for e in live.errors()])
        assert found[-1] == [(e.node, str(e)) for e in validate(graph)]
    assert [node for node, _ in found[0]] == ["fc"] and found[1] == []
