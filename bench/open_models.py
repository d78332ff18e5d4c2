"""The two models issue 13 names, opened in the editor from their files (used by section 4).

ResNet-152 expanded: torchvision's layout (3-8-36-3 bottlenecks; narrow widths, since widths do not
change what the editor draws) imported flat by `import-torch`. A 96-layer Transformer flattened: an
encoder of 96 pre-norm layers written out node by node (LayerNorm, MultiheadAttention, Add, LayerNorm,
Linear, GELU, Linear, Add), as a person would draw it. Each is saved, then opened with File > Open's
code path in a shown 1400x900 window, offscreen, up to its first full paint (goal < 3 s)."""

from __future__ import annotations

import os
import statistics
import tempfile

from bench.common import Row
from graphs.document import Graph
from graphs.project import Project, save_project

SECTION = "4. editor scale (10,000 nodes)"


def resnet152_expanded() -> Graph:
    import torch

    from bench.architectures_models import Bottleneck, ResNet
    from engine.importers.torch_import import import_module

    torch.manual_seed(0)
    module = ResNet(Bottleneck, [3, 8, 36, 3], [8, 16, 32, 64], 10, small_images=True)
    return import_module(module, [(3, 32, 32)], name="resnet152", units=False).project.graph


def transformer_flattened(layers: int = 96, tokens: int = 16, width: int = 64) -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": [tokens, width]}, "x", (0, 0))
    previous = "x"
    for i in range(layers):
        ids = [f"l{i}_{part}" for part in ("norm1", "attn", "add1", "norm2", "fc1", "act", "fc2", "add2")]
        g.add_node("LayerNorm", {}, ids[0])
        g.add_node("MultiheadAttention", {"num_heads": 4}, ids[1])
        g.add_node("Add", {}, ids[2])
        g.add_node("LayerNorm", {}, ids[3])
        g.add_node("Linear", {"out_features": width * 4}, ids[4])
        g.add_node("GELU", {}, ids[5])
        g.add_node("Linear", {"out_features": width}, ids[6])
        g.add_node("Add", {}, ids[7])
        g.connect(previous, ids[0])
        g.connect(ids[0], ids[1])
        g.connect(ids[1], ids[2], target_port="in0")
        g.connect(previous, ids[2], target_port="in1")
        g.connect(ids[2], ids[3])
        g.connect(ids[3], ids[4])
        g.connect(ids[4], ids[5])
        g.connect(ids[5], ids[6])
        g.connect(ids[6], ids[7], target_port="in0")
        g.connect(ids[2], ids[7], target_port="in1")
        previous = ids[7]
    g.add_node("LayerNorm", {}, "norm")
    g.connect(previous, "norm")
    return g


def model_open_rows(quick: bool) -> list[Row]:
    from bench.gui_scale import bench_window, open_times
    from graphs.layout import layered_layout

    app, window = bench_window()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, build in (("ResNet-152 expanded", resnet152_expanded),
                            ("96-layer Transformer flattened", transformer_flattened)):
            graph = build()
            for node_id, position in layered_layout(graph).items():  # as Ctrl+L places it
                graph.move_node(node_id, position)
            path = os.path.join(folder, "model.json")
            save_project(Project(graph, name=name), path)
            times = open_times(window, app, path, 1 if quick else 3)
            median = statistics.median(times)
            rows.append(Row(SECTION, f"open {name} in the editor, to the first paint", median, "ms", "< 3000 ms",
                            median < 3000, f"{min(times):.0f}-{max(times):.0f} ms over {len(times)} repeats",
                            f"{len(graph):,} nodes, {len(graph.edges()):,} wires; offscreen"))
    window.document.undo_stack.setClean()
    window.close()
    app.processEvents()
    return rows
