"""Shape inference over a whole graph, incremental for live feedback.

`ShapeInference(graph)` mirrors the document through its events and keeps each
node's result keyed by its input specs, so after a one-node edit only that node
and the descendants whose inputs actually changed are recomputed. `infer(graph)`
is the one-shot form. Structural problems come from `graphs.validate`; a node
whose inputs are unknown (open port, upstream error) is simply left without
shapes, so one mistake is reported once, on the node that causes it.
This module imports no torch.
"""

from __future__ import annotations

import functools
import heapq
from dataclasses import dataclass, field, replace

from engine.shape_rules import NodeInfo, TensorSpec, fmt, infer_node
from graphs.catalogue import node_type
from graphs.document import Graph
from graphs.errors import GraphError, ShapeError
from graphs.live_validation import LiveValidation
from graphs.node_type import SHARES
from graphs.validate import sharing_size_errors, validate

__all__ = ["InferenceResult", "ShapeInference", "TensorSpec", "fmt", "infer"]


@dataclass
class InferenceResult:
    """Shapes, params and MACs per node, and every error (structural and shape)."""

    info: dict[str, NodeInfo] = field(default_factory=dict)  # only nodes that were inferred
    inputs: dict[str, dict[str, TensorSpec]] = field(default_factory=dict)
    errors: list[GraphError] = field(default_factory=list)
    # a graph with units: its expansion (`graphs.units.Expanded`) and the result on the flat graph
    expanded: object = None
    flat: InferenceResult | None = None

    @property
    def valid(self) -> bool:
        return not self.errors

    def output_shapes(self, node_id: str) -> dict[str, tuple] | None:
        info = self.info.get(node_id)
        return None if info is None else {port: spec.shape for port, spec in info.outputs.items()}

    @functools.cached_property
    def errors_by_node(self) -> dict[str | None, list[GraphError]]:
        """The errors grouped by the node they name (None: the graph as a whole), read once the
        result is complete."""
        grouped: dict[str | None, list[GraphError]] = {}
        for error in self.errors:
            grouped.setdefault(error.node, []).append(error)
        return grouped

    def errors_for(self, node_id: str) -> list[GraphError]:
        return self.errors_by_node.get(node_id, [])

    @property
    def total_params(self) -> int:
        return sum(i.params for i in self.info.values())

    @property
    def total_macs(self) -> int:
        return sum(i.macs for i in self.info.values())


class ShapeInference:
    """Live shape inference for one graph; call `result()` after edits.

    Each node keeps its last inputs and outcome (its NodeInfo or its ShapeError). An edit marks the
    nodes it touches; inference then revisits only those, in topological order, and goes on to a
    node's consumers only when the node's outcome changed. The topological ranks are kept across
    edits and recomputed only when a new wire runs against them (or a cycle may have changed), so
    a param edit on a 10,000-node model visits a handful of nodes."""

    def __init__(self, graph: Graph, live_validation: bool = True):
        """`live_validation` keeps the structural checks up to date edit by edit (the editor); without it
        `result()` validates the whole graph each time (a one-shot inference)."""
        self.graph = graph
        self._validation = LiveValidation(graph) if live_validation else None
        self._units = None  # a LiveUnitsInference, once the graph uses units
        self._types: dict[str, str] = {}
        self._params: dict[str, dict] = {}
        self._shares: dict[str, str] = {}  # a sharing node -> the node whose weights it uses
        self._sources: dict[str, dict[str, tuple[str, str]]] = {}  # node -> in port -> (src, src port)
        self._consumers: dict[str, set[str]] = {}  # node -> the nodes its wires feed
        self._ports: dict[str, list[str]] = {}
        self._rank: dict[str, int] = {}  # topological rank; nodes on a cycle have none
        self._ranks_valid = False
        self._next_rank = 0
        self._dirty: set[str] = set()
        self._cache: dict[str, tuple] = {}  # node -> (input key, NodeInfo or ShapeError)
        self._info: dict[str, NodeInfo] = {}  # the current outcome of every inferred node
        self._inputs: dict[str, dict[str, TensorSpec]] = {}
        self._errors: dict[str, ShapeError] = {}
        for node in graph.nodes():
            self._on_node_added(node)
        for edge in graph.edges():
            self._on_edge_added(edge)
        graph.node_added.sub(self._on_node_added)
        graph.node_removed.sub(self._on_node_removed)
        graph.edge_added.sub(self._on_edge_added)
        graph.edge_removed.sub(self._on_edge_removed)
        graph.params_changed.sub(self._on_params_changed)

    def close(self) -> None:
        """Stop observing the graph."""
        if self._validation is not None:
            self._validation.close()
        if self._units is not None:
            self._units.close()
        self.graph.node_added.unsub(self._on_node_added)
        self.graph.node_removed.unsub(self._on_node_removed)
        self.graph.edge_added.unsub(self._on_edge_added)
        self.graph.edge_removed.unsub(self._on_edge_removed)
        self.graph.params_changed.unsub(self._on_params_changed)

    # ---- mirror of the document ----------------------------------------
    def _on_node_added(self, node) -> None:
        self._types[node.id] = node.type
        self._set_params(node.id, node.params)
        self._sources[node.id] = {}
        self._consumers.setdefault(node.id, set())
        if self._ranks_valid:  # no wires yet: last in the order is as good as anywhere
            self._rank[node.id] = self._next_rank
            self._next_rank += 1
        self._dirty.add(node.id)

    def _set_params(self, node_id: str, params: dict) -> None:
        try:
            spec = node_type(self._types[node_id], node_id, self.graph.custom_types)
            resolved = spec.resolve_params(params, node_id)
        except GraphError:  # a unit instance (a graph with units is inferred as its expansion), or params that
            # a unit param made wrong in an expansion (validation reports them): no shapes
            self._params[node_id], self._ports[node_id] = None, []
            self._shares.pop(node_id, None)
            self._cache.pop(node_id, None)
            self._dirty.add(node_id)
            return
        self._params[node_id] = resolved
        if params.get(SHARES):
            self._shares[node_id] = params[SHARES]
        else:
            self._shares.pop(node_id, None)
        self._ports[node_id] = spec.input_ports(resolved)
        self._cache.pop(node_id, None)
        self._dirty.add(node_id)

    def _on_node_removed(self, node) -> None:
        for table in (self._types, self._params, self._shares, self._sources, self._ports, self._cache,
                      self._info, self._inputs, self._errors, self._consumers):
            table.pop(node.id, None)
        if self._rank.pop(node.id, None) is None:  # it was on a cycle, which is now broken
            self._ranks_valid = False
        self._dirty.discard(node.id)

    def _on_edge_added(self, edge) -> None:
        if self._sources[edge.target].setdefault(edge.target_port, (edge.source, edge.source_port)) == \
                (edge.source, edge.source_port):  # a second wire into a port (a loaded file) is not followed
            self._consumers.setdefault(edge.source, set()).add(edge.target)
        self._cache.pop(edge.target, None)
        self._dirty.add(edge.target)
        ranks = self._rank
        if edge.source not in ranks or edge.target not in ranks or ranks[edge.source] >= ranks[edge.target]:
            self._ranks_valid = False

    def _on_edge_removed(self, edge) -> None:
        ports = self._sources.get(edge.target, {})
        if ports.get(edge.target_port) == (edge.source, edge.source_port):
            del ports[edge.target_port]
            for other in self.graph.in_edges(edge.target):  # a loaded file may have fed it twice
                if other.target_port == edge.target_port:
                    ports[edge.target_port] = (other.source, other.source_port)
                    self._consumers.setdefault(other.source, set()).add(edge.target)
                    self._ranks_valid = False
        if edge.source in self._consumers and not any(source == edge.source for source, _ in ports.values()):
            self._consumers[edge.source].discard(edge.target)
        self._cache.pop(edge.target, None)
        self._dirty.add(edge.target)
        if edge.source not in self._rank or edge.target not in self._rank:
            self._ranks_valid = False  # a wire of a cycle: the cycle may be broken

    def _on_params_changed(self, node_id, _old, new) -> None:
        self._set_params(node_id, new)

    def _topological_order(self) -> list[str]:
        """Every node not on a cycle, after its inputs."""
        self._update_ranks()
        return sorted(self._rank, key=self._rank.__getitem__)

    def _update_ranks(self) -> None:
        """Kahn's algorithm over the mirror, when an edit made the kept ranks wrong; a node that joins or
        leaves a cycle is revisited."""
        if self._ranks_valid:
            return
        indegree = {n: 0 for n in self._types}
        successors: dict[str, list[str]] = {n: [] for n in self._types}
        for target, ports in self._sources.items():
            for source in {source for source, _ in ports.values()}:
                indegree[target] += 1
                successors[source].append(target)
        ready = [n for n, d in indegree.items() if d == 0]
        rank: dict[str, int] = {}
        while ready:
            current = ready.pop(0) if len(ready) < 64 else ready.pop()
            rank[current] = len(rank)
            for nxt in successors[current]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    ready.append(nxt)
        for node_id in self._types:
            if (node_id in rank) != (node_id in self._rank):
                self._dirty.add(node_id)
                self._dirty.update(self._consumers.get(node_id, ()))
        self._rank, self._ranks_valid, self._next_rank = rank, True, len(rank)

    # ---- inference -------------------------------------------------------
    def infer_shapes(self) -> InferenceResult:
        """Shapes and shape errors only (no structural validation): the fast path."""
        if self.graph.uses_units():
            result = self._units_result()
            result.errors = [e for e in result.errors if isinstance(e, ShapeError)]
            return result
        self._update_ranks()
        rank = self._rank
        queue = [(rank[n], n) for n in self._dirty if n in rank]
        for node_id in self._dirty:
            if node_id not in rank:  # on a cycle: never inferred
                self._forget(node_id)
        self._dirty.clear()
        heapq.heapify(queue)
        queued = {n for _, n in queue}
        while queue:
            _, node_id = heapq.heappop(queue)
            queued.discard(node_id)
            if self._visit(node_id):
                for consumer in self._consumers.get(node_id, ()):
                    if consumer in rank and consumer not in queued:
                        queued.add(consumer)
                        heapq.heappush(queue, (rank[consumer], consumer))
        errors = sorted(self._errors.items(), key=lambda item: rank[item[0]])
        return InferenceResult(dict(self._info), dict(self._inputs), [error for _, error in errors])

    def _visit(self, node_id: str) -> bool:
        """Infer one node from its sources' current outcomes; whether its own outcome changed."""
        before = (self._info.get(node_id), self._errors.get(node_id))
        if self._params[node_id] is None:
            self._forget(node_id)
            return before != (None, None)
        inputs = {}
        own_type = node_type(self._types[node_id], node_id, self.graph.custom_types)
        optional = own_type.optional
        for port in self._ports[node_id]:
            source = self._sources[node_id].get(port)
            if source is None and port in optional:
                continue  # an open optional port: the rule sees it absent
            info = self._info.get(source[0]) if source else None
            spec = info.outputs.get(source[1]) if info else None
            if spec is None:
                self._forget(node_id)
                break
            inputs[port] = spec
        else:
            key = tuple(inputs.items())  # with the port names: optional ports may be left open
            cached = self._cache.get(node_id)
            if cached is None or cached[0] != key:
                try:
                    outcome = infer_node(node_id, self._types[node_id], self._params[node_id], inputs, own_type.op)
                except ShapeError as error:
                    outcome = error
                cached = (key, outcome)
                self._cache[node_id] = cached
            self._inputs[node_id] = inputs
            if isinstance(cached[1], ShapeError):
                self._info.pop(node_id, None)
                self._errors[node_id] = cached[1]
            else:
                self._errors.pop(node_id, None)
                self._info[node_id] = cached[1]
        after = (self._info.get(node_id), self._errors.get(node_id))
        return before[0] is not after[0] or before[1] is not after[1]

    def _forget(self, node_id: str) -> None:
        for table in (self._info, self._inputs, self._errors):
            table.pop(node_id, None)

    def result(self) -> InferenceResult:
        """Structural errors first, then shape errors, then shapes for every node that has them. A graph
        with units is expanded and inferred whole each time (`engine.unit_shapes`)."""
        if self.graph.uses_units():
            return self._units_result()
        result = self.infer_shapes()
        if self._validation is None:
            structural = validate(self.graph)
        else:
            self._update_ranks()  # ranks that reach every node prove there is no cycle
            structural = self._validation.errors(acyclic=len(self._rank) == len(self._types) or None)
        result.errors = structural + result.errors + self._sharing_errors(result)
        return result

    def _units_result(self) -> InferenceResult:
        """A graph with units: inferred as its expansion, kept live between edits in the editor."""
        if self._validation is None:
            return infer_units(self.graph)
        if self._units is None:
            from engine.unit_shapes import LiveUnitsInference

            self._units = LiveUnitsInference(self.graph)
        return self._units.result()

    def _sharing_errors(self, result: InferenceResult) -> list[GraphError]:
        """Sharing nodes whose weights would not fit those they share; their weights are counted once, on the
        node that owns them."""
        sharing = [self.graph.node(node_id) for node_id in self._shares]
        involved = {node.id for node in sharing} | set(self._shares.values())
        inputs = {node_id: {port: spec.shape for port, spec in result.inputs[node_id].items()}
                  for node_id in involved if node_id in result.inputs}
        errors = sharing_size_errors(self.graph, sharing, inputs,
                                     {node_id: result.info[node_id].params for node_id in involved
                                      if node_id in result.info})
        for node_id in self._shares:
            if node_id in result.info:
                result.info[node_id] = replace(result.info[node_id], params=0)
        return errors


def infer(graph: Graph) -> InferenceResult:
    if graph.uses_units():
        return infer_units(graph)
    inference = ShapeInference(graph, live_validation=False)
    try:
        return inference.result()
    finally:
        inference.close()


def infer_units(graph: Graph) -> InferenceResult:
    from engine.unit_shapes import infer_units as infer_expanded

    return infer_expanded(graph)


def describe(error: GraphError) -> str:
    """`node 'conv2': message` for the CLI."""
    return f"node '{error.node}': {error.message}" if error.node else error.message


_ = fmt  # re-exported
