"""Structural validation of a whole graph, with networkx.

`validate(graph)` lists every structural problem as a typed `GraphError` carrying
the node id (and port): cycles, unknown ports, a port connected twice, a required
input left open, a loss missing its input or target, a Target or a loss feeding
anything but a loss's target port, no Input node or nothing after it, a node
sharing the weights of a node that is missing, of another type or params, or
itself sharing. An empty list means the graph is ready for shape inference and
compiles. `sharing_size_errors` checks, once shapes are inferred, that a
sharing node's weights would have the same sizes as those it shares.
"""

from __future__ import annotations

import heapq
from collections import Counter

from graphs.catalogue import CATALOGUE
from graphs.document import Graph
from graphs.errors import (
    CycleError,
    DataFlowError,
    DuplicateEdgeError,
    GraphError,
    LossInputError,
    MissingInputError,
    NoInputNodeError,
    NoOutputError,
    ParamError,
    PortAlreadyConnectedError,
    UnknownNodeTypeError,
    UnknownPortError,
    quoted,
)
from graphs.node_type import SHARES


def to_networkx(graph: Graph):
    """The graph as a networkx MultiDiGraph (networkx is imported here, off the start-up path)."""
    import networkx as nx

    g = nx.MultiDiGraph()
    g.add_nodes_from(graph.node_ids())
    for e in graph.edges():
        g.add_edge(e.source, e.target, source_port=e.source_port, target_port=e.target_port)
    return g


def topological_order(graph: Graph) -> list[str]:
    """Node ids, every node after its inputs; ties keep the document's order (nodes on a
    cycle are left out). Pure Python, so the editor needn't import networkx to list nodes."""
    rank = {node_id: i for i, node_id in enumerate(graph.node_ids())}
    indegree = dict.fromkeys(rank, 0)
    successors: dict[str, list[str]] = {}
    for edge in graph.edges():
        indegree[edge.target] += 1
        successors.setdefault(edge.source, []).append(edge.target)
    ready = [(rank[n], n) for n, degree in indegree.items() if degree == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for nxt in successors.get(node, ()):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, (rank[nxt], nxt))
    return order


def known_type(node) -> bool:
    """Whether the node's type is a catalogue type or one of the project's own (graphs.custom_types)."""
    return node.type in CATALOGUE or (node.scope is not None and node.type in node.scope.custom_types)


def validate(graph: Graph) -> list[GraphError]:
    """Every structural problem of `graph`. A graph with units is checked as its expansion (see
    `graphs.units.expand`), each problem inside an instance moved onto the instance."""
    if graph.uses_units():
        from graphs.units.expand import expand

        expanded = expand(graph)
        if not expanded.complete:
            return expanded.errors
        return expanded.errors + expanded.map_errors(_validate_flat(expanded.graph))
    return _validate_flat(graph)


def _validate_flat(graph: Graph) -> list[GraphError]:
    errors: list[GraphError] = []
    nodes = {n.id: n for n in graph.live_nodes()}  # read only
    ports_in: dict[str, list[str]] = {}
    ports_out: dict[str, list[str]] = {}
    for node in nodes.values():
        problems, ports = node_problems(node)
        errors += problems
        if ports is not None:
            ports_in[node.id], ports_out[node.id] = ports
    errors += presence_errors(nodes.values())

    edge_counts = Counter(graph.edges())
    fed: dict[tuple[str, str], list[str]] = {}
    for edge, count in edge_counts.items():
        errors += edge_problems(nodes, ports_in, ports_out, edge, count)
        fed.setdefault((edge.target, edge.target_port), []).append(edge.source)
    for (target, port), sources in fed.items():
        errors += fed_twice(nodes[target], port, sources)
    fed_ports: dict[str, set[str]] = {}
    for target, port in fed:
        fed_ports.setdefault(target, set()).add(port)
    for node_id, ports in ports_in.items():
        errors += missing_inputs(nodes[node_id], ports, fed_ports.get(node_id, set()))
    errors += _sharing_errors(nodes)
    errors += cycle_errors(graph)
    return errors


def node_problems(node) -> tuple[list[GraphError], tuple[list[str], list[str]] | None]:
    """A node's own problems (an unknown type, params that don't resolve) and its (input, output) ports."""
    if not known_type(node):
        return [UnknownNodeTypeError(f"node '{node.id}' has unknown type {node.type!r}", node=node.id)], None
    try:
        params = node.scope.resolved_of(node) if node.scope is not None else node.resolved_params()
        spec = node.spec
        return [], (spec.input_ports(params), spec.output_ports(params))
    except GraphError as error:
        return [error], None


def presence_errors(nodes) -> list[GraphError]:
    """No Input node, or nothing but data nodes."""
    nodes = list(nodes)
    if not any(n.type == "Input" for n in nodes):
        return [NoInputNodeError("the graph has no Input node: add one from the Data category")]
    if all(n.spec.is_data for n in nodes if known_type(n)):
        return [NoOutputError("the graph has no output: connect a layer after the Input")]
    return []


def edge_problems(nodes: dict, ports_in: dict, ports_out: dict, edge, count: int) -> list[GraphError]:
    """A wire made more than once, from or into a port its node doesn't have, or against the data flow."""
    errors: list[GraphError] = []
    if count > 1:
        errors.append(DuplicateEdgeError(f"'{edge.source}' is wired to '{edge.target}.{edge.target_port}' "
                                         f"{count} times", node=edge.target, port=edge.target_port))
    if edge.source in ports_out and edge.source_port not in ports_out[edge.source]:
        errors.append(UnknownPortError(
            f"{nodes[edge.source].type} '{edge.source}' has no output port '{edge.source_port}'",
            node=edge.source, port=edge.source_port))
    if edge.target in ports_in and edge.target_port not in ports_in[edge.target]:
        errors.append(UnknownPortError(
            f"{nodes[edge.target].type} '{edge.target}' has no input port '{edge.target_port}' "
            f"(its inputs: {', '.join(ports_in[edge.target]) or 'none'})", node=edge.target,
            port=edge.target_port))
    return errors + _data_flow(nodes, edge)


def fed_twice(target, port: str, sources: list[str]) -> list[GraphError]:
    if len(set(sources)) < 2:
        return []
    return [PortAlreadyConnectedError(
        f"{target.type} '{target.id}' input '{port}' is connected more than once "
        f"(from {', '.join(repr(s) for s in sources)}); an input takes one wire", node=target.id, port=port)]


def missing_inputs(node, ports: list[str], fed_ports: set[str]) -> list[GraphError]:
    """The required input ports of `node` that no wire feeds."""
    errors: list[GraphError] = []
    spec = None
    for port in ports:
        if port in fed_ports:
            continue
        spec = spec or node.spec
        if port in spec.optional:
            continue
        if spec.is_loss:
            what = {"input": "input (the model output)", "target": "target (a Target node)"}.get(
                port, f"'{port}' input")
            errors.append(LossInputError(
                f"{node.type} '{node.id}' has no {what}: wire one to its '{port}' port", node=node.id, port=port))
        else:
            errors.append(MissingInputError(
                f"{node.type} '{node.id}' input '{port}' is not connected", node=node.id, port=port))
    return errors


def cycle_errors(graph: Graph, acyclic: bool | None = None) -> list[GraphError]:
    """The first cycle found, if any (`acyclic`, when the caller already knows, skips the check)."""
    if acyclic if acyclic is not None else not _has_cycle(graph):
        return []
    import networkx as nx  # only for a cycle: networkx costs ~0.5 s to import next to Qt

    for cycle in nx.simple_cycles(nx.DiGraph(to_networkx(graph))):
        path = " -> ".join([*cycle, cycle[0]])
        return [CycleError(f"the graph has a cycle: {path}; remove one of its wires", node=cycle[0])]
    return []


def _data_flow(nodes: dict, edge) -> list[GraphError]:
    """Labels (a Target) only go to a loss's ports (a target, or data such as CTC's targets), and a
    loss's value goes nowhere: the model computes from Inputs alone, and losses are applied outside it."""
    source, target = nodes.get(edge.source), nodes.get(edge.target)
    if source is None or target is None or not known_type(source) or not known_type(target):
        return []
    if source.type == "Target" and not target.spec.is_loss:
        return [DataFlowError(f"{target.type} '{target.id}' input '{edge.target_port}' is fed by Target "
                              f"'{source.id}': labels only go to a loss's target port", node=target.id,
                              port=edge.target_port)]
    if source.spec.is_loss:
        return [DataFlowError(f"{target.type} '{target.id}' input '{edge.target_port}' is fed by the loss "
                              f"'{source.id}': a loss's value cannot feed other nodes", node=target.id,
                              port=edge.target_port)]
    return []


def _sharing_errors(nodes: dict) -> list[GraphError]:
    """A node shares the weights of another node of its type and params; it always names the node that
    owns them (no chains), so the compiled model calls that one module and holds the weights once."""
    return [error for node in nodes.values() for error in sharing_error(node, nodes.get(node.shares))]


def sharing_error(node, owner) -> list[GraphError]:
    """The problem with `node` sharing the weights of `owner` (None when no node has the id it names)."""
    owner_id = node.shares
    if owner_id is None or not known_type(node):
        return []
    about = f"{node.type} '{node.id}' shares the weights of {quoted(owner_id)}"
    if owner_id == node.id:
        problem = "itself; pick another node or none"
    elif owner is None:
        problem = "there is no such node; pick another node or none"
    elif owner.type != node.type:
        problem = f"a {owner.type}; a node can only share the weights of a node of its own type"
    elif node.spec.is_data or node.spec.is_loss:
        problem = f"but {node.type} nodes have no weights to share"
    elif owner.shares is not None:
        problem = f"which itself shares those of {quoted(owner.shares)}; share '{owner.shares}' directly"
    elif _without_sharing(owner.params) != _without_sharing(node.params):
        problem = "whose params differ; both must have the same params, as one module computes both"
    else:
        return []
    return [ParamError(f"{about}: {problem}" if owner is None or owner_id == node.id else f"{about}, {problem}",
                       node=node.id, param=SHARES)]


def _without_sharing(params: dict) -> dict:
    return {name: value for name, value in params.items() if name != SHARES}


def sharing_size_errors(graph: Graph, sharing: list, inputs: dict[str, dict[str, tuple]],
                        weight_counts: dict[str, int]) -> list[GraphError]:
    """Errors for the `sharing` nodes (of `graph`) whose weights would have other sizes than the node they
    share (the inferred constructor arguments in_features, in_channels, ... differ), or that share a node with
    no weights. `inputs` maps node id -> port -> the inferred input shape (without the batch), `weight_counts`
    node id -> its number of parameters; nodes without inferred inputs are skipped."""
    errors = []
    for node in sharing:
        owner_id = node.shares
        if owner_id is None or node.id not in inputs or owner_id not in inputs or not graph.has_node(owner_id):
            continue
        if not known_type(node) or graph.node(owner_id).type != node.type or node.spec.is_data \
                or node.spec.is_loss:  # reported by `validate`
            continue
        if weight_counts.get(owner_id) == 0:
            errors.append(ParamError(f"{node.type} '{node.id}' shares the weights of '{owner_id}', but "
                                     f"{node.type} nodes have no weights to share", node=node.id, param=SHARES))
            continue
        ours, theirs = _inferred_sizes(node, inputs[node.id]), _inferred_sizes(node, inputs[owner_id])
        different = [f"{arg} {ours[arg]} here but {theirs[arg]} in '{owner_id}'" for arg in ours
                     if ours[arg] != theirs.get(arg)]
        if different:
            errors.append(ParamError(f"{node.type} '{node.id}' shares the weights of '{owner_id}', but its input "
                                     f"has other sizes: {'; '.join(different)}", node=node.id, param=SHARES))
    return errors


def _inferred_sizes(node, shapes: dict[str, tuple]) -> dict:
    """The constructor arguments a node type infers from its input shapes (what sizes its weights)."""
    params = node.resolved_params()
    sizes = {}
    for arg, (port, index) in node.spec.inferred.items():
        shape = tuple(shapes.get(port, ()))
        if index == "trailing":
            sizes[arg] = shape[len(shape) - params["normalized_dims"]:]
        else:
            sizes[arg] = shape[index] if -len(shape) <= index < len(shape) else None
    return sizes


def _has_cycle(graph: Graph) -> bool:
    return graph.topological_rank() is None  # the order the document keeps (graphs.topological_order)
