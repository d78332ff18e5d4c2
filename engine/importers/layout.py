"""Automatic left-to-right layout for imported graphs (pure; no Qt, no torch).

`layered_positions(node_ids, edges)` puts every node in a column given by its
topological layer (the length of the longest path from a source), and orders
each column by the mean row of the node's parents so wires mostly run
straight. Columns are centred on y = 0. `apply_layout(graph)` moves the nodes
of a `graphs.Graph` to those positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

COLUMN_SPACING = 240.0
ROW_SPACING = 130.0


def layers(node_ids: Sequence[str], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """node id -> topological layer (0 for nodes without inputs). Nodes on a cycle get the next free layer."""
    parents: dict[str, list[str]] = {n: [] for n in node_ids}
    children: dict[str, list[str]] = {n: [] for n in node_ids}
    for source, target in edges:
        if source in parents and target in parents and source != target:
            parents[target].append(source)
            children[source].append(target)
    indegree = {n: len(set(parents[n])) for n in node_ids}
    layer = {n: 0 for n in node_ids}
    ready = [n for n in node_ids if indegree[n] == 0]
    done: set[str] = set()
    while ready:
        current = ready.pop(0)
        done.add(current)
        for child in dict.fromkeys(children[current]):
            layer[child] = max(layer[child], layer[current] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    top = max(layer.values(), default=-1)
    for n in node_ids:  # a cycle (only possible in a hand-made file): place its nodes after the rest
        if n not in done:
            top += 1
            layer[n] = top
    return layer


def layered_positions(node_ids: Sequence[str], edges: Iterable[tuple[str, str]],
                      column_spacing: float = COLUMN_SPACING,
                      row_spacing: float = ROW_SPACING) -> dict[str, tuple[float, float]]:
    """node id -> (x, y): columns left to right by layer, rows ordered by the parents' mean row."""
    edges = list(edges)
    layer = layers(node_ids, edges)
    parents: dict[str, list[str]] = {n: [] for n in node_ids}
    for source, target in edges:
        if source in parents and target in parents:
            parents[target].append(source)
    order = {n: i for i, n in enumerate(node_ids)}
    columns: dict[int, list[str]] = {}
    for n in node_ids:
        columns.setdefault(layer[n], []).append(n)
    row: dict[str, float] = {}
    positions: dict[str, tuple[float, float]] = {}
    for index in sorted(columns):
        column = columns[index]

        def key(n):
            placed = [row[p] for p in parents[n] if p in row]
            return (sum(placed) / len(placed) if placed else -1.0, order[n])

        column.sort(key=key)
        offset = (len(column) - 1) / 2
        for i, n in enumerate(column):
            row[n] = i - offset
            positions[n] = (index * column_spacing, row[n] * row_spacing)
    return positions


def apply_layout(graph) -> dict[str, tuple[float, float]]:
    """Move every node of `graph` to its layered position; returns the positions."""
    positions = layered_positions(graph.node_ids(), [(e.source, e.target) for e in graph.edges()])
    for node_id, position in positions.items():
        graph.move_node(node_id, position)
    return positions
