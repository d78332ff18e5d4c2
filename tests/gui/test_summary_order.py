"""The summary's kept row order stays a topological order of exactly the model's nodes under random
edits, keeps its rows in place for a wire taken away and put back, and the change set the panels
follow names every node whose part of the result changed."""

import random

import pytest

from engine.shapes import ShapeInference
from graphs.document import Graph
from gui.result_changes import changed_nodes, totals
from gui.summary_order import LiveOrder
from tests.graphs.edits import remove_node


def watched(graph: Graph) -> LiveOrder:
    order = LiveOrder(lambda: graph)
    graph.node_added.sub(lambda node: order.node_added(node.id))
    graph.node_removed.sub(lambda node: order.node_removed(node.id))
    graph.edge_added.sub(order.edge_added)
    return order


def chain(count: int) -> Graph:
    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, "x")
    previous = "x"
    for i in range(count):
        previous = graph.connect(previous, graph.add_node("ReLU", {}, f"r{i}")).target
    return graph


@pytest.mark.parametrize("read_every", [1, 7])  # 7: rows renumbered when read, after several edits
def test_the_kept_order_stays_a_topological_order_of_the_model_under_random_edits(read_every):
    rng = random.Random(11)
    graph = chain(12)
    order = watched(graph)
    order.ids()
    for step in range(300):
        ids = graph.node_ids()
        choice = rng.randrange(4)
        if choice == 0:
            graph.add_node("ReLU", {})
        elif choice == 1 and len(ids) > 3:
            remove_node(graph, rng.choice(ids[1:]), undo=rng.random() < 0.5)
        elif choice == 2 and graph.edges():
            graph.disconnect(rng.choice(graph.edges()))
        else:
            source, target = rng.sample(ids, 2)
            if graph.edge_into(target, "in") is None and graph.node(target).type == "ReLU" \
                    and graph.can_connect(source, "out", target, "in")[0]:
                graph.connect(source, target)
        if step % read_every:
            continue
        place = {node_id: i for i, node_id in enumerate(order.ids())}
        assert sorted(place) == sorted(graph.node_ids())
        assert all(place[edge.source] < place[edge.target] for edge in graph.edges())
        assert all(order.position(node_id) == i for node_id, i in place.items())


def test_a_wire_taken_away_and_put_back_keeps_every_row_in_place():
    graph = chain(30)
    order = watched(graph)
    before, version = list(order.ids()), order.version
    edge = graph.in_edges("r10")[0]
    graph.disconnect(edge)
    graph.connect(edge.source, edge.target, edge.source_port, edge.target_port)
    assert order.ids() == before and order.version == version


def test_the_change_set_names_every_node_whose_part_of_the_result_changed():
    graph = chain(30)
    inference = ShapeInference(graph)
    first = inference.result()
    edge = graph.in_edges("r10")[0]
    graph.disconnect(edge)
    cut = inference.result()
    changed = changed_nodes(first, cut)
    differs = {n for n in graph.node_ids() if (first.info.get(n), first.errors_for(n)) != (cut.info.get(n), cut.errors_for(n))
               or first.inputs.get(n) != cut.inputs.get(n)}
    assert differs <= changed and "r10" in changed and "r9" not in changed
    graph.connect(edge.source, edge.target)
    back = inference.result()
    assert {f"r{i}" for i in range(10, 30)} <= changed_nodes(cut, back)
    assert totals(back) == (back.total_params, back.total_macs) and totals(cut) == (cut.total_params, cut.total_macs)
    assert changed_nodes(None, back) is None


def test_a_row_removed_and_put_back_keeps_every_rows_place_without_renumbering():
    """A delete and its undo: the rows' places are read through the pending removal, then the removal cancels."""
    graph = chain(40)
    order = watched(graph)
    before = list(order.ids())
    assert order.positions == {node_id: i for i, node_id in enumerate(before)}  # (makes the map of places)
    remove_node(graph, "r20", undo=False)
    assert order.position("r30") == 30 and order.position("r10") == 11 and order.position("r20") is None
    graph.add_node("ReLU", {}, "r20", index=before.index("r20"))
    graph.connect("r19", "r20")
    graph.connect("r20", "r21")
    assert order.ids() == before and order._places._removed == [] and order._places._map is not None
    assert all(order.position(node_id) == i for i, node_id in enumerate(before))
