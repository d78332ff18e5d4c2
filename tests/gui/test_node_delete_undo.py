"""Deleting nodes and undoing that in a model large enough that the summary keeps its rows edit by edit: the
table moves just the rows (no reset) and ends as a freshly built summary would be; the canvas ends as a freshly
built one (the same items, every wire routed as a full reroute routes it)."""

import random

import pytest

from bench.editor_scale import big_graph
from graphs.project import Project
from gui import summary as summary_module
from gui.canvas import scene as scene_module
from gui.canvas.node_item import NodeItem
from gui.summary import ModelSummary

BLOCKS = 60  # 244 nodes in two rows of the wrapped layout: backward wires, detours and plain wires


@pytest.fixture
def big_window(window, qtbot, monkeypatch):
    monkeypatch.setattr(summary_module, "SORTED_UP_TO", 0)  # the rows kept edit by edit, as at 10,000 nodes
    window._set_project(Project(big_graph(4 * BLOCKS + 4), name="big"))
    qtbot.waitUntil(lambda: window.scene.updates_pending() == 0, timeout=20_000)
    return window


def shown_rows(summary: ModelSummary) -> list:
    summary.node_ids()  # brings a hidden table up to date
    return summary.model.rows


def fresh_rows(window) -> list:
    fresh = ModelSummary(window.document)
    try:
        return fresh.model.rows
    finally:
        fresh.deleteLater()


def settle(window, qtbot) -> None:
    window.document.flush()
    qtbot.waitUntil(lambda: window.scene.updates_pending() == 0, timeout=20_000)


def assert_scene_as_built(window) -> None:
    scene, graph = window.scene, window.document.graph
    assert sorted(item.node_id for item in scene.node_items()) == sorted(graph.node_ids())
    shown = [item for item in scene.items() if isinstance(item, NodeItem) and item.isVisible()]
    assert sorted(item.node_id for item in shown) == sorted(graph.node_ids())  # a removed node's item is hidden
    assert {item.edge for item in scene.edge_items()} == set(graph.edges())
    paths = {item.edge: item.path() for item in scene.edge_items()}
    scene.reroute()
    assert {item.edge: item.path() for item in scene.edge_items()} == paths


def test_delete_then_undo_moves_one_row_and_puts_it_back_in_place(big_window, qtbot):
    window = big_window
    summary, document = window.summary, window.document
    before = shown_rows(summary)
    resets, removed, inserted = [], [], []
    summary.model.modelReset.connect(lambda: resets.append(1))
    summary.model.rowsRemoved.connect(lambda _parent, first, last: removed.append((first, last)))
    summary.model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    row = [r[0] for r in before].index("ln30")
    assert document.remove(["ln30"])
    settle(window, qtbot)
    after_delete = shown_rows(summary)
    assert [r[0] for r in after_delete] == [r[0] for r in before if r[0] != "ln30"]
    assert after_delete == fresh_rows(window)
    assert removed == [(row, row)]
    document.undo_stack.undo()
    settle(window, qtbot)
    assert shown_rows(summary) == before == fresh_rows(window)
    assert inserted == [(row, row)] and resets == []
    assert_scene_as_built(window)


def test_random_deletes_undos_and_redos_end_as_freshly_built(big_window, qtbot):
    window = big_window
    summary, document = window.summary, window.document
    resets = []
    summary.model.modelReset.connect(lambda: resets.append(1))
    rng = random.Random(13)
    for step in range(32):
        choice = rng.random()
        if choice < 0.25:  # a node dropped across a wire: it goes around it, and back when the node goes
            wire = rng.choice(window.scene.edge_items()).path().pointAtPercent(0.5)
            assert document.add_node("ReLU", (wire.x() - 40, wire.y() - 20))
        elif choice < 0.6 or not document.undo_stack.canUndo():
            ids = document.graph.node_ids()
            picked = rng.sample(ids[1:-3], rng.choice((1, 1, 2, 3)))  # never the Input, head, Target or loss
            assert document.remove(picked)
        elif choice < 0.8:
            document.undo_stack.undo()
        elif document.undo_stack.canRedo():
            document.undo_stack.redo()
        settle(window, qtbot)
        assert shown_rows(summary) == fresh_rows(window), f"step {step}"
        if step % 4 == 3:
            assert_scene_as_built(window)
    assert resets == []  # every change moved rows; none reset the 10,000-row model's table
    while document.undo_stack.canUndo():
        document.undo_stack.undo()
    settle(window, qtbot)
    assert shown_rows(summary) == fresh_rows(window)
    assert_scene_as_built(window)


def test_a_removed_nodes_item_is_hidden_at_once_and_leaves_the_scene_when_edits_pause(window, qtbot, monkeypatch):
    monkeypatch.setattr(scene_module, "RETIRE_AFTER_MS", 50)
    window._set_project(Project(big_graph(12), name="small"))
    scene, document = window.scene, window.document
    node_id = document.graph.node_ids()[5]
    item = scene.node_item(node_id)
    item.setSelected(True)
    centre = item.sceneBoundingRect().center()
    document.remove([node_id])
    assert not item.isVisible() and not item.isSelected() and item.scene() is scene
    assert item not in scene.items(centre) and scene.node_item(node_id) is None  # nothing can grab it
    document.undo_stack.undo()
    back = scene.node_item(node_id)
    assert back is not item and back.isVisible() and back in scene.items(centre)
    qtbot.waitUntil(lambda: item.scene() is None, timeout=5_000)  # the pause came: out of the scene
    assert back.scene() is scene


def test_items_waiting_to_leave_go_with_a_project_opened_meanwhile(window, qtbot, monkeypatch):
    monkeypatch.setattr(scene_module, "RETIRE_AFTER_MS", 50)
    window._set_project(Project(big_graph(12), name="small"))
    window.document.remove(window.document.graph.node_ids()[3:6])
    window._set_project(Project(big_graph(8), name="other"))  # the scene is cleared: Qt deletes those items
    qtbot.wait(150)  # the pause: nothing left to take out (no call on a deleted item)
    assert sorted(i.node_id for i in window.scene.node_items()) == sorted(window.document.graph.node_ids())
    assert all(item.isVisible() for item in window.scene.items() if isinstance(item, NodeItem))


def test_results_seen_by_wires_on_screen_once_are_not_kept_alive(big_window, qtbot):
    import gc
    import weakref

    from gui.canvas.edge_item import carried_shape

    window = big_window
    document, view, scene = window.document, window.view, window.scene
    view.set_zoom(1.0)
    norms = [n for n in document.graph.node_ids() if document.graph.node(n).type == "LayerNorm"]
    made = []  # every result this test's edits make, held weakly
    for node_id in norms[::6]:  # edits in different places, each looked at: its wires take that result
        view.centerOn(scene.node_item(node_id).sceneBoundingRect().center())
        for edit in (lambda node_id=node_id: document.remove([node_id]), document.undo_stack.undo):
            edit()
            document.flush()
            view.viewport().repaint()
            made.append(weakref.ref(document.result))
    gc.collect()
    alive = [ref for ref in made if ref() is not None]
    assert len(alive) <= 3, f"{len(alive)} of the {len(made)} results made are kept alive"  # newest, its basis
    result = document.result
    for edge_item in scene.edge_items():  # and every wire, on screen or not, reads the newest shapes
        assert edge_item.shape_text == carried_shape(result, edge_item.edge)
    settle(window, qtbot)
    assert_scene_as_built(window)
