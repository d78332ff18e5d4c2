"""The graph document: writes validate and emit one event, reads are copies, can_connect has no side effects."""

import pytest

from graphs import Graph
from graphs.errors import (
    CycleError,
    DuplicateNodeError,
    GraphError,
    ParamError,
    PortAlreadyConnectedError,
    UnknownNodeTypeError,
    UnknownPortError,
)


@pytest.fixture
def graph():
    g = Graph()
    g.add_node("Input", {"shape": [4]}, "x")
    g.add_node("Linear", {"out_features": 3}, "fc")
    g.add_node("ReLU", {}, "act")
    g.connect("x", "fc")
    g.connect("fc", "act")
    return g


def spy(graph):
    log = []
    for name in ("node_added", "node_removed", "edge_added", "edge_removed", "params_changed", "node_moved"):
        getattr(graph, name).sub(lambda *args, name=name: log.append((name, args)))
    return log


def test_reads_are_copies(graph):
    node = graph.node("fc")
    node.params["out_features"] = 99
    assert graph.node("fc").params == {"out_features": 3}
    graph.nodes()[0].params["shape"] = [1]
    assert graph.node("x").params["shape"] == [4]


def test_each_write_emits_one_event(graph):
    log = spy(graph)
    graph.set_param("fc", "out_features", 8)
    graph.move_node("fc", (10, 20))
    assert [name for name, _ in log] == ["params_changed", "node_moved"]
    assert log[0][1] == ("fc", {"out_features": 3}, {"out_features": 8})


def test_remove_node_removes_its_edges_first(graph):
    log = spy(graph)
    graph.remove_node("fc")
    assert [name for name, _ in log] == ["edge_removed", "edge_removed", "node_removed"]
    assert graph.edges() == []


def test_unknown_type_suggests_close_names():
    with pytest.raises(UnknownNodeTypeError, match="did you mean Conv2d"):
        Graph().add_node("Conv2D")


def test_duplicate_and_invalid_ids(graph):
    with pytest.raises(DuplicateNodeError):
        graph.add_node("ReLU", node_id="act")
    with pytest.raises(GraphError, match="not valid"):
        graph.add_node("ReLU", node_id="my-relu")


def test_param_schema_refuses_bad_values(graph):
    with pytest.raises(ParamError, match="out_features.*at least 1"):
        graph.set_param("fc", "out_features", 0)
    with pytest.raises(ParamError, match="has no param 'units'"):
        graph.set_param("fc", "units", 3)
    with pytest.raises(ParamError, match="must be an integer"):
        graph.add_node("Conv2d", {"kernel_size": "3"})
    assert graph.node("fc").params == {"out_features": 3}


def test_can_connect_has_no_side_effects(graph):
    log = spy(graph)
    before = graph.snapshot()
    assert graph.can_connect("act", "out", "fc", "in") == (False, "Linear 'fc' input 'in' is already connected to 'x'")
    assert graph.can_connect("x", "out", "act", "in")[0] is False
    graph.add_node("Add", {}, "add")
    assert graph.can_connect("act", "out", "add", "in0") == (True, "")
    assert graph.snapshot()["edges"] == before["edges"]
    assert [name for name, _ in log] == ["node_added"]


def test_connect_refusals(graph):
    graph.add_node("Linear", {}, "fc2")
    graph.connect("act", "fc2")
    graph.disconnect(graph.edge_into("fc", "in"))
    with pytest.raises(CycleError, match="cycle"):
        graph.connect("fc2", "fc")
    with pytest.raises(UnknownPortError, match="no input port 'in3'.*in0, in1"):
        graph.add_node("Concat", {}, "cat")
        graph.connect("x", "cat", target_port="in3")
    with pytest.raises(PortAlreadyConnectedError):
        graph.connect("x", "fc2")


def test_shrinking_variadic_ports_needs_disconnect_first():
    g = Graph()
    g.add_node("Input", {"shape": [2]}, "x")
    g.add_node("Add", {"inputs": 3}, "add")
    g.connect("x", "add", target_port="in2")
    with pytest.raises(GraphError, match="disconnect port 'in2'"):
        g.set_params("add", {"inputs": 2})
    assert g.node("add").params == {"inputs": 3}


def test_copy_is_independent(graph):
    other = graph.copy()
    other.set_param("fc", "out_features", 7)
    assert graph.node("fc").params["out_features"] == 3
    assert other.snapshot() != graph.snapshot()
