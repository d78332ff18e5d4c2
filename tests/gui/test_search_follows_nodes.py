"""A node's sweep targets follow it: a rename moves them, a delete drops them, each in that edit's one
undo step; targets of other nodes and settings stay as they were."""

import pytest

from gui.document import DocumentController

SEARCH = {"optimizer.lr": {"log_uniform": [1e-4, 1e-1]},
          "nodes.fc.out_features": {"choice": [16, 32]},
          "nodes.conv.out_channels": {"choice": [8, 16]},
          "nodes.fc.bias": {"choice": [True, False]}}


@pytest.fixture
def controller(cnn_project):
    cnn_project.search = dict(SEARCH)
    return DocumentController(cnn_project)


def test_rename_moves_the_targets_in_one_undo_step(controller):
    steps = controller.undo_stack.count()
    assert controller.rename_node("fc", "head")
    assert list(controller.project.search) == ["optimizer.lr", "nodes.head.out_features",
                                               "nodes.conv.out_channels", "nodes.head.bias"]
    assert controller.project.search["nodes.head.out_features"] == SEARCH["nodes.fc.out_features"]
    assert controller.undo_stack.count() == steps + 1
    controller.undo_stack.undo()
    assert controller.project.search == SEARCH and list(controller.project.search) == list(SEARCH)
    controller.undo_stack.redo()
    assert "nodes.head.bias" in controller.project.search


def test_delete_drops_only_that_nodes_targets_and_undo_brings_them_back(controller):
    assert controller.remove(["fc"])
    assert controller.project.search == {"optimizer.lr": SEARCH["optimizer.lr"],
                                         "nodes.conv.out_channels": SEARCH["nodes.conv.out_channels"]}
    controller.undo_stack.undo()
    assert controller.project.search == SEARCH and controller.graph.has_node("fc")


def test_a_node_without_targets_leaves_the_search_alone(controller):
    before = controller.undo_stack.count()
    assert controller.rename_node("act", "relu1")
    assert controller.project.search == SEARCH
    assert controller.undo_stack.count() == before + 1


def flatten_before_conv_project():
    from graphs.project import Project

    project = Project(name="flatten before conv")
    graph = project.graph
    graph.add_node("Input", {"shape": [1, 8, 8]}, "x", (0, 0))
    graph.add_node("Flatten", {}, "flat", (200, 0))
    graph.add_node("Conv2d", {"out_channels": 4, "kernel_size": 3}, "conv", (400, 0))
    graph.connect("x", "flat")
    graph.connect("flat", "conv")
    project.search = {"nodes.flat.start_dim": {"choice": [1, 2]}, "nodes.conv.out_channels": {"choice": [4, 8]}}
    return project


def test_a_fix_that_removes_a_node_drops_its_targets_in_the_fixs_undo_step():
    from gui.fix_menu import apply_fix, fixes_for_node

    controller = DocumentController(flatten_before_conv_project())
    controller.flush()
    fix = next(f for f in fixes_for_node(controller, "conv") if f.title.startswith("Remove Flatten 'flat'"))
    steps = controller.undo_stack.count()
    assert apply_fix(controller, fix)
    assert not controller.graph.has_node("flat")
    assert controller.project.search == {"nodes.conv.out_channels": {"choice": [4, 8]}}
    assert controller.undo_stack.count() == steps + 1
    controller.undo_stack.undo()
    assert controller.graph.has_node("flat") and "nodes.flat.start_dim" in controller.project.search
