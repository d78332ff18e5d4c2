"""A wire's source end moved to a node of another shape, and back (one undo step each), in a model large
enough that the canvas shows the change lazily: the items in view show it as the view paints, those out of
view when they are scrolled into view or read, and the summary table and the status bar at once."""

import pytest
from PySide6.QtWidgets import QAbstractItemView

from bench.editor_scale import big_graph
from graphs.document import Edge
from graphs.project import Project
from gui.canvas.scene import CanvasScene
from tests.gui.test_lod_scale import face

CENTRE = QAbstractItemView.ScrollHint.PositionAtCenter
BLOCKS = 60  # 244 nodes in two rows: the scene routes them at once, and most are out of view at 100%


@pytest.fixture
def residual_window(window, qtbot):
    window._set_project(Project(big_graph(4 * BLOCKS + 4), name="residual"))  # Linear, LayerNorm, ReLU, Add
    qtbot.waitUntil(lambda: window.scene.updates_pending() == 0, timeout=20_000)
    return window


def show(window, node_id: str) -> None:
    """Centre the view on the node at 100% and paint, as scrolling there does."""
    view = window.view
    view.set_zoom(1.0)
    view.centerOn(window.scene.node_item(node_id).sceneBoundingRect().center())
    view.viewport().repaint()


def test_a_different_source_and_back_shows_right_in_view_then_out_of_view(residual_window, qtbot):
    window = residual_window
    document, scene, summary = window.document, window.scene, window.summary
    first = document.graph.edge_into("add20", "in0")  # act20 -> add20
    x, y = document.graph.node("add20").position
    other = Edge(document.add_node("Input", (x - 200, y + 200), {"shape": [2, 32]}), "add20", "out", "in0")
    document.flush()
    qtbot.waitUntil(lambda: scene.updates_pending() == 0, timeout=20_000)
    show(window, "add20")
    far = scene.node_item("add55")  # far below: out of view at 100%
    far_wire = next(item for item in far.edges if item.source is far)
    for edit, broken in ((lambda: document.reconnect(first, other), True), (document.undo_stack.undo, False),
                         (document.undo_stack.redo, True), (document.undo_stack.undo, False)):
        edit()
        document.flush()
        qtbot.wait(1)  # the event loop turns: the view paints what it shows
        target = scene.node_item("add20")
        assert not target.stale and target.detail == "full"  # in view: drawn with the new result
        assert target.has_errors() == broken == bool(target.errors)  # its error mark, as drawn
        wire = scene.edge_item(other if broken else first)
        assert wire is not None and wire.shape_text == ("[2, 32]" if broken else "[32]")
        assert far.stale and far_wire.stale  # out of view: not yet taken
        # the summary and the status bar follow at once, however far the change reaches
        assert (summary.cell_text("add55", "Output shape") == "?") == broken
        assert summary.cell_text("add20", "Output shape") == ("?" if broken else "[32]")
        problems = len(document.result.errors)
        assert (problems > 0) == broken
        assert window.validity.text() == (f"⚠ {problems} problem{'s' if problems != 1 else ''}" if broken
                                          else "✓ ready")
        show(window, "add55")  # scrolled into view
        assert not far.stale and far.detail == "full"
        assert (far.shape_text == "?") == broken and (far_wire.shape_text is None) == broken
        fresh = CanvasScene(document)
        try:
            assert face(scene) == face(fresh)  # every item and wire, read, as a freshly built scene shows them
        finally:
            fresh.deleteLater()
        show(window, "add20")
    assert scene.stale_count() == 0  # every item was read by `face`


def test_items_that_came_and_went_take_the_newest_result(residual_window, qtbot):
    """A node added and removed by edits between results is not left waiting, and one added takes the next."""
    window = residual_window
    document, scene = window.document, window.scene
    show(window, "add20")
    added = document.add_node("ReLU", (0, 900))
    document.connect("add20", "out", added, "in")
    document.flush()
    item = scene.node_item(added)
    assert item.shape_text == "[32]"
    document.undo_stack.undo()
    document.undo_stack.undo()
    document.flush()
    assert scene.node_item(added) is None and added not in scene._newest.ids
    assert scene.stale_count() <= len(scene.node_items())


def test_the_summary_repaints_the_changed_rows_on_screen_and_reads_the_others_when_shown(residual_window, qtbot,
                                                                                       monkeypatch):
    monkeypatch.setattr("gui.summary.SORTED_UP_TO", 100)  # the rows keep their places, as in a large model
    window = residual_window
    document, summary, model = window.document, window.summary, window.summary.model
    first = document.graph.edge_into("add20", "in0")
    other = Edge(document.add_node("Input", (0, -900), {"shape": [2, 32]}), "add20", "out", "in0")
    document.flush()
    document.reconnect(first, other)  # the new Input's wire runs back in the rows' order: they are sorted anew,
    document.undo_stack.undo()  # once (a reset); from then on they keep their places
    document.flush()
    row = summary.row_of("add20")
    summary.table.scrollTo(model.index(row, 0), CENTRE)
    qtbot.wait(1)
    top, bottom = summary._rows_on_screen()
    assert top <= row <= bottom < model.rowCount() - 1  # add20 on screen, the totals row not
    spans = []
    model.dataChanged.connect(lambda a, b: spans.append((a.row(), b.row())))
    for edit, broken in ((lambda: document.reconnect(first, other), True), (document.undo_stack.undo, False)):
        spans.clear()
        before = {r: model.row(r) for r in range(top, bottom + 1)}
        edit()
        document.flush()
        differ = [r for r in range(top, bottom + 1) if model.row(r) != before[r]]
        assert row in differ  # add20's row, and those after it on screen
        assert len(spans) == 1 and top <= spans[0][0] <= differ[0] and differ[-1] <= spans[0][1] <= bottom  # one repaint
        assert all((model.data(model.index(r, 2)) == "?") == broken for r in differ)
        far = summary.row_of("add55")  # off screen: read from the live result when scrolled to
        summary.table.scrollTo(model.index(far, 0))
        qtbot.wait(1)
        assert (model.data(model.index(far, 2)) == "?") == broken
        summary.table.scrollTo(model.index(row, 0), CENTRE)
        qtbot.wait(1)
        assert summary._rows_on_screen() == (top, bottom)


def test_the_label_of_the_wire_under_the_mouse_follows_each_result(residual_window, qtbot):
    from PySide6.QtTest import QTest

    window = residual_window
    document, scene, view = window.document, window.scene, window.view
    first = document.graph.edge_into("add20", "in0")
    other = Edge(document.add_node("Input", (0, -900), {"shape": [2, 32]}), "add20", "out", "in0")
    document.flush()
    show(window, "add20")
    wire = scene.edge_item(document.graph.edge_into("fc21", "in"))  # add20 -> fc21: unknown while add20 fails
    QTest.mouseMove(view.viewport(), view.mapFromScene(wire.path().pointAtPercent(0.5)))
    qtbot.waitUntil(lambda: wire.hovered)
    assert scene.hovered_edge is wire and wire.label.isVisible() and wire.label.text == "[32]"
    for edit, text in ((lambda: document.reconnect(first, other), "?"), (document.undo_stack.undo, "[32]")):
        edit()
        document.flush()
        assert wire.label.text == text  # at once, before any paint


def test_a_removed_wire_is_kept_hidden_and_drawn_again_for_the_next_wire(cnn_window, qtbot, monkeypatch):
    """Putting an item back into a large scene makes Qt number every item again: a removed wire's item
    stays in the scene, hidden, and draws the next wire made (at most SPARE_WIRES of them are kept)."""
    from gui.canvas.edge_item import EdgeItem

    monkeypatch.setattr("gui.canvas.scene.SPARE_WIRES", 3)
    document, scene, view = cnn_window.document, cnn_window.scene, cnn_window.view
    wires = lambda: [item for item in scene.items() if isinstance(item, EdgeItem)]  # noqa: E731
    count = len(wires())
    edge = document.graph.edge_into("fc", "in")  # flat -> fc
    old = scene.edge_item(edge)
    document.disconnect([edge])
    document.flush()
    assert scene.edge_item(edge) is None and not old.isVisible() and len(wires()) == count
    assert old not in scene.items(view.mapToScene(view.mapFromScene(old.path().pointAtPercent(0.5))))
    document.connect("act", "out", "fc", "in")  # another wire: the kept item draws it
    document.flush()
    new = scene.edge_item(Edge("act", "fc", "out", "in"))
    assert new is old and new.isVisible() and len(wires()) == count
    assert new.ends == (scene.node_item("act").port_scene_pos("out", True),
                        scene.node_item("fc").port_scene_pos("in", False))
    assert new in scene.node_item("act").edges and new not in scene.node_item("flat").edges
    fresh = CanvasScene(document)
    try:
        assert face(scene) == face(fresh)
    finally:
        fresh.deleteLater()
    edges = document.graph.edges()
    document.disconnect(edges)
    document.flush()
    assert len(wires()) == len(scene._spare_edges) == 3 < len(edges)  # the others left the scene
    assert not any(item.isVisible() for item in wires())
