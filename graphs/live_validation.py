"""Structural validation kept up to date edit by edit, for the editor.

`validate(graph)` checks a whole graph; on a model of thousands of nodes that is too slow to
run after every edit. `LiveValidation` observes the document's events, as the engine's
`ShapeInference` does, and re-checks only the nodes an edit can affect: the node itself, the
nodes its wires feed (their ports and the data flow depend on it), and the nodes that share its
weights. Each node's problems (its own, its incoming wires', its open inputs, its sharing) are
kept per node; the whole-graph checks (an Input exists, something follows it, no cycle) are
cheap counts, and the topological order the document keeps (`Graph.topological_rank`) proves there is
no cycle.
`errors()` returns the same problems as `validate(graph)` (the tests compare them after
random edits), grouped by node.
"""

from __future__ import annotations

from collections import Counter
from itertools import repeat
from operator import is_, methodcaller

from graphs.document import Graph
from graphs.errors import GraphError
from graphs.validate import (
    cycle_errors,
    edge_problems,
    fed_twice,
    missing_inputs,
    node_problems,
    presence_errors,
    sharing_error,
)


class LiveValidation:
    """The structural problems of `graph`, updated from its events; call `errors()` after edits."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self._problems: dict[str, list[GraphError]] = {}  # only the nodes that have any
        self._dirty: set[str] = set(graph.node_ids())
        self._sharers: dict[str, set[str]] = {}  # owner id -> the nodes that name it in "shares"
        self._types = Counter(node.type for node in graph.live_nodes())
        self._looked: dict[str, tuple] = {}
        # a node's (input ports, output ports) when last looked at (None: its params did not resolve), and the
        # nodes whose params changed since (-> theirs before): such a node is checked again whole only where it
        # had problems or its ports changed (nothing else of its problems reads its params), and what it feeds
        # only where its output ports changed (all they read of it)
        self._ports: dict[str, tuple | None] = {}
        self._retuned: dict[str, object] = {}
        self._renewed: list[tuple[list[str], tuple]] = []  # groups of layers renewed alike, and their ports before
        self._distinct: dict = {}
        for node in graph.live_nodes():
            self._note_sharing(node.id, node.shares)
        self._handlers = {
            "node_added": self._on_node_added,
            "node_removed": self._on_node_removed,
            "edge_added": self._on_edge,
            "edge_removed": self._on_edge,
            "params_changed": self._on_params_changed,
            "params_renewed": self._on_params_renewed,
        }
        for name, handler in self._handlers.items():
            getattr(graph, name).sub(handler)

    def close(self) -> None:
        """Stop observing the graph."""
        for name, handler in self._handlers.items():
            getattr(self.graph, name).unsub(handler)

    # ---- what an edit can affect -------------------------------------------------
    def _on_node_added(self, node) -> None:
        self._types[node.type] += 1
        self._note_sharing(node.id, node.shares)
        self._dirty |= {node.id, *self._sharers.get(node.id, ())}

    def _on_node_removed(self, node) -> None:
        self._ports.pop(node.id, None)
        self._types[node.type] -= 1
        self._forget_sharing(node.id, node.shares)
        self._problems.pop(node.id, None)
        self._dirty.discard(node.id)
        self._dirty |= self._sharers.get(node.id, set())

    def _on_edge(self, edge) -> None:
        self._dirty |= {edge.source, edge.target}

    def _on_params_changed(self, node_id, old, new) -> None:
        self._forget_sharing(node_id, old.get("shares"))
        self._note_sharing(node_id, new.get("shares"))
        self._dirty |= self._sharers.get(node_id, set())
        if old.get("shares") or new.get("shares"):
            self._dirty.add(node_id)
        self._retuned.setdefault(node_id, self._ports.get(node_id, _UNSEEN))

    def _on_params_renewed(self, groups) -> None:
        """Many layers' params replaced at once (`Graph.params_renewed`). A group of layers of one type, given one
        params object, that had no problems and the same ports is kept as a group: `errors()` looks at one of
        them, and at the others only if that one's problems or ports changed."""
        sharing = any(self._sharers.values())  # (else no old params name an owner: not read)
        # (ports are compared by identity: `_one` keeps one object for equal ports)
        for node_ids, olds, params in groups:
            ports = self._ports.get(node_ids[0], _UNSEEN)
            if len(node_ids) > 1 and ports is not _UNSEEN and not params.get("shares") and \
                    not (sharing and any(map(_SHARES, olds))) and \
                    all(map(is_, repeat(ports), map(self._ports.get, node_ids, repeat(_UNSEEN)))) and \
                    (not self._problems or self._problems.keys().isdisjoint(node_ids)) and \
                    (not self._retuned or self._retuned.keys().isdisjoint(node_ids)):
                self._renewed.append((node_ids, ports))
            else:
                for node_id, old in zip(node_ids, olds):
                    self._on_params_changed(node_id, old, params)

    def _note_sharing(self, node_id: str, owner: str | None) -> None:
        if owner:
            self._sharers.setdefault(owner, set()).add(node_id)

    def _forget_sharing(self, node_id: str, owner: str | None) -> None:
        if owner and owner in self._sharers:
            self._sharers[owner].discard(node_id)

    # ---- the problems ------------------------------------------------------------
    def errors(self) -> list[GraphError]:
        """Every structural problem. A graph with units is checked whole, as its expansion (the per-node
        problems stay marked for when it has none again)."""
        if self.graph.uses_units():
            from graphs.validate import validate

            return validate(self.graph)
        # the nodes looked at while checking the dirty ones, each once: the node, its own problems, its ports
        self._looked, self._ports_in, self._ports_out = {}, {}, {}
        for node_ids, ports in self._renewed:
            self._retuned.update(self._regrouped(node_ids, ports))
        self._renewed.clear()
        for node_id in self._dirty:
            self._recheck(node_id)
        for node_id, ports in self._retuned.items():
            if not self.graph.has_node(node_id):
                continue
            if node_id not in self._dirty:
                own = self._look(node_id)[1]
                if own or node_id in self._problems or ports is _UNSEEN or self._ports[node_id] != ports:
                    self._dirty.add(node_id)
                    self._recheck(node_id)
            if ports is _UNSEEN or (self._ports[node_id] or (None, None))[1] != (ports or (None, None))[1]:
                for edge in self.graph.out_edges(node_id):
                    if edge.target not in self._dirty:
                        self._dirty.add(edge.target)
                        self._recheck(edge.target)
        self._dirty.clear()
        self._retuned.clear()
        self._looked, self._ports_in, self._ports_out = {}, {}, {}
        troubled = sorted(self._problems, key=self.graph.index_of) if len(self._problems) <= 8 else \
            [node_id for node_id in self.graph.node_ids() if node_id in self._problems]  # in document order
        errors = [error for node_id in troubled for error in self._problems[node_id]]
        return errors + self._presence() + cycle_errors(self.graph, acyclic=self.graph.topological_rank() is not None)

    def _regrouped(self, node_ids: list[str], ports) -> dict:
        """The layers of a renewed group to look at one by one (-> their ports before): none where one of them,
        looked at, still has no problems and the same ports (the others, of its type and params, then too)."""
        first = next((node_id for node_id in node_ids if self.graph.has_node(node_id)), None)
        if first is None:
            return {}
        if first not in self._dirty and first not in self._retuned:
            own = self._look(first)[1]
            if not own and self._ports[first] == ports:
                return {}
        return {node_id: self._retuned.get(node_id, ports) for node_id in node_ids if self.graph.has_node(node_id)}

    def _recheck(self, node_id: str) -> None:
        problems = self._check(node_id) if self.graph.has_node(node_id) else []
        if problems:
            self._problems[node_id] = problems
        else:
            self._problems.pop(node_id, None)

    def _presence(self) -> list[GraphError]:
        if self._types["Input"] > 0 and any(count and not _is_data(name, self.graph.custom_types) for name, count in self._types.items()):
            return []
        return presence_errors(self.graph.live_nodes())

    def _look(self, node_id: str):
        """(node, its own problems), once per `errors()` call; its ports go to `_ports_in` and `_ports_out`."""
        looked = self._looked.get(node_id)
        if looked is None:
            node = self.graph.live_node(node_id)  # read only (as validate's checks do)
            own, ports = node_problems(node)
            # the ports as one tuple for all the nodes alike: thousands of nodes checked at once (every copy of a
            # Repeat edited) then leave no lists behind for the collector to walk
            ins, outs = (None, None) if ports is None else (self._one(tuple(ports[0])), self._one(tuple(ports[1])))
            if ports is not None:
                self._ports_in[node_id], self._ports_out[node_id] = ins, outs
            self._ports[node_id] = None if ports is None else self._one((ins, outs))
            looked = self._looked[node_id] = (node, own or ())
        return looked

    def _one(self, ports: tuple) -> tuple:
        return self._distinct.setdefault(ports, ports)

    def _check(self, node_id: str) -> list[GraphError]:
        """The node's own problems, its incoming wires', its open inputs' and its sharing's."""
        node, own = self._look(node_id)
        errors = list(own)
        ports_in, ports_out = self._ports_in, self._ports_out
        nodes = {node_id: node}  # and its sources: what edge_problems reads
        fed: dict[str, list[str]] = {}
        for edge in self.graph.in_edges(node_id):  # each wire once: the document keeps no duplicates
            nodes[edge.source] = self._look(edge.source)[0]
            errors += edge_problems(nodes, ports_in, ports_out, edge, 1)
            fed.setdefault(edge.target_port, []).append(edge.source)
        for port, sources in fed.items():
            if len(sources) > 1:
                errors += fed_twice(node, port, sources)
        if node_id in ports_in:
            errors += missing_inputs(node, ports_in[node_id], fed)
        if node.shares is not None:
            owner = self.graph.live_node(node.shares) if node.shares and self.graph.has_node(node.shares) else None
            errors += sharing_error(node, owner)
        return errors


_UNSEEN = object()  # a node's output ports before it was looked at
_SHARES = methodcaller("get", "shares")


def _is_data(type_name: str, custom_types) -> bool:
    from graphs.catalogue import CATALOGUE

    spec = CATALOGUE.get(type_name) or custom_types.get(type_name)
    return spec is None or spec.is_data
