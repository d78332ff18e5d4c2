"""The model summary's row order: a topological order of the model's nodes, kept edit by edit.

Made by `graphs.validate.topological_order` (ties in the document's order), then kept as rows: a
removed wire leaves it valid, a new wire that runs forward in it needs nothing, a new node goes
last, a removed one leaves its row; a new wire that runs backward takes the order the document
keeps (`Graph.topological_rank`, which it repaired over the nodes between the wire's ends). So the
rows keep their places while the user rewires, and a rewire of a 10,000-node model walks no nodes.
Anything else (a rename, another graph, an edited unit) makes it anew when next asked; a cycle from
a file leaves its nodes out.
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
        self._kept = False  # made from the document's kept order (else from topological_order)
        self.version = 0

    def ids(self) -> list[str]:
        if self._ids is None:
            graph = self._graph()
            rank = graph.topological_rank() if self._kept else None
            self._ids = topological_order(graph) if rank is None else sorted(rank, key=rank.__getitem__)
            self._position = {node_id: i for i, node_id in enumerate(self._ids)}
        return self._ids

    def position(self, node_id: str) -> int | None:
        return self.positions.get(node_id)

    @property
    def positions(self) -> dict[str, int]:
        """Node id -> its row (read only)."""
        self.ids()
        return self._position

    def forget(self, kept: bool = False) -> None:
        """Make the order anew when next asked: from the document's kept order (`kept`: a backward wire,
        a few milliseconds at 10,000 nodes), else as `topological_order` makes it, ties in document order."""
        self._ids, self._kept = None, kept
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
        """The graph has a new wire `edge`: the document's order again if it runs backward in the rows."""
        if self._ids is None:
            return
        source, target = self._position.get(edge.source), self._position.get(edge.target)
        if source is None or target is None:
            self.forget()
        elif source > target:
            self.forget(kept=True)
