"""Units: what a model built from units costs the editor and the compiler, against the same model flat.

A model with units is validated and inferred as its expansion, kept in one flat graph that the live
checks observe (`engine.unit_shapes.LiveUnitsInference`). An edit of the model's own layers is made on
that graph directly; an edit of an instance's or a Repeat's params re-expands only the copies or the
instance it changes and patches them in (`graphs.units.live`). Rows, for a model of BasicBlock units in
one Repeat at two sizes (76 and 8,104 layers; quick: 76 and 364), each edit followed by validation and
shape inference (p95; goal < 16 ms as for every edit, where an edit stays in one place):
- a layer's param edit (fc's out_features; the same edit on the flat model of the same layers in the note);
- an override on one copy (copy n/2's planes, so that copy and the next one's first layers change);
- the Input's shape (8x8 <-> 16x16), which changes every copy's shapes through their inputs, none of their params;
- a param of one instance in a model of as many BasicBlock instances, chained, each its own node;
- the Repeat's planes, which changes every layer (p95, goal < 16 ms; its note: the ratio to a full inference
  of the flat model of the same layers, `infer` with validation, measured in the same run, alternately);
- compiling, as a ratio to compiling the flat model (small sizes).
Every edit and inference is timed as the editor runs it (`_timed_ms`): the GUI collects garbage on its own
timer between events (`gui.workbench.gc_policy`), so the young generations are collected before each timed
call and the automatic collector is off during it; a full collection of this process's ~300,000 objects takes
~100 ms and would otherwise land in whichever call crosses CPython's threshold.
The Repeat's planes edit is made as a params-only patch of the kept flat graph (`graphs.units.params_only`):
the 2,700 layers whose params change are renewed in one event, which the live checks handle per group of
layers given one params object; copy 0 and copy 1 are inferred layer by layer, and the 898 copies alike after
them take copy 1's outcomes whole (`engine.copy_replay`); the sums per copy are made once for the copies alike
(`engine.unit_shapes.ScopeTotals`). What is left per layer is a few dict updates at C speed.
"""

from __future__ import annotations

import gc
import statistics
import time

import torch

from bench.common import Row, percentile
from engine.compiler import compile_graph
from engine.shapes import ShapeInference, infer
from graphs.document import Graph
from graphs.units import expand
from tests.graphs.unit_cases import basic_block

SECTION = "18. units: editing and compiling a model built from units"


def units_model(copies: int) -> Graph:
    """Input -> `copies` BasicBlocks in one Repeat -> pool -> flatten -> fc (9 layers a block)."""
    g = Graph()
    g.add_unit(basic_block(g.units))
    g.add_node("Input", {"shape": [8, 8, 8]}, "image")
    g.add_node("Repeat", {"unit": "BasicBlock", "count": copies, "planes": 8}, "blocks")
    _head(g, "blocks")
    g.connect("image", "blocks", target_port="x")
    return g


def instances_model(copies: int) -> Graph:
    """The same layers as `units_model`, each block an instance of its own: block0 -> block1 -> ..."""
    g = Graph()
    g.add_unit(basic_block(g.units))
    g.add_node("Input", {"shape": [8, 8, 8]}, "image")
    previous, port = "image", "out"
    for i in range(copies):
        g.add_node("BasicBlock", {"planes": 8}, f"block{i}")
        g.connect(previous, f"block{i}", port, "x")
        previous, port = f"block{i}", "y"
    _head(g, previous)
    return g


def _head(g: Graph, last: str) -> None:
    g.add_node("AdaptiveAvgPool2d", node_id="pool")
    g.add_node("Flatten", node_id="flatten")
    g.add_node("Linear", {"out_features": 10}, "fc")
    g.connect(last, "pool", "y")
    g.connect("pool", "flatten")
    g.connect("flatten", "fc")


def _timed_ms(action, *args) -> tuple[float, object]:
    """(milliseconds, result) of one call, with garbage collected as the editor does: before it, young generations."""
    gc.collect(1)
    gc.disable()
    try:
        start = time.perf_counter()
        result = action(*args)
        return (time.perf_counter() - start) * 1000, result
    finally:
        gc.enable()


def _edited(graph: Graph, live: ShapeInference, node_id: str, param: str, value):
    graph.set_param(node_id, param, value)
    return live.result()


def _edit_ms(graph: Graph, node_id: str, param: str, values: list, repeats: int) -> list[float]:
    live = ShapeInference(graph)
    live.result()
    times = []
    for i in range(repeats):
        ms, result = _timed_ms(_edited, graph, live, node_id, param, values[i % len(values)])
        assert result.errors == [], result.errors[:1]
        times.append(ms)
    live.close()
    return times


def _planes_ratio(g: Graph, flat: Graph, repeats: int) -> tuple[list[float], list[float]]:
    """The Repeat's planes edited (ms) and a full inference of the flat model (ms), alternately."""
    live = ShapeInference(g)
    live.result()
    edits, full = [], []
    for i in range(repeats):
        ms, result = _timed_ms(_edited, g, live, "blocks", "planes", [12, 8][i % 2])
        assert result.errors == []
        edits.append(ms)
        ms, result = _timed_ms(infer, flat)
        assert result.errors == []
        full.append(ms)
    live.close()
    return edits, full


def _compile_s(graph: Graph) -> float:
    start = time.perf_counter()
    compile_graph(graph)
    return time.perf_counter() - start


def _p95_row(name: str, times: list[float], note: str = "") -> Row:
    p95 = percentile(times, 95)
    return Row(SECTION, name, round(p95, 2), "ms", "< 16 ms", p95 < 16, note=note)


def run(quick: bool = False) -> list[Row]:
    torch.set_num_threads(1)
    rows = []
    for copies in (8, 40) if quick else (8, 900):
        g = units_model(copies)
        flat = expand(g).graph.copy()
        layers = len(flat)
        repeats = 10 if quick else 40
        with_units = _edit_ms(g, "fc", "out_features", [12, 10], repeats)
        without = _edit_ms(flat, "fc", "out_features", [12, 10], repeats)
        rows.append(_p95_row(f"{copies} blocks ({layers:,} layers): a layer's param edit with validation, p95",
                             with_units, f"the same edit on the flat model of the same layers: "
                                         f"{percentile(without, 95):.2f} ms"))
        half = str(copies // 2)
        rows.append(_p95_row(f"{copies} blocks: an override on one copy (its planes), p95",
                             _edit_ms(g, "blocks", "overrides", [{half: {"planes": 12}}, {}], repeats)))
        rows.append(_p95_row(f"{copies} blocks: the input's shape edited (every copy's shapes change), p95",
                             _edit_ms(g, "image", "shape", [[8, 16, 16], [8, 8, 8]], repeats)))
        chained = instances_model(copies)
        rows.append(_p95_row(f"{copies} instances ({len(expand(chained).graph):,} layers): one instance's planes "
                             "edited, p95", _edit_ms(chained, f"block{half}", "planes", [12, 8], repeats)))
        edits, full = _planes_ratio(g, flat, repeats)  # (as many as the other p95 rows)
        ratios = sorted(edit / base for edit, base in zip(edits, full))
        rows.append(_p95_row(f"{copies} blocks: the Repeat's planes edited (every layer changes), p95", edits,
                             f"/ a full inference of the flat model: median {statistics.median(ratios):.3f}x "
                             f"({ratios[0]:.3f}-{ratios[-1]:.3f} over {len(ratios)} repeats; full inference "
                             f"median {statistics.median(full):.1f} ms)"))
        if copies <= 40:
            ratios = sorted(_compile_s(g) / _compile_s(flat) for _ in range(3))
            rows.append(Row(SECTION, f"{copies} blocks: compile time with units / flat", round(ratios[1], 2), "x",
                            "", None, spread=f"{ratios[0]:.2f}-{ratios[-1]:.2f} over 3 repeats"))
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
