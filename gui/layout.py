"""Auto-layout: layers left to right in topological order. A pure function over a graph.

Layering is longest-path from the sources, except that a source node is pulled
right to sit just before its first consumer (so a Target sits next to its loss,
not at the far left). Nodes in a cycle (only possible in a loaded file) share one
layer. Within a layer, nodes are ordered by the barycentre of their
predecessors to reduce crossings, then stacked with a gap around the origin line (single nodes have their top on
it, so the port rows of a chain line up and its wires are straight).
Columns are as wide as their widest node, so no two nodes overlap.
"""

from __future__ import annotations

from graphs.document import Graph
from graphs.validate import to_networkx

DEFAULT_SIZE = (170.0, 110.0)


def _layers(graph: Graph) -> dict[str, int]:
    """Layer index per node id."""
    import networkx as nx  # lazily: it costs ~0.4 s at start-up

    g = nx.DiGraph(to_networkx(graph))
    condensed = nx.condensation(g)  # a DAG of strongly connected components
    members = condensed.graph["mapping"]  # node -> component
    order = {node_id: i for i, node_id in enumerate(graph.node_ids())}
    comp_order = list(nx.lexicographical_topological_sort(
        condensed, key=lambda c: min(order[n] for n in condensed.nodes[c]["members"])))
    layer: dict[int, int] = {}
    for comp in comp_order:
        layer[comp] = max((layer[p] + 1 for p in condensed.predecessors(comp)), default=0)
    for comp in reversed(comp_order):
        succ = list(condensed.successors(comp))
        if not any(True for _ in condensed.predecessors(comp)) and succ:
            layer[comp] = max(layer[comp], min(layer[s] for s in succ) - 1)
    return {node_id: layer[members[node_id]] for node_id in graph.node_ids()}


def _order_within_layers(graph: Graph, layers: dict[str, int]) -> list[list[str]]:
    columns: list[list[str]] = [[] for _ in range(max(layers.values(), default=-1) + 1)]
    for node_id in graph.node_ids():
        columns[layers[node_id]].append(node_id)
    preds: dict[str, list[str]] = {n: [] for n in layers}
    for edge in graph.edges():
        if layers[edge.source] < layers[edge.target]:
            preds[edge.target].append(edge.source)
    for _sweep in range(2):
        rank = {n: i for column in columns for i, n in enumerate(column)}
        for column in columns[1:]:
            keys = {n: (sum(rank[s] for s in preds[n]) / len(preds[n]) if preds[n] else rank[n]) for n in column}
            column.sort(key=keys.__getitem__)
            rank.update({n: i for i, n in enumerate(column)})
    return columns


def layered_layout(graph: Graph, sizes: dict | None = None, h_gap: float = 80.0,
                   v_gap: float = 40.0, origin=(0.0, 0.0)) -> dict[str, tuple[float, float]]:
    """Top-left position per node id. `sizes` maps node id -> (width, height) of its item."""
    sizes = sizes or {}
    if not len(graph):
        return {}
    columns = _order_within_layers(graph, _layers(graph))
    positions: dict[str, tuple[float, float]] = {}
    x = float(origin[0])
    for column in columns:
        if not column:
            continue
        dims = [sizes.get(n, DEFAULT_SIZE) for n in column]
        # centre the stack on the origin line, counting the first node as if it had no height: a column
        # of one node then has its top (and so its port rows) on the line, and a chain is straight
        rest = sum(h for _w, h in dims[1:]) + v_gap * (len(column) - 1)
        y = float(origin[1]) - rest / 2
        for node_id, (_w, h) in zip(column, dims):
            positions[node_id] = (round(x), round(y))
            y += h + v_gap
        x += max(w for w, _h in dims) + h_gap
    return positions
