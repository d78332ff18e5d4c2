"""Section 4: editor scale on a generated 1,000-node valid graph.

Load, full shape inference, incremental re-inference after one param edit, compile,
and (when Qt is available) the scene build and a frame-all repaint, offscreen.
These goals are absolute times; each is the median of several repeats."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Row, percentile
from graphs import Graph, load_project
from graphs.project import Project, save_project

SECTION = "4. editor scale (1,000 nodes)"


def big_graph(nodes: int = 1000) -> Graph:
    """A valid residual MLP: Input, then blocks of Linear -> LayerNorm -> ReLU -> Add(shortcut),
    ending in a Linear, a Target and a CrossEntropyLoss; laid out on a grid."""
    g = Graph()
    g.add_node("Input", {"shape": [32]}, "x", (0, 0))
    previous, count, block = "x", 1, 0
    while count + 4 + 3 <= nodes:
        ids = [f"fc{block}", f"ln{block}", f"act{block}", f"add{block}"]
        column = (block * 4) % 200
        row = (block * 4) // 200
        g.add_node("Linear", {"out_features": 32}, ids[0], (column * 220, row * 900))
        g.add_node("LayerNorm", {}, ids[1], ((column + 1) * 220, row * 900))
        g.add_node("ReLU", {}, ids[2], ((column + 2) * 220, row * 900))
        g.add_node("Add", {}, ids[3], ((column + 3) * 220, row * 900 + 150))
        g.connect(previous, ids[0])
        g.connect(ids[0], ids[1])
        g.connect(ids[1], ids[2])
        g.connect(ids[2], ids[3], target_port="in0")
        g.connect(previous, ids[3], target_port="in1")
        previous, count, block = ids[3], count + 4, block + 1
    while count + 3 < nodes:
        node = g.add_node("ReLU", {}, f"tail{count}", (count * 10.0, -400))
        g.connect(previous, node)
        previous, count = node, count + 1
    g.add_node("Linear", {"out_features": 10}, "head", (0, -600))
    g.add_node("Target", {"shape": [], "dtype": "int64"}, "y", (0, -800))
    g.add_node("CrossEntropyLoss", {}, "loss", (300, -700))
    g.connect(previous, "head")
    g.connect("head", "loss", target_port="input")
    g.connect("y", "loss", target_port="target")
    return g


def _median_ms(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), times


def _row(name, times, goal_ms, note=""):
    median = statistics.median(times)
    spread = f"{min(times):.1f}-{max(times):.1f} ms over {len(times)} repeats"
    return Row(SECTION, name, median, "ms", f"< {goal_ms} ms", median < goal_ms, spread, note)


def run(quick: bool = False, with_gui: bool = True) -> list[Row]:
    from engine.compiler import compile_graph
    from engine.shapes import ShapeInference, infer

    repeats = 3 if quick else 7
    graph = big_graph()
    assert len(graph) == 1000 and infer(graph).valid
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.json"
        save_project(Project(graph, name="big"), path)
        _, times = _median_ms(lambda: load_project(path), repeats)
        rows.append(_row("load project JSON", times, 300, f"{path.stat().st_size // 1024} KB file"))
    _, times = _median_ms(lambda: infer(graph), repeats)
    rows.append(_row("full shape inference + validation", times, 200))
    live = ShapeInference(graph)
    live.result()
    flags = iter([False, True] * 100)
    _, times = _median_ms(lambda: (graph.set_param("fc100", "bias", next(flags)), live.infer_shapes()),
                          repeats * 3)
    rows.append(_row("incremental re-inference after one param edit", times, 10,
                     "Linear bias toggled mid-graph; shapes only"))
    _, times = _median_ms(lambda: compile_graph(graph), repeats)
    rows.append(_row("compile to nn.Module (torch.fx)", times, 1000))
    if with_gui:
        rows += _gui_rows(graph, repeats)
    return rows + large_rows(quick, with_gui)


def large_rows(quick: bool, with_gui: bool) -> list[Row]:
    """A 10,000-node model: one edit with live inference and validation (the 95th percentile, against
    validating the whole graph as every edit did before), and opening it in the editor."""
    from engine.shapes import ShapeInference
    from graphs.validate import validate

    section = "4. editor scale (10,000 nodes)"
    graph = big_graph(10_000)
    live = ShapeInference(graph)
    live.result()
    edits = 40 if quick else 200
    flags = iter([False, True] * edits)
    param_times = [_timed(lambda: (graph.set_param("fc1000", "bias", next(flags)), live.result()))
                   for _ in range(edits)]
    wire = graph.in_edges("fc2000")[0]
    wire_times = []
    for _ in range(edits // 2):
        wire_times.append(_timed(lambda: (graph.disconnect(wire), live.result())))
        wire_times.append(_timed(lambda: (graph.connect(wire.source, wire.target, wire.source_port,
                                                        wire.target_port), live.result())))
    before = [_timed(lambda: validate(graph)) for _ in range(3 if quick else 5)]
    rows = []
    for name, times in (("param edit + inference + validation", param_times),
                        ("rewire edit + inference + validation", wire_times)):
        p95 = percentile(times, 95)
        rows.append(Row(section, f"{name} (p95)", p95, "ms", "< 16 ms", p95 < 16,
                        f"median {statistics.median(times):.2f} ms over {len(times)} edits",
                        f"whole-graph validation alone, as every edit ran it before: {statistics.median(before):.0f} ms "
                        f"({statistics.median(before) / max(p95, 1e-3):.0f}x the p95 edit)"))
    rows[-1].spread += (f"; the wire taken away {statistics.median(wire_times[0::2]):.2f} ms, put back "
                        f"{statistics.median(wire_times[1::2]):.2f} ms (no cycle search: the wire runs forwards in the "
                        f"order the document keeps; the 2,000 nodes below lose their shapes in one walk, and the "
                        f"wire put back as it was, as undo does, gives that region back whole)")
    rows.append(other_source_row(section, graph, live, edits))
    rows.append(reinferred_region_row(section, edits))
    if with_gui:
        try:
            from bench.gui_scale import large_gui_rows, scene_timings
        except ImportError as error:
            return rows + [Row(section, "open in the editor", None, "ms", "< 3000 ms", None, note=f"skipped: {error}")]
        build_times, _paint = scene_timings(graph, 1 if quick else 3)
        rows.append(Row(section, "open in the editor (scene build, offscreen)", statistics.median(build_times), "ms",
                        "< 3000 ms", statistics.median(build_times) < 3000,
                        f"{min(build_times):.0f}-{max(build_times):.0f} ms over {len(build_times)} repeats"))
        rows += large_gui_rows(graph, section, quick)
        from bench.open_models import model_open_rows  # the two models the issue names

        rows += model_open_rows(quick)
    return rows


OTHER_SOURCE = ("x2", "Input", {"shape": [2, 32]})  # a source of another shape: the Add below it cannot take it


def other_source_row(section: str, graph: Graph, live, edits: int) -> Row:
    """A rewire to a different source in the engine, as the editor's reconnect does it (the wire's end taken
    from one node to another, then one result): fc2000's input alternates between its block's source and a
    second Input of another shape. To the other one, the Add below reports a shape error and the ~2,000
    nodes below it lose their shapes; back, the region is re-inferred (from cached outcomes: their input
    specs are the ones they had). The extra Input is removed again afterwards."""
    from graphs.document import Edge

    node_id, type_name, params = OTHER_SOURCE
    graph.add_node(type_name, params, node_id)
    first = graph.in_edges("fc2000")[0]
    other = Edge(node_id, first.target, "out", first.target_port)
    live.result()
    times = rewire_times(graph, live, first, other, edits)
    graph.remove_node(node_id)
    live.result()
    p95 = percentile(times, 95)
    return Row(section, "rewire to a different source + inference + validation (p95)", p95, "ms", "< 16 ms",
               p95 < 16, f"median {statistics.median(times):.2f} ms over {len(times)} edits; to the other source "
               f"{statistics.median(times[0::2]):.2f} ms, back {statistics.median(times[1::2]):.2f} ms",
               "fc2000's input moved between its block's source and an Input of another shape: the Add below "
               "then reports an error and the ~2,000 nodes below lose their shapes; back, they are re-inferred")


def chain_graph(nodes: int = 10_000) -> Graph:
    """Input [32] -> Linear -> LayerNorm -> ReLU -> ... (`nodes` layers in one chain, no shortcut), and a second
    Input of another shape ([2, 32]) that every layer can take."""
    g = Graph()
    g.add_node("Input", {"shape": [32]}, "x")
    g.add_node(*OTHER_SOURCE[1:], OTHER_SOURCE[0])
    previous = "x"
    for i in range(nodes):
        kind = ("Linear", "LayerNorm", "ReLU")[i % 3]
        previous = g.connect(previous, g.add_node(kind, {"out_features": 32} if kind == "Linear" else {}, f"n{i}")).target
    return g


def reinferred_region_row(section: str, edits: int) -> Row:
    """A rewire to a different source whose shape every node below can take: in a 10,000-layer chain,
    n8001's input moves between n8000 ([32]) and an Input of shape [2, 32], so the ~2,000 layers below
    change shape and each is inferred again, both ways (no region is forgotten, none can be given back)."""
    from engine.shapes import ShapeInference
    from graphs.document import Edge

    graph = chain_graph()
    live = ShapeInference(graph)
    live.result()
    first = graph.in_edges("n8001")[0]
    other = Edge(OTHER_SOURCE[0], first.target, "out", first.target_port)
    times = rewire_times(graph, live, first, other, edits)
    live.close()
    p95 = percentile(times, 95)
    return Row(section, "rewire to a source every node below can take + inference + validation (p95)", p95, "ms",
               "< 16 ms", p95 < 16, f"median {statistics.median(times):.2f} ms over {len(times)} edits; to the other "
               f"source {statistics.median(times[0::2]):.2f} ms, back {statistics.median(times[1::2]):.2f} ms",
               "a 10,000-layer chain without shortcuts: n8001's input moved between [32] and [2, 32], so the "
               "~2,000 layers below change shape and each runs its shape rule again")


def rewire_times(graph: Graph, live, first, other, edits: int) -> list[float]:
    """ms per edit, `edits` times: wire `first` replaced by `other` (one wire out, one in, then the live result,
    as the editor's reconnect does), then back, and so on."""
    times = []
    for i in range(edits):
        old, new = (first, other) if i % 2 == 0 else (other, first)
        start = time.perf_counter()
        graph.disconnect(old)
        graph.connect(new.source, new.target, new.source_port, new.target_port)
        live.result()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _gui_rows(graph: Graph, repeats: int) -> list[Row]:
    """Scene build and frame-all repaint, offscreen. Needs the GUI package."""
    try:
        from bench.gui_scale import scene_timings
    except ImportError as error:
        return [Row(SECTION, "scene build / frame-all repaint", None, "ms", "< 1000 / < 100 ms", None,
                    note=f"skipped: {error}")]
    build_times, paint_times = scene_timings(graph, repeats)
    return [_row("scene build (offscreen)", build_times, 1000), _row("frame-all repaint", paint_times, 100)]


if __name__ == "__main__":
    for row in run(quick=True, with_gui=False):
        print(json.dumps(row.as_dict()))
