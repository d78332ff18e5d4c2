"""The scene finds the wires a node's change may reroute from an index of their reaches, not a walk over every
wire: the index answers as that walk did, and stays in step with the wires through edits and undo."""

import random

from bench.editor_scale import big_graph
from graphs.project import Project
from gui.canvas.edge_item import UNROUTED
from gui.canvas.reach_index import ReachIndex, meets


def box(rng, size):
    x, y = rng.uniform(-3000, 3000), rng.uniform(-3000, 3000)
    return (x, y, x + rng.uniform(0, size), y + rng.uniform(0, size))


def test_meeting_finds_what_a_walk_finds():
    rng = random.Random(3)
    index, reaches = ReachIndex(), {}
    for key in range(600):
        reach = rng.choice([box(rng, 300), box(rng, 300), box(rng, 20000), None, UNROUTED])
        index.put(key, reach)
        reaches[key] = reach
    for key in rng.sample(range(600), 200):  # moved, or taken away
        if rng.random() < 0.5:
            reaches[key] = box(rng, 500)
            index.put(key, reaches[key])
        else:
            del reaches[key]
            index.remove(key)
    x = 400.0  # a box whose edge lies on a cell's edge meets a reach that ends there
    index.put("edge", (x - 100, 0.0, x, 50.0))
    reaches["edge"] = (x - 100, 0.0, x, 50.0)
    for areas in [[(x, 10.0, x + 30, 20.0)], *([box(rng, 400) for _ in range(3)] for _ in range(50))]:
        walk = {key for key, reach in reaches.items() if reach is not None and any(meets(reach, a) for a in areas)}
        assert set(index.meeting(areas)) == walk
    assert len(index) == sum(reach is not None for reach in reaches.values())


def indexed(scene) -> dict:
    return {item: entry[0] for item, entry in scene.reaches._reaches.items()}


def test_the_index_follows_the_wires_through_edits(window, qtbot):
    window._set_project(Project(big_graph(120), name="big"))
    scene, document = window.scene, window.document
    qtbot.waitUntil(lambda: scene.updates_pending() == 0 and scene.routing_pending() == 0, timeout=20_000)

    def check():
        document.flush()
        qtbot.waitUntil(lambda: scene.routing_pending() == 0, timeout=20_000)
        live = {item: item.reach for item in scene.edge_items() if item.reach is not None}
        assert indexed(scene) == live  # every wire of the scene at its reach, no removed or spare wire

    check()
    ids = document.graph.node_ids()
    document.remove(ids[40:44])
    check()
    document.undo_stack.undo()
    check()
    node = ids[60]
    x, y = document.graph.node(node).position
    document.move_nodes({node: (x + 500, y + 300)})
    check()
    added = document.add_node("Linear", (x + 60, y + 200), {"out_features": 3})
    document.connect(node, "out", added, "in")
    check()
    document.undo_stack.undo()
    document.undo_stack.undo()
    check()
