"""RemoveNodes finds the removed nodes' wires from the document's index of each node's wires and their places
from `Graph.places_of`; undoing it must still restore the exact node order and the exact order of the wires."""

import pytest
from PySide6.QtGui import QUndoStack

from graphs.document import Graph
from gui.commands import RemoveNodes, RenameNode


def diamond() -> Graph:
    """x -> a -> c, x -> b -> c (c an Add), plus d fed by a and c, wires made in a mixed order."""
    graph = Graph()
    for node_id, type_name in (("x", "Input"), ("a", "ReLU"), ("b", "ReLU"), ("c", "Add"), ("d", "Add"),
                               ("tail", "ReLU")):
        graph.add_node(type_name, {"shape": [4]} if type_name == "Input" else {}, node_id)
    graph.connect("x", "b")
    graph.connect("b", "c", target_port="in1")
    graph.connect("x", "a")
    graph.connect("c", "d", target_port="in1")
    graph.connect("a", "c", target_port="in0")
    graph.connect("a", "d", target_port="in0")
    graph.connect("d", "tail")
    return graph


@pytest.mark.parametrize("removed", [["a"], ["c", "a"], ["a", "b", "c"], ["x", "d"], ["tail", "x", "c", "b"]])
def test_undo_restores_node_order_and_wire_order(qapp, removed):
    graph = diamond()
    nodes, edges = graph.node_ids(), graph.edges()
    touching = [e for e in edges if e.source in removed or e.target in removed]
    stack = QUndoStack()
    stack.push(RemoveNodes(graph, removed))
    assert not any(graph.has_node(node_id) for node_id in removed)
    assert graph.edges() == [e for e in edges if e not in touching]
    stack.undo()
    assert graph.node_ids() == nodes
    assert graph.edges() == [e for e in edges if e not in touching] + touching  # put back in their first order
    assert {n: graph.index_of(n) for n in nodes} == {n: i for i, n in enumerate(nodes)}
    stack.redo()
    stack.undo()
    assert graph.node_ids() == nodes


def test_places_of_after_edits_agrees_with_the_node_order():
    graph = Graph()
    ids = [graph.add_node("ReLU", {}, f"r{i}") for i in range(20)]
    graph.remove_node("r5")  # shifts the places after it
    graph.remove_node("r19")  # the last: nothing shifts
    graph.add_node("ReLU", {}, "r5", index=2)
    order = graph.node_ids()
    assert order == ids[:2] + ["r5"] + ids[2:5] + ids[6:19]
    assert graph.places_of(order[:3]) == {n: i for i, n in enumerate(order[:3])}  # a few: looked up
    assert graph.places_of(order) == {n: i for i, n in enumerate(order)}  # many: the whole map
    graph.remove_node(order[-1])
    assert [graph.index_of(n) for n in order[:-1]] == list(range(len(order) - 1))


def test_rename_keeps_the_wires_in_order(qapp):
    graph = diamond()
    edges = graph.edges()
    stack = QUndoStack()
    stack.push(RenameNode(graph, "a", "a2"))
    assert graph.index_of("a2") == 1
    assert [e.source for e in graph.in_edges("c")] == ["b", "a2"]
    stack.undo()
    assert set(graph.edges()) == set(edges)
    assert graph.node_ids() == ["x", "a", "b", "c", "d", "tail"]
