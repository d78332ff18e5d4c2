"""The model summary's row order: a topological order of the model's nodes, kept edit by edit.

Built with `graphs.validate.topological_order` (ties in the document's order), then kept: a removed
wire leaves it valid, a new wire that runs forward in it needs nothing, a new node goes last, and
a new wire that runs backward moves only the nodes between its ends that must move (Pearce and
Kelly's dynamic topological order: those the wire's target reaches, placed after those that reach
its source). So the rows keep their places while the user rewires, and no edit of a 10,000-node
model walks the whole graph. Anything else (a rename, another graph, a cycle from a file) builds
it anew when next asked.
"""

from __future__ import annotations

from graphs.validate import topological_order


class LiveOrder:
    """`ids()`: the order; `position(node_id)`: a node's row; `version` changes whenever the order does."""

    def __init__(self, graph):
        """`graph()` gives the model's graph (the open project may change)."""
        self._graph = graph
        self._ids: list[str] | None = None
        self._position: dict[str, int] = {}
        self.version = 0

    def ids(self) -> list[str]:
        if self._ids is None:
            self._ids = topological_order(self._graph())  # a cycle (from a file) leaves its nodes out
            self._position = {node_id: i for i, node_id in enumerate(self._ids)}
        return self._ids

    def position(self, node_id: str) -> int | None:
        return self.positions.get(node_id)

    @property
    def positions(self) -> dict[str, int]:
        """Node id -> its row (read only)."""
        self.ids()
        return self._position

    def forget(self) -> None:
        self._ids = None
        self.version += 1

    def node_added(self, node_id: str) -> None:
        if self._ids is not None:  # no wires yet: last is as good as anywhere
            self._position[node_id] = len(self._ids)
            self._ids.append(node_id)
        self.version += 1

    def node_removed(self, node_id: str) -> None:
        if self._ids is not None:
            index = self._position.pop(node_id, None)
            if index is None:
                return self.forget()
            del self._ids[index]
            for i in range(index, len(self._ids)):
                self._position[self._ids[i]] = i
        self.version += 1

    def edge_added(self, edge) -> None:
        """The graph has a new wire `edge`: reorder the nodes between its ends if it runs backward."""
        if self._ids is None:
            return
        position = self._position
        source, target = position.get(edge.source), position.get(edge.target)
        if source is None or target is None:
            return self.forget()
        if source < target:
            return
        graph = self._graph()
        after = self._reach(edge.target, lambda n: [e.target for e in graph.out_edges(n)], lambda p: p <= source)
        before = self._reach(edge.source, lambda n: [e.source for e in graph.in_edges(n)], lambda p: p >= target)
        if after is None or before is None or edge.source in after:  # a cycle: built anew (it leaves it out)
            return self.forget()
        moved = sorted(before, key=position.__getitem__) + sorted(after, key=position.__getitem__)
        for slot, node_id in zip(sorted(position[n] for n in moved), moved):
            self._ids[slot] = node_id
            position[node_id] = slot
        self.version += 1

    def _reach(self, start: str, neighbours, inside) -> set[str] | None:
        """The nodes reached from `start` through nodes whose position is `inside` the affected span;
        None when one is not in the order (on a cycle)."""
        found, stack = {start}, [start]
        while stack:
            for node_id in neighbours(stack.pop()):
                place = self._position.get(node_id)
                if place is None:
                    return None
                if node_id not in found and inside(place):
                    found.add(node_id)
                    stack.append(node_id)
        return found
