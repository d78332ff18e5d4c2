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
        self._types = Counter(node.type for node in graph.nodes())
        self._looked: dict[str, tuple] = {}
        for node in graph.nodes():
            self._note_sharing(node.id, node.shares)
        self._handlers = {
            "node_added": self._on_node_added,
            "node_removed": self._on_node_removed,
            "edge_added": self._on_edge,
            "edge_removed": self._on_edge,
            "params_changed": self._on_params_changed,
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
        self._dirty |= {node_id, *self._sharers.get(node_id, ()), *(e.target for e in self.graph.out_edges(node_id))}

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
        self._looked = {}  # a node and its own problems, looked at once while checking it and what it feeds
        for node_id in self._dirty:
            problems = self._check(node_id) if self.graph.has_node(node_id) else []
            if problems:
                self._problems[node_id] = problems
            else:
                self._problems.pop(node_id, None)
        self._dirty.clear()
        self._looked = {}
        troubled = sorted(self._problems, key=self.graph.index_of) if len(self._problems) <= 8 else \
            [node_id for node_id in self.graph.node_ids() if node_id in self._problems]  # in document order
        errors = [error for node_id in troubled for error in self._problems[node_id]]
        return errors + self._presence() + cycle_errors(self.graph, acyclic=self.graph.topological_rank() is not None)

    def _presence(self) -> list[GraphError]:
        if self._types["Input"] > 0 and any(count and not _is_data(name, self.graph.custom_types) for name, count in self._types.items()):
            return []
        return presence_errors(self.graph.nodes())

    def _look(self, node_id: str):
        """(node, its own problems, its ports), once per `errors()` call."""
        if node_id not in self._looked:
            node = self.graph.node(node_id)
            self._looked[node_id] = (node, *node_problems(node))
        return self._looked[node_id]

    def _check(self, node_id: str) -> list[GraphError]:
        node, own, ports = self._look(node_id)
        errors = list(own)
        incoming = self.graph.in_edges(node_id)
        nodes = {node_id: node}
        ports_in, ports_out = ({node_id: ports[0]}, {node_id: ports[1]}) if ports else ({}, {})
        for edge in incoming:
            if edge.source not in nodes:
                nodes[edge.source], _problems, source_ports = self._look(edge.source)
                if source_ports is not None:
                    ports_out[edge.source] = source_ports[1]
        fed: dict[str, list[str]] = {}
        for edge, count in Counter(incoming).items():
            errors += edge_problems(nodes, ports_in, ports_out, edge, count)
            fed.setdefault(edge.target_port, []).append(edge.source)
        for port, sources in fed.items():
            errors += fed_twice(node, port, sources)
        if ports:
            errors += missing_inputs(node, ports[0], set(fed))
        owner = self.graph.node(node.shares) if node.shares and self.graph.has_node(node.shares) else None
        return errors + sharing_error(node, owner)


def _is_data(type_name: str, custom_types) -> bool:
    from graphs.catalogue import CATALOGUE

    spec = CATALOGUE.get(type_name) or custom_types.get(type_name)
    return spec is None or spec.is_data
