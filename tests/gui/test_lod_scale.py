"""The canvas's large-graph paths hold the same results as the plain ones: the grid index of node rects
answers as a scan of every rect does; a large batch of wires routed in slices ends as a full reroute
does; moving a node reroutes the wires it now blocks; and a scene kept up to date edit by edit (only
the items an inference changed) shows what a freshly built scene shows."""

import random

from PySide6.QtCore import QRectF

from graphs.project import Project
from gui.canvas.scene import LARGE_BATCH, CanvasScene
from gui.canvas.spatial import RectGrid
from tests.gui.test_gui_wire_routing import crossings


def test_rect_grid_answers_as_a_scan_does():
    rng = random.Random(3)
    grid, rects = RectGrid(cell=100), {}
    for step in range(600):
        key = rng.randrange(80)
        if rng.random() < 0.2:
            grid.remove(key)
            rects.pop(key, None)
        else:
            rect = QRectF(rng.uniform(-900, 900), rng.uniform(-900, 900), rng.uniform(1, 300), rng.uniform(1, 200))
            grid.put(key, rect)
            rects[key] = rect
        area = QRectF(rng.uniform(-1000, 1000), rng.uniform(-1000, 1000), rng.uniform(0, 700), rng.uniform(0, 700))
        if step % 7 == 0:  # "everything between these heights", as a backward wire asks
            area = QRectF(-1e7, area.top(), 2e7, area.height())
        found = {key for key, _ in grid.query(area, exclude={0})}
        assert found == {key for key, rect in rects.items() if key != 0 and rect.intersects(area)}
    assert len(grid) == len(rects)


def chain_project(count: int) -> Project:
    """Input -> `count` ReLUs in rows of 20 (so some wires run back to the next row) -> MSE loss."""
    project = Project(name="chain")
    g = project.graph
    g.add_node("Input", {"shape": [4]}, "x", (0, 0))
    previous = "x"
    for i in range(count):
        node = g.add_node("ReLU", {}, f"r{i}", ((i % 20 + 1) * 220.0, (i // 20) * 160.0))
        g.connect(previous, node)
        previous = node
    g.add_node("Target", {"shape": [4]}, "y", (0, -300))
    g.add_node("MSELoss", {}, "loss", (300, -300))
    g.connect(previous, "loss", target_port="input")
    g.connect("y", "loss", target_port="target")
    return project


def test_a_large_graph_is_routed_in_slices_as_a_full_reroute_would(window, qtbot):
    window._set_project(chain_project(LARGE_BATCH + 50))
    scene = window.scene
    assert scene.routing_pending() > 0  # opened at once; the wires are routed while the event loop runs
    qtbot.waitUntil(lambda: scene.routing_pending() == 0, timeout=20_000)
    sliced = {item.edge: item.path() for item in scene.edge_items()}
    scene.reroute()
    assert all(item.path() == sliced[item.edge] for item in scene.edge_items())


def test_moving_a_node_reroutes_every_wire_a_full_reroute_would_change(window, qtbot, example):
    from graphs.project import load_project

    window._set_project(load_project(example("residual_cnn")))
    window.document.flush()
    window.auto_layout()
    window.scene.reroute()
    assert crossings(window.scene) == []
    graph = window.document.graph
    scene = window.scene
    longest = max(scene.edge_items(), key=lambda item: item.ends[1].x() - item.ends[0].x())
    start, end = longest.ends
    mover = next(n for n in graph.node_ids() if n not in (longest.edge.source, longest.edge.target))
    before = {item.edge: item.path() for item in scene.edge_items()}
    window.document.move_nodes({mover: ((start.x() + end.x()) / 2 - 20, start.y() - 40)})  # onto its way
    qtbot.waitUntil(lambda: not scene._reroute_timer.isActive())
    assert longest.path() != before[longest.edge]  # not one of the mover's wires, yet routed anew
    kept = {item.edge: item.path() for item in window.scene.edge_items()}
    window.scene.reroute()  # every wire, from scratch: nothing the move affected was left out
    assert all(item.path() == kept[item.edge] for item in window.scene.edge_items())


def face(scene: CanvasScene) -> dict:
    nodes = {item.node_id: (item.shape_text, item.params_count, tuple(item.errors), item.size(),
                            tuple(port.toolTip() for port in item.ports())) for item in scene.node_items()}
    edges = {item.edge: item.shape_text for item in scene.edge_items()}
    return {"nodes": nodes, "edges": edges}


def test_a_scene_kept_up_edit_by_edit_shows_what_a_fresh_one_does(cnn_window, qtbot):
    document, scene = cnn_window.document, cnn_window.scene
    graph = document.graph
    rng = random.Random(5)
    for _ in range(25):
        choice = rng.randrange(4)
        if choice == 0 and graph.edges():
            document.disconnect([rng.choice(graph.edges())])
        elif choice == 1:
            node = graph.node("conv") if "conv" in graph.node_ids() else None
            if node is not None:
                document.set_param("conv", "out_channels", rng.choice([4, 8, 16]))
        elif choice == 2:
            document.add_node(rng.choice(["ReLU", "Linear", "Flatten"]), (rng.uniform(0, 900), 400))
        else:
            document.undo_stack.undo()
        document.flush()
        qtbot.wait(1)
        fresh = CanvasScene(document)
        try:
            assert face(scene) == face(fresh)
        finally:
            fresh.deleteLater()


def test_a_large_change_is_shown_where_it_is_seen_and_read(window, qtbot):
    """Cutting the wire near the start of a long chain changes every node after it: the items in view take
    the new result as the view paints, the others when they come into view (or are read), and then the
    scene equals a fresh one; undo likewise."""
    window._set_project(chain_project(LARGE_BATCH + 50))
    scene, document, view = window.scene, window.document, window.view
    qtbot.waitUntil(lambda: scene.updates_pending() == 0, timeout=20_000)
    view.set_zoom(1.0)
    view.centerOn(scene.node_item("r0").sceneBoundingRect().center())
    far = scene.node_item(f"r{LARGE_BATCH + 40}")
    far_wire = next(edge for edge in far.edges if edge.target is far)
    for edit in (lambda: document.disconnect([document.graph.edge_into("r0", "in")]), document.undo_stack.undo):
        edit()
        document.flush()
        assert scene.stale_count() > LARGE_BATCH  # nothing shown yet, not even in view
        view.viewport().repaint()
        assert not scene.node_item("r1").stale and far.stale and far_wire.stale  # in view, then far away
        view.centerOn(far.sceneBoundingRect().center())
        view.viewport().repaint()
        assert not far.stale  # scrolled into view: drawn with the new result
        unknown = document.graph.edge_into("r0", "in") is None
        assert (far.shape_text == "?") == unknown and (far_wire.shape_text is None) == unknown
        assert scene.node_item("r0").has_errors() == unknown == bool(scene.node_item("r0").errors)
        fresh = CanvasScene(document)
        try:
            assert face(scene) == face(fresh)
        finally:
            fresh.deleteLater()
        view.centerOn(scene.node_item("r0").sceneBoundingRect().center())


def test_an_error_made_out_of_view_is_marked_when_its_node_is_scrolled_into_view(window, qtbot):
    window._set_project(chain_project(LARGE_BATCH + 50))
    scene, document, view = window.scene, window.document, window.view
    view.set_zoom(1.0)
    view.centerOn(scene.node_item(f"r{LARGE_BATCH + 40}").sceneBoundingRect().center())
    view.viewport().repaint()
    document.disconnect([document.graph.edge_into("r0", "in")])
    document.flush()
    view.viewport().repaint()
    r0 = scene.node_item("r0")
    assert r0.stale and r0.pending.errors_for("r0")  # out of view: the error waits
    view.centerOn(r0.sceneBoundingRect().center())
    view.viewport().repaint()
    assert not r0.stale and r0.detail == "full" and r0.has_errors()  # drawn with its error mark


def test_at_low_zoom_the_boxes_show_errors_without_taking_the_whole_result(window, qtbot):
    window._set_project(chain_project(60))
    scene, document, view = window.scene, window.document, window.view
    view.fit()
    view.set_zoom(0.2)
    document.disconnect([document.graph.edge_into("r5", "in")])
    document.flush()
    view.viewport().repaint()
    r5, r6 = scene.node_item("r5"), scene.node_item("r6")
    assert r5.detail == "box" and r5.stale and r6.stale  # drawn as boxes: no text taken
    assert r5.has_errors() and not r6.has_errors()  # the box is red where the error is
    assert r5.errors and r6.shape_text == "?"  # read: taken


def test_a_wire_drag_judges_the_ports_in_view_then_those_that_come_into_view(window, qtbot):
    window._set_project(chain_project(60))
    scene, view = window.scene, window.view
    view.set_zoom(1.0)
    view.centerOn(scene.node_item("r0").sceneBoundingRect().center())
    far = scene.node_item("r59").port("in", False)  # already fed: it refuses the wire
    near = scene.node_item("r1").port("in", False)
    source = scene.node_item("x").port("out", True)
    gesture = scene.start_link(source)
    assert near.state == "refused" and far.state == "normal"  # not in view: not judged yet
    view.centerOn(far.scenePos())
    gesture.move(far.scenePos())
    assert far.state == "refused"
    scene.cancel_gesture()
    assert all(port.state == "normal" for port in scene.all_ports())


def test_a_small_batch_of_slow_wires_is_routed_for_one_slice_now_and_the_rest_while_the_loop_runs(
        window, qtbot, monkeypatch):
    import time

    from gui.canvas import scene as scene_module
    from gui.canvas.edge_item import EdgeItem

    window._set_project(chain_project(30))
    scene = window.scene
    qtbot.waitUntil(lambda: scene.routing_pending() == 0, timeout=20_000)
    expected = {item.edge: item.path() for item in scene.edge_items()}
    route_path = EdgeItem.update_path
    monkeypatch.setattr(EdgeItem, "update_path", lambda item: time.sleep(0.004) or route_path(item))
    edges = list(scene.edge_items())
    started = time.perf_counter()
    scene.route(edges)  # ~30 wires at 4 ms each: far more than a slice
    assert time.perf_counter() - started < 4 * scene_module.SLICE_S  # the edit is not held up
    assert 0 < scene.routing_pending() < len(edges)
    qtbot.waitUntil(lambda: scene.routing_pending() == 0, timeout=20_000)
    assert all(item.path() == expected[item.edge] for item in scene.edge_items())
