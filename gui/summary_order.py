"""The model summary's row order: a topological order of the model's nodes, kept edit by edit.

Made by `graphs.validate.topological_order` (ties in the document's order), then kept as rows: a
removed wire leaves it valid, a new wire that runs forward in it needs nothing, a new node goes
last (one put back, by an undo, where it was: before the row that followed it), a removed one
leaves its row, and each of these is logged (`changes_since`) so the table moves just that row; a
new wire that runs backward takes the order the document keeps (`Graph.topological_rank`, which it repaired over the nodes between the wire's ends). So the
rows keep their places while the user rewires, and a rewire of a 10,000-node model walks no nodes. The
rows after an added or removed one are numbered again only when a row number is read (`positions`): a
delete and its undo in the middle of 10,000 rows do not renumber 5,000 rows each.
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
        self._stale_from: int | None = None  # rows from this one on may have moved since `_position` was kept
        self._kept = False  # made from the document's kept order (else from topological_order)
        self._after: dict[str, str] = {}  # a removed node -> the node whose row followed its row then
        self._changes: list[tuple[int, int, str | None]] = []  # (version, row, added node id or None: removed)
        self.version = 0

    def ids(self) -> list[str]:
        if self._ids is None:
            graph = self._graph()
            rank = graph.topological_rank() if self._kept else None
            self._ids = topological_order(graph) if rank is None else sorted(rank, key=rank.__getitem__)
            self._position = {node_id: i for i, node_id in enumerate(self._ids)}
            self._stale_from = None
        return self._ids

    def position(self, node_id: str) -> int | None:
        return self.positions.get(node_id)

    @property
    def positions(self) -> dict[str, int]:
        """Node id -> its row (read only)."""
        self.ids()
        if self._stale_from is not None:
            ids, position = self._ids, self._position
            position.update(zip(ids[self._stale_from:], range(self._stale_from, len(ids))))
            self._stale_from = None
        return self._position

    def _row(self, node_id: str) -> int | None:
        """A node's row while the order is kept: its kept number, unless rows before it moved since (then
        found from the first row that may have moved: the C of `list.index`, no renumbering)."""
        row = self._position.get(node_id)
        if row is None or self._stale_from is None or row < self._stale_from:
            return row  # (a row before every change since it was numbered has not moved)
        return self._ids.index(node_id, self._stale_from)

    def _moved_from(self, row: int) -> None:
        self._stale_from = row if self._stale_from is None else min(self._stale_from, row)

    def forget(self, kept: bool = False) -> None:
        """Make the order anew when next asked: from the document's kept order (`kept`: a backward wire,
        a few milliseconds at 10,000 nodes), else as `topological_order` makes it, ties in document order."""
        self._ids, self._kept = None, kept
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
            self._position[node_id] = row
            self._moved_from(row)
            self._changes.append((self.version + 1, row, node_id))
        self.version += 1

    def _place(self, node_id: str) -> int:
        """Its row: before the row that followed it when it was removed (or that row's own follower,
        when that node was removed too), else last."""
        follower, seen = self._after.pop(node_id, None), set()
        while follower is not None and follower not in self._position and follower not in seen:
            seen.add(follower)
            follower = self._after.get(follower)
        row = self._row(follower) if follower is not None else None
        return len(self._ids) if row is None else row

    def node_removed(self, node_id: str) -> None:
        if self._ids is not None:
            index = self._row(node_id)
            if index is None:
                return self.forget()
            del self._position[node_id]
            del self._ids[index]
            if index < len(self._ids):
                self._after[node_id] = self._ids[index]
            self._moved_from(index)
            self._changes.append((self.version + 1, index, None))
        self.version += 1

    def edge_added(self, edge) -> None:
        """The graph has a new wire `edge`: the document's order again if it runs backward in the rows."""
        if self._ids is None:
            return
        source, target = self._row(edge.source), self._row(edge.target)
        if source is None or target is None:
            self.forget()
        elif source > target:
            self.forget(kept=True)
