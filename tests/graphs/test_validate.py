"""Each structural error is reported, typed, on the node (and port) that causes it."""

import json

from graphs import Graph, validate
from graphs.errors import (
    CycleError,
    LossInputError,
    MissingInputError,
    NoInputNodeError,
    PortAlreadyConnectedError,
    UnknownNodeTypeError,
    UnknownPortError,
)
from graphs.project import loads_project


def kinds(graph):
    return {(type(e), e.node, e.port) for e in validate(graph)}


def test_valid_graph_has_no_errors():
    g = Graph()
    g.add_node("Input", {"shape": [4]}, "x")
    g.add_node("Linear", {}, "fc")
    g.connect("x", "fc")
    assert validate(g) == []


def test_no_input_node():
    g = Graph()
    g.add_node("ReLU", {}, "act")
    errors = validate(g)
    assert any(isinstance(e, NoInputNodeError) for e in errors)
    assert (MissingInputError, "act", "in") in kinds(g)


def test_loss_with_open_ports():
    g = Graph()
    g.add_node("Input", {"shape": [4]}, "x")
    g.add_node("CrossEntropyLoss", {}, "loss")
    g.connect("x", "loss", target_port="input")
    errors = [e for e in validate(g) if isinstance(e, LossInputError)]
    assert [(e.node, e.port) for e in errors] == [("loss", "target")]
    assert "Target" in errors[0].message


def _file(edges, nodes=None):
    nodes = nodes or [{"id": "x", "type": "Input", "params": {"shape": [4]}},
                      {"id": "a", "type": "ReLU"}, {"id": "b", "type": "ReLU"}]
    return loads_project(json.dumps({"format": "neurocanvas", "version": 1, "nodes": nodes, "edges": edges}))


def test_cycle_from_a_file():
    project = _file([{"source": "x", "target": "a"}, {"source": "a", "target": "b"},
                     {"source": "b", "target": "a"}])
    errors = validate(project.graph)
    cycles = [e for e in errors if isinstance(e, CycleError)]
    assert cycles, errors
    assert "a -> b -> a" in cycles[0].message or "b -> a -> b" in cycles[0].message


def test_port_connected_twice_from_a_file():
    project = _file([{"source": "x", "target": "a"}, {"source": "x", "target": "b"},
                     {"source": "b", "target": "a"}])
    assert (PortAlreadyConnectedError, "a", "in") in kinds(project.graph)


def test_unknown_port_from_a_file():
    project = _file([{"source": "x", "target": "a", "target_port": "in7"}, {"source": "a", "target": "b"}])
    found = kinds(project.graph)
    assert (UnknownPortError, "a", "in7") in found
    assert (MissingInputError, "a", "in") in found


def test_unknown_type_is_a_typed_error():
    g = Graph()
    g.add_node("Input", {"shape": [4]}, "x")
    g._nodes["x"].type = "Bogus"  # only a hand-edited document can hold this
    assert (UnknownNodeTypeError, "x", None) in kinds(g)
