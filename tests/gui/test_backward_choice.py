"""A wire routed backwards knows, without routing it again, when nodes appearing or vanishing in its band leave
its way as it is (`routing.BackwardChoice`): whenever it says so, routing it again gives the same path, through
chains of changes; and it does say so for a node deleted or put back in a row it only runs along."""

import random

from PySide6.QtCore import QPointF, QRectF

from bench.editor_scale import big_graph
from graphs.project import Project
from gui.canvas.routing import route_kept


def layout(rng) -> list[QRectF]:
    """Three rows of nodes of mixed heights, a little out of line: a wrapped layout as a user leaves it."""
    return [QRectF(x + rng.uniform(-15, 15), y + rng.uniform(-10, 10), 120, rng.choice((50, 60, 80)))
            for y in (0, 200, 400) for x in range(0, 2000, 200)]


def routed(start, end, obstacles):
    return route_kept(start, end, lambda area: [r for r in obstacles if r.intersects(area)])


def coords(rects) -> set:
    return {tuple(round(v, 6) for v in r.getCoords()) for r in rects}


def test_whenever_a_backward_route_says_it_holds_routing_again_gives_the_same_path():
    rng = random.Random(5)
    held = rerouted = 0
    for _ in range(60):
        obstacles = layout(rng)
        source, target = rng.choice(obstacles[:10]), rng.choice(obstacles[10:])  # a node of the first row, one below
        if target.left() >= source.right():
            continue
        obstacles = [r for r in obstacles if r not in (source, target)]  # its own ends are none
        start, end = QPointF(source.right(), source.top() + 25), QPointF(target.left(), target.top() + 25)
        path, kept = routed(start, end, obstacles)
        for _ in range(12):
            changed = []
            for _ in range(rng.choice((1, 1, 2))):
                if rng.random() < 0.5 and obstacles:  # a node vanishes
                    changed.append(obstacles.pop(rng.randrange(len(obstacles))))
                else:  # one appears, often in a row's gap or across the lane the wire takes
                    rect = QRectF(rng.uniform(-200, 2200), rng.uniform(-50, 500), 120, rng.choice((20, 60, 90)))
                    obstacles.append(rect)
                    changed.append(rect)
            if kept is not None:
                current = [r for r in obstacles if r.intersects(kept.band) and any(r.intersects(c) for c in changed)]
                if kept.unchanged_by(changed, current):
                    held += 1
                    assert routed(start, end, obstacles)[0] == path
                    band = [r for r in obstacles if r.intersects(kept.band)]
                    assert {tuple(row) for row in kept.edges.round(6).tolist()} == coords(band)
                    continue
            rerouted += 1
            path, kept = routed(start, end, obstacles)
    assert held > 50 and rerouted > 50  # both answers came, often


def test_deleting_and_putting_back_a_node_of_a_row_reroutes_no_backward_wire(window, qtbot):
    window._set_project(Project(big_graph(244), name="big"))  # two rows of the wrapped layout
    scene, document = window.scene, window.document
    qtbot.waitUntil(lambda: scene.updates_pending() == 0, timeout=20_000)
    backward = [item for item in scene.edge_items()  # back and down into the next row
                if item.ends[1].x() < item.ends[0].x() and item.ends[1].y() > item.ends[0].y()]
    assert backward and all(item._kept is not None for item in backward)
    routed_again = []
    for item in backward:
        item.update_path = lambda item=item: routed_again.append(item)
    paths = {item: item.path() for item in backward}
    for node_id in ("ln52", "act55", "fc57"):
        document.remove([node_id])
        document.flush()
        qtbot.waitUntil(lambda: scene.updates_pending() == 0, timeout=20_000)
        document.undo_stack.undo()
        document.flush()
        qtbot.waitUntil(lambda: scene.updates_pending() == 0, timeout=20_000)
    assert routed_again == []
    for item in backward:
        del item.update_path
    scene.reroute()
    assert {item: item.path() for item in backward} == paths


def test_nodes_moved_within_and_across_rows_leave_every_wire_as_a_full_reroute_routes_it(window, qtbot):
    window._set_project(Project(big_graph(244), name="big"))
    scene, document = window.scene, window.document
    qtbot.waitUntil(lambda: scene.updates_pending() == 0, timeout=20_000)
    rng = random.Random(7)
    ids = document.graph.node_ids()
    for step in range(12):
        moved = {}
        for node_id in rng.sample(ids[1:-3], rng.choice((1, 2))):
            x, y = document.graph.node(node_id).position
            moved[node_id] = (x + rng.choice((-300, -60, 40, 250)), y + rng.choice((-900, -200, 0, 0, 120, 900)))
        document.move_nodes(moved)
        document.flush()
        qtbot.waitUntil(lambda: scene.updates_pending() == 0, timeout=20_000)
        paths = {item.edge: item.path() for item in scene.edge_items()}
        scene.reroute()
        assert {item.edge: item.path() for item in scene.edge_items()} == paths, f"step {step}"
