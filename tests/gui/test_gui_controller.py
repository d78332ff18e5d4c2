"""The document controller: every edit one undo command, refusals reported, undo exact."""

import random

import pytest

from graphs.errors import GraphError, ParamError
from graphs.project import Project
from gui.document import DocumentController


@pytest.fixture
def controller(cnn_project):
    return DocumentController(cnn_project)


def test_signals_follow_document_events(controller):
    seen = []
    controller.nodeAdded.connect(lambda node_id: seen.append(("add", node_id)))
    controller.edgeAdded.connect(lambda edge: seen.append(("edge", edge.source, edge.target)))
    controller.paramsChanged.connect(lambda node_id: seen.append(("params", node_id)))
    node_id = controller.add_node("ReLU", (10, 20))
    assert controller.connect("fc", "out", node_id, "in")
    controller.set_param("fc", "out_features", 5)
    assert seen == [("add", "relu_1"), ("edge", "fc", "relu_1"), ("params", "fc")]
    assert controller.graph.node(node_id).position == (10.0, 20.0)


def test_each_edit_is_one_undo_command(controller):
    stack = controller.undo_stack
    controller.add_node("Dropout", (0, 0))
    controller.set_param("dropout_1", "p", 0.2)
    controller.move_nodes({"dropout_1": (50, 60), "x": (5, 5)})
    controller.remove(["conv"])
    assert stack.count() == 4
    assert [stack.text(i) for i in range(4)] == [
        "Add Dropout 'dropout_1'", "Set p of 'dropout_1'", "Move 2 nodes", "Delete 1 item"]


def test_refused_connection_is_not_made_and_says_why(controller):
    messages = []
    controller.message.connect(messages.append)
    before = controller.graph.snapshot()
    assert not controller.connect("fc", "out", "conv", "in")  # conv's input is taken
    assert not controller.connect("flat", "out", "x", "in")  # Input has no input port
    assert not controller.connect("fc", "out", "act", "in")
    assert controller.graph.snapshot() == before
    assert controller.undo_stack.count() == 0
    assert "already connected to 'x'" in messages[0]
    assert all(m.startswith("Cannot connect: ") for m in messages)


def test_cycle_refused(controller):
    messages = []
    controller.message.connect(messages.append)
    controller.disconnect([e for e in controller.graph.edges() if e.target == "conv"])
    before = controller.graph.snapshot()
    assert not controller.connect("act", "out", "conv", "in")
    assert controller.graph.snapshot() == before
    assert messages[-1] == "Cannot connect: wiring 'act' to 'conv' would make a cycle"


def test_invalid_param_refused_document_unchanged(controller):
    messages = []
    controller.message.connect(messages.append)
    before = controller.graph.snapshot()
    with pytest.raises(ParamError):
        controller.set_param("conv", "out_channels", 0)
    with pytest.raises(ParamError):
        controller.set_params("conv", {"kernel_size": [3, 3, 3]})
    assert controller.graph.snapshot() == before
    assert controller.undo_stack.count() == 0
    assert "out_channels" in messages[0]


def test_removing_a_wired_variadic_port_is_refused(controller):
    add = controller.add_node("Add", (0, 300))
    controller.set_param(add, "inputs", 3)
    for port in ("in0", "in1", "in2"):
        assert controller.connect("x", "out", add, port)
    with pytest.raises(GraphError, match="disconnect port 'in2'"):
        controller.set_param(add, "inputs", 2)
    assert controller.graph.node(add).params == {"inputs": 3}


def test_same_value_is_no_edit(controller):
    assert not controller.set_param("fc", "out_features", 10)
    assert not controller.set_param("fc", "bias", True)  # the default, not set explicitly
    assert not controller.move_nodes({"x": (0.2, -0.3)})
    assert controller.undo_stack.count() == 0


def test_remove_restores_nodes_and_wires_exactly(controller):
    before = controller.graph.snapshot()
    controller.remove(["conv", "fc"])
    assert not controller.graph.has_node("conv")
    assert all("conv" not in (e.source, e.target) for e in controller.graph.edges())
    controller.undo_stack.undo()
    assert controller.graph.snapshot() == before


def test_inference_recomputes_once_per_batch(controller, qtbot):
    results = []
    controller.resultChanged.connect(results.append)
    controller.undo_stack.beginMacro("many")
    for i in range(10):
        controller.add_node("ReLU", (i * 10, 500))
    controller.undo_stack.endMacro()
    assert results == []  # coalesced: nothing until the event loop turns
    qtbot.waitUntil(lambda: len(results) == 1)
    qtbot.wait(20)
    assert len(results) == 1


def test_result_flushes_pending_edit(controller):
    controller.set_param("conv", "out_channels", 4)
    info = controller.result.info["conv"]
    assert info.outputs["out"].shape == (4, 6, 6)


def _random_edit(controller, rng):
    graph = controller.graph
    ids = graph.node_ids()
    choice = rng.randrange(8)
    if choice == 0 or not ids:
        controller.add_node(rng.choice(["ReLU", "Linear", "Dropout", "Add", "Conv2d"]),
                            (rng.randrange(-500, 500), rng.randrange(-500, 500)))
    elif choice == 1:
        controller.remove(rng.sample(ids, min(len(ids), rng.randrange(1, 3))))
    elif choice == 2:
        controller.move_nodes({n: (rng.randrange(-900, 900), rng.randrange(-900, 900))
                               for n in rng.sample(ids, min(len(ids), 3))})
    elif choice == 3:
        source, target = rng.choice(ids), rng.choice(ids)
        ports = graph.node(target).input_ports()
        if ports:
            controller.connect(source, "out", target, rng.choice(ports))
    elif choice == 4 and graph.edges():
        controller.disconnect([rng.choice(graph.edges())])
    elif choice == 5:
        linear = [n for n in ids if graph.node(n).type == "Linear"]
        if linear:
            controller.set_param(rng.choice(linear), "out_features", rng.randrange(1, 100))
    elif choice == 6:
        node_id = rng.choice(ids)
        if f"{node_id}_r" not in ids:
            controller.rename_node(node_id, f"{node_id}_r")
    else:
        controller.paste({"format": "neurocanvas", "version": 1,
                          "nodes": [graph.node(n).as_dict() for n in ids[:2]], "edges": []})


@pytest.mark.parametrize("seed", range(5))
def test_undo_redo_round_trip_over_many_mixed_edits(seed, cnn_builder):
    rng = random.Random(seed)
    project = Project()
    cnn_builder(project.graph)
    controller = DocumentController(project)
    original, original_order = controller.graph.snapshot(), controller.graph.node_ids()
    while controller.undo_stack.count() < 25:
        _random_edit(controller, rng)
    final, final_order = controller.graph.snapshot(), controller.graph.node_ids()
    assert controller.undo_stack.count() >= 20
    while controller.undo_stack.canUndo():
        controller.undo_stack.undo()
    assert controller.graph.snapshot() == original
    assert controller.graph.node_ids() == original_order  # the order decides forward()'s inputs and the file
    while controller.undo_stack.canRedo():
        controller.undo_stack.redo()
    assert controller.graph.snapshot() == final
    assert controller.graph.node_ids() == final_order
    # the live inference agrees with a fresh one after all that
    from engine.shapes import infer

    fresh = infer(controller.graph)
    assert {k: v.outputs for k, v in controller.result.info.items()} == {k: v.outputs for k, v in fresh.info.items()}


def test_moving_nodes_recomputes_nothing(controller, qtbot):
    results = []
    controller.resultChanged.connect(results.append)
    controller.move_nodes({"x": (50, 50), "conv": (300, 40)})
    qtbot.wait(20)
    assert results == []
    controller.set_param("conv", "out_channels", 3)
    qtbot.waitUntil(lambda: len(results) == 1)
