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

from bench.common import Row
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
                     "Linear bias toggled mid-graph; shapes only (validation adds ~25 ms)"))
    _, times = _median_ms(lambda: compile_graph(graph), repeats)
    rows.append(_row("compile to nn.Module (torch.fx)", times, 1000))
    if with_gui:
        rows += _gui_rows(graph, repeats)
    return rows


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
