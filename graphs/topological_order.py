"""A topological order of a document's nodes, kept up to date wire by wire.

`Graph.connect` refuses a wire that would close a cycle. Searching from the wire's target for its
source walks every node downstream: milliseconds per edit on a 10,000-node model. A kept order
answers most wires at once, since a wire from an earlier node to a later one cannot close a cycle.
A wire the other way is checked by a search bounded to the nodes ranked between its ends, and the
order is then repaired over those nodes only (the dynamic topological sort of Pearce and Kelly,
"A dynamic topological sort algorithm for directed acyclic graphs", 2006). The ranks also give
`engine.shapes.ShapeInference` its order, so it needn't keep one of its own.

A loaded file may hold a cycle (its wires are not checked): then there is no order until a wire or
node is removed, and cycle checks search the graph as they did before.
"""

from __future__ import annotations

import heapq


class TopologicalOrder:
    """Ranks of a `Graph`'s nodes such that every wire goes from a lower rank to a higher one.

    The graph calls the `node_added`, `node_removed`, `edge_added` and `edge_removed` hooks after each
    change of its adjacency (`_nodes`, `_in`, `_out`, which this reads). The ranks are computed on the
    first use, with ties in document order, then kept."""

    def __init__(self, graph):
        self._graph = graph
        self._rank: dict[str, int] | None = None  # None: not computed yet, or the graph has a cycle
        self._cyclic = False  # the last computation found a cycle, and nothing was removed since
        self._next = 0  # the rank a new node takes: after every other
        self._freed: dict[str, int] = {}  # a removed node's rank, which no other node takes (ranks only permute)

    def ranks(self) -> dict[str, int] | None:
        """The rank of every node, or None while the graph has a cycle. Read it, don't change it."""
        if self._rank is None and not self._cyclic or self._rank is not None and len(self._rank) != len(
                self._graph._nodes):  # a node put in without add_node (graphs.units.expand does, for a bad one)
            self._compute()
        return self._rank

    def would_cycle(self, source: str, target: str, without=None) -> bool:
        """Whether a wire from `source` to `target` would close a cycle (ignoring wire `without`)."""
        if source == target:
            return True
        rank = self.ranks()
        if rank is not None and (source not in rank or target not in rank):  # see `ranks`
            self._rank = None
            rank = self.ranks()
        if rank is None:
            return self._reaches(target, source, without, None)
        if rank[source] < rank[target]:
            return False  # the order already puts the wire forwards
        return self._reaches(target, source, without, rank)

    # ---- hooks --------------------------------------------------------------------------------
    def node_added(self, node_id: str) -> None:
        if self._rank is not None:  # no wires yet: any free rank is as good; the one it had (an undone delete)
            freed = self._freed.pop(node_id, None)  # keeps its wires forward, and their repair from walking
            if freed is None:  # every node below it, thousands in a 10,000-node model
                freed, self._next = self._next, self._next + 1
            self._rank[node_id] = freed

    def node_removed(self, node_id: str) -> None:
        if self._rank is not None and node_id in self._rank:
            self._freed[node_id] = self._rank.pop(node_id)
        self._cyclic = False  # the graph may have lost its cycle: compute again when asked

    def edge_removed(self, _edge) -> None:
        self._cyclic = False  # an order stays an order without one of its wires

    def edge_added(self, edge) -> None:
        rank = self._rank
        if rank is None:
            return
        if edge.source not in rank or edge.target not in rank:  # see `ranks`
            self._rank = None
            return
        if rank[edge.source] < rank[edge.target]:
            return
        forward = self._forward(edge.target, rank[edge.source], rank)
        if forward is None:  # an unchecked wire (a loaded file) closed a cycle
            self._rank, self._cyclic = None, True
            return
        backward = self._backward(edge.source, rank[edge.target], rank)
        moved = sorted(backward, key=rank.__getitem__) + sorted(forward, key=rank.__getitem__)
        for node_id, new_rank in zip(moved, sorted(rank[n] for n in moved)):
            rank[node_id] = new_rank

    # ---- searches -------------------------------------------------------------------------------
    def _forward(self, start: str, bound: int, rank: dict[str, int]) -> list[str] | None:
        """The nodes reached from `start` ranked up to `bound`; None when that reaches the node of rank `bound`."""
        out, found, stack, seen = self._graph._out, [], [start], {start}
        while stack:
            current = stack.pop()
            if rank[current] == bound:
                return None
            found.append(current)
            for edge in out.get(current, ()):
                nxt = edge.target
                if nxt not in seen and rank[nxt] <= bound:
                    seen.add(nxt)
                    stack.append(nxt)
        return found

    def _backward(self, start: str, bound: int, rank: dict[str, int]) -> list[str]:
        """The nodes that reach `start`, ranked above `bound`."""
        into, found, stack, seen = self._graph._in, [], [start], {start}
        while stack:
            current = stack.pop()
            found.append(current)
            for edge in into.get(current, ()):
                previous = edge.source
                if previous not in seen and rank[previous] > bound:
                    seen.add(previous)
                    stack.append(previous)
        return found

    def _reaches(self, start: str, goal: str, without, rank: dict[str, int] | None) -> bool:
        """A path of wires from `start` to `goal`, not using wire `without`; with ranks, only through nodes
        ranked up to `goal`'s (no path to it leaves them)."""
        bound = rank[goal] if rank is not None else None
        stack, seen, out = [start], {start}, self._graph._out
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            for edge in out.get(current, ()):
                target = edge.target
                if target not in seen and (bound is None or rank[target] <= bound) \
                        and (without is None or edge != without):  # Edge equality is slow: last
                    seen.add(target)
                    stack.append(target)
        return False

    def _compute(self) -> None:
        """Kahn's algorithm, the ready node first in document order; a cycle leaves nodes unranked."""
        nodes, out = self._graph._nodes, self._graph._out
        place = {node_id: i for i, node_id in enumerate(nodes)}
        indegree = {node_id: len(self._graph._in.get(node_id, ())) for node_id in nodes}
        ready = [(place[n], n) for n, degree in indegree.items() if degree == 0]
        rank: dict[str, int] = {}
        while ready:
            _, current = heapq.heappop(ready)
            rank[current] = len(rank)
            for edge in out.get(current, ()):
                indegree[edge.target] -= 1
                if indegree[edge.target] == 0:
                    heapq.heappush(ready, (place[edge.target], edge.target))
        if len(rank) < len(nodes):
            self._rank, self._cyclic = None, True
        else:
            self._rank, self._next = rank, len(rank)
            self._freed.clear()
