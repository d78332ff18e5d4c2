"""The topological order the document keeps stays an order under any edits, and the cycle check it
answers agrees with a plain search of the graph."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.document import Edge, Graph
from graphs.errors import CycleError, GraphError
from graphs.validate import to_networkx
from tests.graphs.edits import remove_node

PORTS = {"Input": [], "ReLU": ["in"], "Add": ["in0", "in1"], "Concat": ["in0", "in1"]}


def check_order(graph: Graph) -> None:
    """The kept ranks are a topological order of every node exactly when the graph has no cycle."""
    ranks = graph.topological_rank()
    acyclic = nx.is_directed_acyclic_graph(to_networkx(graph))
    assert (ranks is not None) == acyclic
    if ranks is not None:
        assert set(ranks) == set(graph.node_ids())
        assert len(set(ranks.values())) == len(ranks)
        for edge in graph.edges():
            assert ranks[edge.source] < ranks[edge.target], edge


def would_cycle(graph: Graph, source: str, target: str, without: Edge | None = None) -> bool:
    g = nx.DiGraph(to_networkx(graph))
    if without is not None and not any(e != without and (e.source, e.target) == (without.source, without.target)
                                       for e in graph.edges()):
        g.remove_edge(without.source, without.target)
    return source == target or nx.has_path(g, target, source)


def edit(graph: Graph, data) -> None:
    """One random edit: add or remove a node (and put it back with its wires, as undo does), wire two nodes
    checked or unchecked (a loaded file's wires may close a cycle), remove a wire."""
    ids = graph.node_ids()
    choice = data.draw(st.integers(0, 9)) if len(ids) > 3 else 0
    try:
        if choice == 0:
            graph.add_node(data.draw(st.sampled_from(list(PORTS))))
        elif choice == 1:
            remove_node(graph, data.draw(st.sampled_from(ids)), undo=data.draw(st.booleans()))
        elif choice <= 8:
            source, target = data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids))
            ports = PORTS[graph.node(target).type]
            if ports:
                port = data.draw(st.sampled_from(ports))
                if choice == 8:
                    graph.connect(source, target, target_port=port, check=False)
                else:
                    cycle = would_cycle(graph, source, target)
                    try:
                        graph.connect(source, target, target_port=port)
                    except CycleError:
                        assert cycle
                    else:
                        assert not cycle
        elif graph.edges():
            graph.disconnect(data.draw(st.sampled_from(graph.edges())))
    except GraphError:
        pass  # refused: nothing changed


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_kept_order_stays_a_topological_order_under_random_edits(data):
    graph = Graph()
    for _ in range(data.draw(st.integers(1, 60))):
        edit(graph, data)
        check_order(graph)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_reconnect_cycle_check_agrees_with_a_search(data):
    graph = Graph()
    for _ in range(data.draw(st.integers(1, 30))):
        edit(graph, data)
    if not graph.edges():
        return
    old = data.draw(st.sampled_from(graph.edges()))
    ids = graph.node_ids()
    source, target = data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids))
    if not PORTS[graph.node(target).type]:
        return
    ok, why = graph.can_connect(source, "out", target, PORTS[graph.node(target).type][0], replacing=old)
    if would_cycle(graph, source, target, without=old):
        assert not ok
    elif not ok:
        assert "cycle" not in why


def test_a_backward_wire_reorders_only_what_lies_between():
    graph = Graph()
    for name in "abcde":
        graph.add_node("Add" if name == "b" else "ReLU", {}, name)
    graph.connect("a", "b", target_port="in0")
    graph.connect("d", "e")
    ranks = dict(graph.topological_rank())
    graph.connect("e", "b", target_port="in1")  # e was ranked after b: the order is repaired
    after = graph.topological_rank()
    assert after["d"] < after["e"] < after["b"]
    assert after["a"] == ranks["a"] and after["c"] == ranks["c"]  # outside the affected span: unmoved
    ok, why = graph.can_connect("b", "out", "d", "in")
    assert not ok and "cycle" in why  # b is now downstream of d


def test_an_unchecked_cycle_drops_the_order_until_it_is_broken():
    graph = Graph()
    graph.add_node("Add", {}, "a")
    graph.add_node("Add", {}, "b")
    graph.add_node("ReLU", {}, "c")
    graph.connect("a", "b", target_port="in0")
    graph.connect("b", "c")
    loop = graph.connect("b", "a", target_port="in0", check=False)  # as a loaded file may
    assert graph.topological_rank() is None
    ok, why = graph.can_connect("c", "out", "a", "in1")
    assert not ok and "cycle" in why
    graph.disconnect(loop)
    ranks = graph.topological_rank()
    assert ranks["a"] < ranks["b"] < ranks["c"]
    assert graph.can_connect("c", "out", "a", "in1")[0] is False  # a -> b -> c -> a
    assert graph.can_connect("a", "out", "c", "in")[0] is False  # c's input is taken, no cycle involved


def test_a_node_put_in_without_add_node_is_ranked_at_the_next_use():
    from graphs.document import Node

    graph = Graph()
    graph.add_node("ReLU", {}, "a")
    graph.connect(graph.add_node("ReLU", {}, "b"), "a")
    graph._nodes["c"] = Node("c", "ReLU", {}, scope=graph)  # as graphs.units.expand does for a node it cannot add
    graph.connect("a", "c")
    ok, why = graph.can_connect("c", "out", "b", "in")
    assert not ok and "cycle" in why
    check_order(graph)
