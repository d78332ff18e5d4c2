"""The model summary's row order: a topological order of the model's nodes, kept edit by edit.

Made by `graphs.validate.topological_order` (ties in the document's order), then kept as rows: a
removed wire leaves it valid, a new wire that runs forward in it needs nothing, a new node goes
last (one put back, by an undo, where it was: before the row that followed it), a removed one
leaves its row, and each of these is logged (`changes_since`) so the table moves just that row; a
new wire that runs backward takes the order the document keeps (`Graph.topological_rank`, which it repaired over the nodes between the wire's ends). So the
rows keep their places while the user rewires, and a rewire of a 10,000-node model walks no nodes.
Anything else (a rename, another graph, an edited unit) makes it anew when next asked; a cycle from
a file leaves its nodes out.
"""

from __future__ import annotations

from graphs.node_order import NodePlaces
from graphs.validate import topological_order


class LiveOrder:
    """`ids()`: the order; `position(node_id)`: a node's row; `version` changes whenever the order does."""

    def __init__(self, graph):
        """`graph()` gives the model's graph (the open project may change)."""
        self._graph = graph
        self._ids: list[str] | None = None
        self._rows: set[str] = set()  # the nodes in `_ids`
        self._places = NodePlaces()  # their rows, kept across a row removed and put back (a delete and its undo)
        self._kept = False  # made from the document's kept order (else from topological_order)
        self._after: dict[str, str] = {}  # a removed node -> the node whose row followed its row then
        self._changes: list[tuple[int, int, str | None]] = []  # (version, row, added node id or None: removed)
        self.version = 0

    def ids(self) -> list[str]:
        if self._ids is None:
            graph = self._graph()
            rank = graph.topological_rank() if self._kept else None
            self._ids = topological_order(graph) if rank is None else sorted(rank, key=rank.__getitem__)
            self._rows = set(self._ids)
        return self._ids

    def position(self, node_id: str) -> int | None:
        ids = self.ids()
        return self._places.of(ids, (node_id,))[node_id] if node_id in self._rows else None

    @property
    def positions(self) -> dict[str, int]:
        """Node id -> its row."""
        ids = self.ids()
        return self._places.of(ids, ids)

    def forget(self, kept: bool = False) -> None:
        """Make the order anew when next asked: from the document's kept order (`kept`: a backward wire,
        a few milliseconds at 10,000 nodes), else as `topological_order` makes it, ties in document order."""
        self._ids, self._kept = None, kept
        self._places.drop()
        self._after.clear()
        self._changes.clear()
        self.version += 1

    def changes_since(self, version: int) -> list[tuple[int, str | None]] | None:
        """The rows added and removed since `version`, in turn: (row, node id) for a node added there,
        (row, None) for a row removed; None when the order was made anew meanwhile. The log forgets what came
        before `version`: it is asked for with ever newer versions (the table's), so it stays short."""
        self._changes = [change for change in self._changes if change[0] > version]
        changes = [(row, node_id) for _, row, node_id in self._changes]
        return changes if len(changes) == self.version - version else None

    def node_added(self, node_id: str) -> None:
        if self._ids is not None:  # no wires yet: last, or where it was before it was removed
            row = self._place(node_id)
            self._ids.insert(row, node_id)
            self._rows.add(node_id)
            self._places.added(self._ids, node_id, row)
            self._changes.append((self.version + 1, row, node_id))
        self.version += 1

    def _place(self, node_id: str) -> int:
        """Its row: before the row that followed it when it was removed (or that row's own follower,
        when that node was removed too), else last."""
        follower, seen = self._after.pop(node_id, None), set()
        while follower is not None and follower not in self._rows and follower not in seen:
            seen.add(follower)
            follower = self._after.get(follower)
        return len(self._ids) if follower not in self._rows else self.position(follower)

    def node_removed(self, node_id: str) -> None:
        if self._ids is not None:
            index = self.position(node_id)
            if index is None:
                return self.forget()
            del self._ids[index]
            self._rows.discard(node_id)
            self._places.removed(self._ids, node_id, index)
            if index < len(self._ids):
                self._after[node_id] = self._ids[index]
            self._changes.append((self.version + 1, index, None))
        self.version += 1

    def edge_added(self, edge) -> None:
        """The graph has a new wire `edge`: the document's order again if it runs backward in the rows."""
        if self._ids is None:
            return
        source, target = self.position(edge.source), self.position(edge.target)
        if source is None or target is None:
            self.forget()
        elif source > target:
            self.forget(kept=True)
