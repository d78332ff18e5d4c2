"""The document's node order, edited in place: a node put back at its place, and each node's place kept.

`Graph._nodes` is a dict whose order is the node order (it orders forward()'s inputs and the saved file), and much
of graphs/ reads it as such. Undoing a delete puts a node back mid-order: rebuilding the whole dict for that takes
about 2 ms at 10,000 nodes, so `insert_at` moves only the nodes after that place, at C speed. `NodePlaces` answers
`Graph.places_of` (a delete asks for its node's place, for its undo) from a map of every place, kept valid across
the edits an editor makes most: adding a node last, removing the last node, and removing a node then putting it
back where it was (a delete and its undo, in either order), which shift every place after it and then back. The
model summary keeps its rows' places with one too (`gui.summary_order`, over a list).
"""

from __future__ import annotations

import operator
from itertools import islice

_MAX_REMOVED = 8  # removals kept pending before the map is made anew (each adds a comparison to every look-up)
_MAX_WALKS = 8  # places looked up by a walk over the order before making the map anew pays


def insert_at(nodes: dict, index: int, key, value) -> None:
    """Put `key: value` at `index` in the dict's order (last when `index` is past its end): the entries from there
    on are taken out and put back after it, so it costs the length of the tail, not of the dict."""
    keys = list(islice(nodes, max(0, index), None))
    values = list(map(nodes.pop, keys))
    nodes[key] = value
    nodes.update(zip(keys, values))


class NodePlaces:
    """Each node's index in a node order (a dict's order, as `Graph._nodes`, or a list's), told of every change.

    `_map` holds each node's place as it was before the pending removals (`_removed`, each a node and its place
    when it went, oldest first); a place is read through them: each removal moves the nodes after it up one. A node
    put back where the newest pending removal took it from cancels that removal, so the map is valid again."""

    def __init__(self):
        self._map: dict | None = None  # None: made anew when enough places are asked for
        self._nodes = None  # the dict or list the map is of (graphs.units may put another dict in a graph's place)
        self._removed: list[tuple[str, int]] = []
        self._walks = 0  # places looked up by a walk over the order since the map was dropped

    def of(self, nodes, node_ids) -> dict:
        """The place in `nodes`' order of each of `node_ids` (all of them in `nodes`)."""
        if self._map is None or nodes is not self._nodes or len(self._map) - len(self._removed) != len(nodes):
            self._walks += len(node_ids)  # (graphs.units.expand may add to a graph directly)
            if self._walks <= _MAX_WALKS:  # a few asks: a walk in C each; more before the next such edit: the map
                return {node_id: operator.indexOf(nodes, node_id) for node_id in node_ids}
            self._map, self._removed, self._nodes = {node_id: i for i, node_id in enumerate(nodes)}, [], nodes
        return {node_id: self._place(node_id) for node_id in node_ids}

    def _place(self, node_id: str) -> int:
        place = self._map[node_id]
        for _removed, at in self._removed:
            if place > at:
                place -= 1
        return place

    def added(self, nodes, node_id: str, place: int) -> None:
        """`node_id` was put at `place` in `nodes`."""
        if self._map is None:
            return
        if nodes is not self._nodes:
            self.drop()
        elif self._removed and self._removed[-1] == (node_id, place):
            self._removed.pop()  # back where it was: its place in the map is right again, and every other's
        elif place == len(nodes) - 1 and node_id not in self._map:
            for _removed, at in reversed(self._removed):  # the place that the pending removals make `place`
                if place >= at:
                    place += 1
            self._map[node_id] = place
        else:
            self.drop()

    def removed(self, nodes, node_id: str, place: int | None) -> None:
        """`node_id` was taken out of `nodes`, from `place` (None: unknown)."""
        if self._map is None:
            return
        if place is None or nodes is not self._nodes or len(self._removed) >= _MAX_REMOVED:
            self.drop()
        elif place == len(nodes):  # it was last: no other place moves
            del self._map[node_id]
        else:
            self._removed.append((node_id, place))

    def place_before_removal(self, node_id: str) -> int | None:
        """The node's place, when the map knows it cheaply (to give `removed`)."""
        return self._place(node_id) if self._map is not None and node_id in self._map else None  # (see `of`)

    def drop(self) -> None:
        """The order changed otherwise: places are looked up by walks, then the map is made anew."""
        self._map, self._removed, self._walks, self._nodes = None, [], 0, None
