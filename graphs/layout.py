"""Auto-layout: a layered (Sugiyama-style) drawing of a graph, for the editor's Ctrl+L and for imports.

Pure Python over node ids and edges (no Qt, no torch), so the editor and the importers
share one layout. The steps are the classic ones:

1. Layers. Data flows left to right: a node's layer is the longest path to it from a
   source, except that a source is pulled right to sit just before its first consumer
   (a Target next to its loss). Edges that close a cycle (only in a hand-made file) are
   ignored for layering.
2. Lanes for long edges. An edge that spans several layers gets a thin placeholder in
   each layer it passes, so a skip connection has its own lane beside the blocks it
   skips instead of running through them.
3. Few crossings. Each layer is ordered by the barycentre of its neighbours in the
   layer before (sweeping right) and after (sweeping left); the order with the fewest
   wire crossings seen is kept.
4. Straight wires. In each layer the nodes keep that order and their gaps, and take
   the rows closest (least squares) to their neighbours' rows: an isotonic regression,
   solved exactly by pooling adjacent violators. A chain comes out straight, and the
   branches of a block sit side by side around it.
5. Rows, not a ribbon. A drawing much wider than tall (a deep network: ResNet-18 has
   about 50 layers) is cut into bands that stack top to bottom like lines of text,
   each band read left to right, at the narrowest waists near the ideal cut points
   (between ResNet stages, at a U-Net's bottleneck), so the whole model fits a screen.

Positions are top-left corners; `sizes` gives (width, height) per node id.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

DEFAULT_SIZE = (170.0, 110.0)
LANE_SIZE = (0.0, 16.0)  # the placeholder a long edge takes in a layer it passes
LANE_WEIGHT = 0.001  # how much a lane's wish counts against a node's when they compete for a row
TARGET_ASPECT = 1.6  # width / height the wrapped drawing aims for (a screen)
WRAP_ABOVE = 3.0  # wrap only drawings wider than this many times their height
MIN_BAND_LAYERS = 6  # and only into bands of at least this many layers (a short model stays one row)
SWEEPS = 12  # crossing-reduction sweeps at most
ROW_SWEEPS = 12  # row-straightening sweeps at most (they usually settle in a few)
Edge = tuple[str, str]


def layered_positions(node_ids: Sequence[str], edges: Iterable[Edge], sizes: dict | None = None, *,
                      h_gap: float = 70.0, v_gap: float = 30.0, origin=(0.0, 0.0),
                      wrap: bool = True) -> dict[str, tuple[float, float]]:
    """Top-left (x, y) per node id: layers left to right, wrapped into bands when much wider than tall."""
    if not node_ids:
        return {}
    drawing = _Drawing(list(node_ids), list(edges), sizes or {}, h_gap, v_gap)
    return drawing.place(origin, wrap)


def layers(node_ids: Sequence[str], edges: Iterable[Edge]) -> dict[str, int]:
    """Layer index per node id (see step 1 of the module docstring)."""
    index = {n: i for i, n in enumerate(node_ids)}
    succ, pred = _acyclic_adjacency(len(node_ids), [(index[s], index[t]) for s, t in edges
                                                   if s in index and t in index and s != t])
    layer = _longest_path_layers(len(node_ids), succ, pred)
    return {n: layer[i] for i, n in enumerate(node_ids)}


# ---- step 1 ------------------------------------------------------------------------
def _acyclic_adjacency(n: int, edges: list[tuple[int, int]]) -> tuple[list[list[int]], list[list[int]]]:
    """Successor and predecessor lists without duplicate edges and without the edges that close a cycle
    (found by a depth-first search in node order)."""
    succ_all: list[list[int]] = [[] for _ in range(n)]
    for s, t in dict.fromkeys(edges):
        succ_all[s].append(t)
    state = [0] * n  # 0 new, 1 on the stack, 2 done
    keep: list[tuple[int, int]] = []
    for root in range(n):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(succ_all[root]))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if state[child] == 1:
                    continue  # a back edge: it closes a cycle
                keep.append((node, child))
                if state[child] == 0:
                    state[child] = 1
                    stack.append((child, iter(succ_all[child])))
                    break
            else:
                state[node] = 2
                stack.pop()
    succ: list[list[int]] = [[] for _ in range(n)]
    pred: list[list[int]] = [[] for _ in range(n)]
    for s, t in keep:
        succ[s].append(t)
        pred[t].append(s)
    return succ, pred


def _longest_path_layers(n: int, succ: list[list[int]], pred: list[list[int]]) -> list[int]:
    indegree = [len(p) for p in pred]
    ready = [i for i in range(n) if indegree[i] == 0]
    order: list[int] = []
    layer = [0] * n
    while ready:
        node = ready.pop()
        order.append(node)
        for child in succ[node]:
            layer[child] = max(layer[child], layer[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    for node in order:  # a source sits just before its first consumer
        if not pred[node] and succ[node]:
            layer[node] = max(layer[node], min(layer[c] for c in succ[node]) - 1)
    return layer


# ---- steps 2 to 5 --------------------------------------------------------------------
class _Drawing:
    """The layered drawing of one graph: real nodes first, then lane placeholders."""

    def __init__(self, node_ids: list[str], edges: list[Edge], sizes: dict, h_gap: float, v_gap: float):
        self.ids, self.h_gap, self.v_gap = node_ids, h_gap, v_gap
        index = {n: i for i, n in enumerate(node_ids)}
        pairs = [(index[s], index[t]) for s, t in edges if s in index and t in index and s != t]
        succ, pred = _acyclic_adjacency(len(node_ids), pairs)
        layer = _longest_path_layers(len(node_ids), succ, pred)
        self.size = [tuple(sizes.get(n, DEFAULT_SIZE)) for n in node_ids]
        self.layer = list(layer)
        self.up: list[list[int]] = [[] for _ in node_ids]  # neighbours in the layer before
        self.down: list[list[int]] = [[] for _ in node_ids]  # neighbours in the layer after
        for s, t in ((s, t) for s, children in enumerate(succ) for t in children):
            previous = s
            for lane_layer in range(layer[s] + 1, layer[t]):
                lane = self._add_lane(lane_layer)
                self._link(previous, lane)
                previous = lane
            self._link(previous, t)
        self.layers: list[list[int]] = [[] for _ in range(max(self.layer) + 1)]
        for node in sorted(range(len(self.layer)), key=lambda v: (self._first_seen(v), v)):
            self.layers[self.layer[node]].append(node)

    def _add_lane(self, layer: int) -> int:
        self.size.append(LANE_SIZE)
        self.layer.append(layer)
        self.up.append([])
        self.down.append([])
        return len(self.layer) - 1

    def _link(self, a: int, b: int) -> None:
        self.down[a].append(b)
        self.up[b].append(a)

    def _first_seen(self, node: int) -> int:
        """A lane is ordered where the node it leaves from is; a real node by its place in the document."""
        while node >= len(self.ids):
            node = self.up[node][0]
        return node

    # ---- step 3 -----------------------------------------------------------------------
    def order(self) -> None:
        best, fewest = [list(layer) for layer in self.layers], self.crossings()
        stale = 0
        for sweep in range(SWEEPS):
            rightwards = sweep % 2 == 0
            sequence = range(1, len(self.layers)) if rightwards else range(len(self.layers) - 2, -1, -1)
            for i in sequence:
                self._sort_by_barycentre(i, self.up if rightwards else self.down)
            crossings = self.crossings()
            if crossings < fewest:
                best, fewest, stale = [list(layer) for layer in self.layers], crossings, 0
            else:
                stale += 1
                if stale >= 4 or fewest == 0:
                    break
        self.layers = best

    def _sort_by_barycentre(self, i: int, neighbours: list[list[int]]) -> None:
        layer = self.layers[i]
        rank = {}
        for other in (self.layers[i - 1] if neighbours is self.up else self.layers[i + 1]):
            rank[other] = len(rank)
        keys = {}
        for position, node in enumerate(layer):
            placed = [rank[n] for n in neighbours[node] if n in rank]
            keys[node] = (sum(placed) / len(placed), position) if placed else (float(position), position)
        layer.sort(key=keys.__getitem__)

    def crossings(self) -> int:
        total = 0
        for left, right in zip(self.layers, self.layers[1:]):
            rank = {node: i for i, node in enumerate(right)}
            ends = sorted((i, rank[child]) for i, node in enumerate(left) for child in self.down[node])
            total += _inversions([end for _start, end in ends])
        return total

    # ---- step 4 -----------------------------------------------------------------------
    def rows(self) -> list[float]:
        """The top of every node (real and lane), chains straight and gaps kept."""
        top = [0.0] * len(self.layer)
        for layer in self.layers:
            self._fit(layer, [0.0] * len(layer), top)
        for sweep in range(ROW_SWEEPS):
            before = list(top)
            sequence = self.layers if sweep % 2 == 0 else self.layers[::-1]
            neighbours = self.up if sweep % 2 == 0 else self.down
            for layer in sequence:
                wanted = []
                for node in layer:
                    linked = neighbours[node] or self.up[node] + self.down[node]
                    if node < len(self.ids):  # a real node lines up with real nodes; lanes make way
                        linked = [n for n in linked if n < len(self.ids)] or linked
                    centres = [top[n] + self.size[n][1] / 2 for n in linked]
                    centre = sum(centres) / len(centres) if centres else top[node] + self.size[node][1] / 2
                    wanted.append(centre - self.size[node][1] / 2 if self.size[node] != LANE_SIZE
                                  else centre - LANE_SIZE[1] / 2)
                self._fit(layer, wanted, top)
            if sweep % 2 and max(abs(a - b) for a, b in zip(before, top)) < 0.5:
                break
        return top

    def _fit(self, layer: list[int], wanted: list[float], top: list[float]) -> None:
        """Tops for `layer`, in its order with a gap between neighbours, as close to `wanted` as can be."""
        offsets, offset = [], 0.0
        for node in layer:
            offsets.append(offset)
            offset += self.size[node][1] + (self.v_gap if self.size[node] != LANE_SIZE else self.v_gap / 3)
        weights = [1.0 if node < len(self.ids) else LANE_WEIGHT for node in layer]
        fitted = _isotonic([w - o for w, o in zip(wanted, offsets)], weights)
        for node, value, o in zip(layer, fitted, offsets):
            top[node] = value + o

    # ---- step 5 -----------------------------------------------------------------------
    def place(self, origin, wrap: bool) -> dict[str, tuple[float, float]]:
        self.order()
        top = self.rows()
        widths = [max((self.size[n][0] for n in layer), default=0.0) for layer in self.layers]
        spans = [(min(top[n] for n in layer), max(top[n] + self.size[n][1] for n in layer)) for layer in self.layers]
        bands = self._bands(widths, spans) if wrap else [(0, len(self.layers))]
        positions: dict[str, tuple[float, float]] = {}
        band_top = float(origin[1])
        for start, end in bands:
            low = min(spans[i][0] for i in range(start, end))
            high = max(spans[i][1] for i in range(start, end))
            x = float(origin[0])
            for i in range(start, end):
                for node in self.layers[i]:
                    if node < len(self.ids):
                        positions[self.ids[node]] = (round(x), round(band_top + top[node] - low))
                x += widths[i] + self.h_gap
            band_top += high - low + 3 * self.v_gap
        if len(bands) == 1:  # one band keeps its own rows, as before: the first node's top on the origin line
            first = positions[self.ids[self.layers[0][0]]] if self.layers[0][0] < len(self.ids) else None
            if first is not None:
                shift = round(float(origin[1]) - first[1])
                positions = {n: (x, y + shift) for n, (x, y) in positions.items()}
        return positions

    def _bands(self, widths: list[float], spans: list[tuple[float, float]]) -> list[tuple[int, int]]:
        """Consecutive layer ranges, one per band: one band unless the drawing is far wider than tall."""
        count = len(widths)
        width = sum(widths) + self.h_gap * (count - 1)
        height = max(high for _low, high in spans) - min(low for low, _high in spans)
        if count < 2 * MIN_BAND_LAYERS or width <= WRAP_ABOVE * max(height, 1.0):
            return [(0, count)]
        best, best_score = [(0, count)], float("inf")
        for band_count in range(2, count // MIN_BAND_LAYERS + 1):
            bands = self._cut(band_count, widths)
            band_width = max(sum(widths[s:e]) + self.h_gap * (e - s - 1) for s, e in bands)
            band_height = sum(max(spans[i][1] for i in range(s, e)) - min(spans[i][0] for i in range(s, e))
                              for s, e in bands) + 3 * self.v_gap * (len(bands) - 1)
            score = abs(_log(band_width / max(band_height, 1.0)) - _log(TARGET_ASPECT))
            if score < best_score:
                best, best_score = bands, score
            elif band_width < band_height:
                break
        return best

    def _cut(self, band_count: int, widths: list[float]) -> list[tuple[int, int]]:
        """`band_count` ranges of about equal width, each cut moved to the nearby layer boundary that the
        fewest edges cross."""
        count = len(widths)
        crossing = [0] * count  # crossing[i]: edges from layers < i into layers >= i
        for node, layer in enumerate(self.layer):
            for child in self.down[node]:
                if self.layer[child] > layer:
                    crossing[layer + 1] += 1
        total = sum(widths)
        cuts, walked, start = [], 0.0, 0
        for i, w in enumerate(widths):
            walked += w
            if len(cuts) < band_count - 1 and walked >= total * (len(cuts) + 1) / band_count:
                window = max(1, count // (band_count * 4))
                options = range(max(start + 1, i + 1 - window), min(count - 1, i + 1 + window) + 1)
                cut = min(options, key=lambda c: (crossing[c], abs(c - (i + 1))), default=i + 1)
                if start < cut < count:
                    cuts.append(cut)
                    start = cut
        edges = [0, *cuts, count]
        return [(a, b) for a, b in zip(edges, edges[1:]) if a < b]


def _log(value: float) -> float:
    import math

    return math.log(max(value, 1e-9))


def _inversions(values: list[int]) -> int:
    """Pairs i < j with values[i] > values[j]: the wire crossings between two layers."""
    seen: list[int] = []
    count = 0
    for value in values:
        position = bisect.bisect_right(seen, value)
        count += len(seen) - position
        seen.insert(position, value)
    return count


def _isotonic(values: list[float], weights: list[float] | None = None) -> list[float]:
    """The non-decreasing sequence closest to `values` in (weighted) least squares: pool adjacent violators."""
    weights = weights or [1.0] * len(values)
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value, weight in zip(values, weights):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, weight, count = blocks.pop()
            previous = blocks[-1]
            previous[0] = (previous[0] * previous[1] + mean * weight) / (previous[1] + weight)
            previous[1] += weight
            previous[2] += count
    fitted: list[float] = []
    for mean, _weight, count in blocks:
        fitted.extend([mean] * int(count))
    return fitted


def layered_layout(graph, sizes: dict | None = None, **options) -> dict[str, tuple[float, float]]:
    """`layered_positions` for a `graphs.document.Graph` (its node order and its edges); without `sizes` (an
    import, a headless tool) each node's size on the canvas is estimated from its face's text."""
    if sizes is None:
        concrete = getattr(graph, "concrete", lambda params: params)  # a unit's references read as defaults
        sizes = {node.id: estimated_size(node.type, node.id, concrete(node.params)) for node in graph.nodes()}
    return layered_positions(graph.node_ids(), [(e.source, e.target) for e in graph.edges()], sizes, **options)


def estimated_size(type_name: str, node_id: str, params: dict) -> tuple[float, float]:
    """About the (width, height) the editor draws a node with (gui.canvas.node_item), from its text alone,
    a little generous: a layout made without Qt's font metrics must not make nodes overlap on the canvas."""
    from graphs.catalogue import CATALOGUE

    spec = CATALOGUE.get(type_name)
    if spec is None:  # a unit instance or a Repeat: its name, and a summary line such as "Block ×3 · 9 nodes each"
        width = max(8.5 * len(type_name) + 18 + 6.5 * len(node_id), 7.0 * (len(type_name) + 22) + 8, 150.0)
        return max(DEFAULT_SIZE[0], width + 20), DEFAULT_SIZE[1] + 20
    resolved = spec.resolve_params(params)
    shown = [f"{name}  {resolved.get(name)}" for name in spec.key_params]
    ports = max(len(spec.input_ports(resolved)), len(spec.output_ports(resolved)), 1)
    width = max(8.5 * len(type_name) + 18 + 6.5 * len(node_id), *(7.0 * len(text) + 8 for text in shown), 120.0)
    height = 28 + ports * 20 + 2 + (len(shown) * 17 + 4 if shown else 0) + 24
    return max(150.0, width + 20), float(height)
