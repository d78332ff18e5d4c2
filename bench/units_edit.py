"""Units: what a model built from units costs the editor and the compiler, against the same model flat.

A model with units is validated and inferred as its expansion: after each edit it is expanded again
into a kept flat graph, which the live checks observe (`engine.unit_shapes.LiveUnitsInference`).
An edit of the model's own layers is made on that graph directly; any other edit expands the model
again. Rows, for a model of BasicBlock units in one Repeat at two sizes (76 and 8,104 layers; quick:
76 and 364): a layer's param edit with validation and shape inference (p95, goal < 16 ms as for every
edit; the same edit on the flat model of the same layers in the note); an edit of the Repeat's planes,
which expands again and changes every layer; compiling, as a ratio to compiling the flat model.
"""

from __future__ import annotations

import time

import torch

from bench.common import Row, percentile
from engine.compiler import compile_graph
from engine.shapes import ShapeInference
from graphs.document import Graph
from graphs.units import expand
from tests.graphs.unit_cases import basic_block

SECTION = "units: editing and compiling a model built from units"


def units_model(copies: int) -> Graph:
    """Input -> `copies` BasicBlocks in one Repeat -> pool -> flatten -> fc (9 layers a block)."""
    g = Graph()
    g.add_unit(basic_block(g.units))
    g.add_node("Input", {"shape": [8, 8, 8]}, "image")
    g.add_node("Repeat", {"unit": "BasicBlock", "count": copies, "planes": 8}, "blocks")
    g.add_node("AdaptiveAvgPool2d", node_id="pool")
    g.add_node("Flatten", node_id="flatten")
    g.add_node("Linear", {"out_features": 10}, "fc")
    g.connect("image", "blocks", target_port="x")
    g.connect("blocks", "pool", "y")
    g.connect("pool", "flatten")
    g.connect("flatten", "fc")
    return g


def _edit_ms(graph: Graph, node_id: str, param: str, values: list, repeats: int) -> list[float]:
    live = ShapeInference(graph)
    live.result()
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        graph.set_param(node_id, param, values[i % len(values)])
        result = live.result()
        times.append((time.perf_counter() - start) * 1000)
        assert result.errors == [], result.errors[:1]
    live.close()
    return times


def _compile_s(graph: Graph) -> float:
    start = time.perf_counter()
    compile_graph(graph)
    return time.perf_counter() - start


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
        p95, base = percentile(with_units, 95), percentile(without, 95)
        rows.append(Row(SECTION, f"{copies} blocks ({layers:,} layers): a layer's param edit with validation, p95",
                        round(p95, 2), "ms", "< 16 ms", p95 < 16,
                        note=f"the same edit on the flat model of the same layers: {base:.2f} ms"))
        block = percentile(_edit_ms(g, "blocks", "planes", [12, 8], repeats if copies <= 40 else 5), 95)
        rows.append(Row(SECTION, f"{copies} blocks: the Repeat's planes edited (every layer changes), p95",
                        round(block, 2), "ms", "", None))
        if copies <= 40:
            ratios = sorted(_compile_s(g) / _compile_s(flat) for _ in range(3))
            rows.append(Row(SECTION, f"{copies} blocks: compile time with units / flat", round(ratios[1], 2), "x",
                            "", None, spread=f"{ratios[0]:.2f}-{ratios[-1]:.2f} over 3 repeats"))
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
