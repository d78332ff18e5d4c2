"""Section 15: how imported standard architectures look after auto-layout (issue 13).

Each model is imported with the torch.fx importer (ResNet-18 also from an ONNX file), which lays
it out with `graphs.layout` (node sizes estimated from their text); the same graph is then laid out by the layout it replaced (one
column per topological layer, rows by the parents' mean row, kept below as the baseline). Three
figures per layout, with every node of the size estimated from its text (as the importer lays out):
- the bounding box's aspect ratio (width / height; a screen is about 1.6),
- node overlaps (goal: none),
- the zoom at which Frame All shows the whole model in a 1600 x 900 view,
- wires the editor draws (routed around nodes where it can) that still pass through another
  node, and node overlaps, counted on the real canvas offscreen (real node sizes),
- wire crossings: pairs of straight port-to-port segments (at the first port row) that cross, over the wires that run
  forward; wires into a later row of a wrapped layout run along the free lanes between rows and
  are counted apart.
The headline row per model is the new layout's aspect ratio (goal 0.8-3.0, a model of under 12
layers staying one row); the note holds the rest, before and after.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.architectures_models import IMAGE, MobileNetV2, VisionTransformer, resnet18_narrow, resnet50
from bench.common import Row
from engine.importers.onnx_import import import_onnx
from engine.importers.torch_import import import_module
from graphs.layout import estimated_size, layers

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
SECTION = "15. auto-layout of imported architectures"
SCREEN_ASPECT = (0.8, 3.0)  # a drawing in this range fits a screen without slivers


def _conv(inp: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inp, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(),
                         nn.Conv2d(out, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU())


class UNet(nn.Module):
    """The classic four-level U-Net (narrow): max-pool down, `F.interpolate` up, skips concatenated."""

    def __init__(self, width: int = 4):
        super().__init__()
        widths = [width * 2 ** i for i in range(5)]
        self.down = nn.ModuleList([_conv(3, widths[0])] + [_conv(widths[i], widths[i + 1]) for i in range(4)])
        self.up = nn.ModuleList([_conv(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(4))])
        self.head = nn.Conv2d(widths[0], 2, 1)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.down):
            x = block(F.max_pool2d(x, 2) if i else x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(torch.cat([skip, F.interpolate(x, scale_factor=2.0, mode="nearest")], dim=1))
        return self.head(x)


class DenseNet(nn.Module):
    """A small DenseNet: three dense blocks of four layers (each sees every earlier map), transitions between."""

    def __init__(self, growth: int = 4, layers_per_block: int = 4):
        super().__init__()
        channels = 2 * growth
        self.stem = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        self.blocks, self.transitions = nn.ModuleList(), nn.ModuleList()
        for index in range(3):
            block = nn.ModuleList()
            for _ in range(layers_per_block):
                block.append(nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, growth, 3,
                                                                                         padding=1, bias=False)))
                channels += growth
            self.blocks.append(block)
            if index < 2:
                self.transitions.append(nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(),
                                                      nn.Conv2d(channels, channels // 2, 1, bias=False),
                                                      nn.AvgPool2d(2)))
                channels //= 2
        self.head = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(channels, 10))

    def forward(self, x):
        x = self.stem(x)
        for index, block in enumerate(self.blocks):
            for layer in block:
                x = torch.cat([x, layer(x)], dim=1)
            if index < len(self.transitions):
                x = self.transitions[index](x)
        return self.head(x)


def models():
    """(name, module, input shape) of the models laid out."""
    return [("ResNet-18", resnet18_narrow(), IMAGE), ("ResNet-50", resnet50(), (3, 64, 64)),
            ("MobileNetV2", MobileNetV2(), IMAGE), ("ViT", VisionTransformer(), IMAGE),
            ("U-Net (4 levels)", UNet(), (3, 32, 32)), ("DenseNet (3 blocks of 4)", DenseNet(), IMAGE)]


def run(quick: bool = False) -> list[Row]:
    rows = []
    graphs = [(name, import_module(module.eval(), [shape]).project.graph) for name, module, shape in models()]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "resnet18.onnx"
        torch.onnx.export(resnet18_narrow().eval(), (torch.randn(1, *IMAGE),), str(path), dynamo=False)
        graphs.append(("ResNet-18 from ONNX", import_onnx(path).project.graph))
    for name, graph in graphs:
        ids, edges = graph.node_ids(), [(e.source, e.target) for e in graph.edges()]
        new_positions, old_positions = {n.id: n.position for n in graph.nodes()}, previous_layout(ids, edges)
        sizes = {n.id: estimated_size(n.type, n.id, n.params) for n in graph.nodes()}
        new, old = measure(new_positions, edges, sizes), measure(old_positions, edges, sizes)
        new["overlaps"], new["through_nodes"] = on_canvas(graph, new_positions)
        old["overlaps"], old["through_nodes"] = on_canvas(graph, old_positions)
        low, high = SCREEN_ASPECT
        one_row = new["columns"] == len(layers_of(ids, edges)) and len(layers_of(ids, edges)) < 12
        met = (low <= new["aspect"] <= high or one_row) and new["overlaps"] == 0
        rows.append(Row(SECTION, f"{name}, {len(ids)} nodes: aspect ratio", new["aspect"], "x",
                        f"{low}-{high}, no overlap", met,
                        note=f"Frame All zoom {new['frame_zoom']} (before {old['frame_zoom']}); drawn wires through "
                             f"nodes {new['through_nodes']} (before {old['through_nodes']}); crossings "
                             f"{new['crossings']} (before {old['crossings']}); wires back to the next row "
                             f"{new['back_wires']}; overlaps {new['overlaps']} (before {old['overlaps']}); before: "
                             f"aspect {old['aspect']:.2f}, {old['columns']} columns in one row"
                             + ("; under 12 layers: one row, as before" if one_row else ""),
                        extra={"new": new, "previous": old}))
    return rows


def measure(positions: dict, edges: list[tuple[str, str]], sizes: dict) -> dict:
    """Of a layout of nodes of `sizes` (the overlaps are counted again on the canvas): aspect ratio, the zoom at which Frame All shows it whole in a
    1600 x 900 view, overlapping node pairs, crossing pairs of forward wires (straight port to port), forward
    wires drawn straight through another node, and wires that run back to an earlier column (into a later
    row of a wrapped layout; drawn along the free lanes between rows, not counted as crossings)."""
    boxes = {n: (x, y, x + sizes[n][0], y + sizes[n][1]) for n, (x, y) in positions.items()}
    left, top = min(b[0] for b in boxes.values()), min(b[1] for b in boxes.values())
    right, bottom = max(b[2] for b in boxes.values()), max(b[3] for b in boxes.values())
    ordered = sorted(boxes.items(), key=lambda item: item[1][0])
    overlaps = 0
    for i, (_a, ra) in enumerate(ordered):
        for _b, rb in ordered[i + 1:]:
            if rb[0] >= ra[2]:
                break
            overlaps += not (ra[3] <= rb[1] or rb[3] <= ra[1])
    wires = [((boxes[s][2], boxes[s][1] + 40), (boxes[t][0], boxes[t][1] + 40), s, t) for s, t in edges]
    forward = [w for w in wires if w[1][0] > w[0][0]]
    crossings = sum(_cross(a[0], a[1], b[0], b[1]) for i, a in enumerate(forward) for b in forward[i + 1:]
                    if not {a[2], a[3]} & {b[2], b[3]})
    return {"aspect": round((right - left) / (bottom - top), 3), "overlaps": overlaps, "crossings": crossings,
            "back_wires": len(wires) - len(forward),
            "frame_zoom": round(min(1600 / (right - left), 900 / (bottom - top)), 3),
            "columns": len({x for x, _y in positions.values()})}


def on_canvas(graph, positions: dict) -> tuple[int, int]:
    """With the nodes at `positions`, as the canvas shows them (offscreen Qt, real node sizes): node pairs
    that overlap, and wires the editor draws (routed around nodes where it can) that still pass through
    another node or its ports."""
    from PySide6.QtGui import QPainterPathStroker
    from PySide6.QtWidgets import QApplication

    from graphs.project import Project
    from gui.canvas.node_item import PORT_R
    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    placed = graph.copy()
    for node_id, position in positions.items():
        placed.move_node(node_id, position)
    window = MainWindow()
    window.document.set_project(Project(placed, name="layout"))
    app.processEvents()
    window.scene.reroute()
    stroker = QPainterPathStroker()
    stroker.setWidth(2)
    through = 0
    for edge in window.scene.edge_items():
        stroke = stroker.createStroke(edge.path())
        through += any(stroke.intersects(node.mapRectToScene(node.rect()).adjusted(-PORT_R - 1, -1, PORT_R + 1, 1))
                       for node in window.scene.node_items() if node not in (edge.source, edge.target))
    rects = sorted((node.mapRectToScene(node.rect()) for node in window.scene.node_items()), key=lambda r: r.left())
    overlaps = sum(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:] if b.left() < a.right())
    window.document.undo_stack.setClean()
    window.close()
    app.processEvents()
    return overlaps, through


def _cross(p1, p2, q1, q2) -> bool:
    def side(a, b, c):
        value = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        return (value > 1e-9) - (value < -1e-9)

    return side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0


def layers_of(node_ids, edges) -> set[int]:
    return set(layers(node_ids, edges).values())


def previous_layout(node_ids, edges, column_spacing: float = 240.0, row_spacing: float = 130.0) -> dict:
    """The importers' layout before `graphs.layout` (the baseline): one column per topological layer, each
    column ordered by its parents' mean row and centred on y = 0, all in one row."""
    layer = layers(node_ids, edges)
    parents: dict[str, list[str]] = {n: [] for n in node_ids}
    for source, target in edges:
        parents[target].append(source)
    order = {n: i for i, n in enumerate(node_ids)}
    columns: dict[int, list[str]] = {}
    for n in node_ids:
        columns.setdefault(layer[n], []).append(n)
    row: dict[str, float] = {}
    positions = {}
    for index in sorted(columns):
        column = sorted(columns[index], key=lambda n: (
            sum(row[p] for p in parents[n] if p in row) / max(1, sum(p in row for p in parents[n]))
            if any(p in row for p in parents[n]) else -1.0, order[n]))
        for i, n in enumerate(column):
            row[n] = i - (len(column) - 1) / 2
            positions[n] = (index * column_spacing, row[n] * row_spacing)
    return positions
