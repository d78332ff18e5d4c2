"""`expand(graph)`: the flat graph the engine compiles, every unit instance replaced by its layers.

An instance `block` of a unit puts the unit's inner nodes in the flat graph as `block.conv1`; a
`Repeat` `layer1` puts copy i's as `layer1.0.conv1`, `layer1.1.conv1`, ... each copy's output wired
to the next copy's input. Units nest (`stage.block.conv1`). References to unit params are replaced
by the instance's values (a Repeat's copy: the unit's defaults, then the Repeat's params, then its
overrides for that copy), and the UnitInput / UnitOutput nodes are removed, the wires joined through
them. An optional layer whose switch is off in an instance is skipped the same way, its input wired
straight to its consumers. `Expanded.origin(flat_id)` leads back to the node of the model, and `map_error` turns an error
on a flat node into one on that node, naming the inner node: "layer1.0 (BasicBlock) › conv1: ...".
A graph without units is its own expansion.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter
from typing import NamedTuple

from graphs.catalogue import CATALOGUE
from graphs.document import Edge, Graph, Node
from graphs.errors import GraphError, MissingInputError, UnknownPortError, quoted
from graphs.families.units import REPEAT, STRUCTURE, UNIT_INPUT, UNIT_OUTPUT
from graphs.node_type import SHARES
from graphs.unit_registry import REF, RecursiveUnitError, is_ref, repeat_problem
from graphs.units import replay

MAX_EXPANDED_NODES = 200_000  # a Repeat of Repeats could otherwise ask for more nodes than memory holds
SEPARATOR = " › "


class Origin(NamedTuple):
    """Where a flat node comes from: the model's node `outer`, the path inside it (("0", "conv1") for
    copy 0 of a Repeat, ("conv1",) for an instance) and a label for messages. (A named tuple: one is made
    for every node of every copy, and a frozen dataclass is several times slower to make.)"""

    outer: str
    path: tuple[str, ...]
    scope_label: str  # "layer1.0 (BasicBlock)"

    @property
    def label(self) -> str:
        """"layer1.0 (BasicBlock) › conv1": the instance, its unit and the inner node."""
        return f"{self.scope_label}{SEPARATOR}{self.path[-1]}"


@dataclass(frozen=True)
class Scope:
    """One instance (or one Repeat, `unit` then "Repeat"), at any depth: the prefix of its flat ids
    (`layer1.0`), its unit's name, the enclosing scope's prefix ("" for the model) and its unit's doc."""

    prefix: str
    unit: str
    parent: str
    doc: str = ""


@dataclass
class Expanded:
    """The flat graph and the way back (see the module docstring)."""

    graph: Graph
    origins: dict[str, Origin] = field(default_factory=dict)  # only flat nodes inside an instance
    scopes: list[Scope] = field(default_factory=list)  # every instance and Repeat, outer before inner
    outputs: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (instance, port) -> flat
    errors: list[GraphError] = field(default_factory=list)  # problems found while expanding, mapped
    # every scope's (instance, Repeat, copy) output ports: prefix -> port -> the flat (node, port) it gives
    scope_outputs: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    live: bool = False  # `graph` is a kept graph changed into the expansion (see `expand`'s `into`)
    complete: bool = True  # False: the model is too large to expand, and `graph` is empty

    def origin(self, flat_id: str) -> tuple[str, tuple[str, ...]]:
        """(the model's node id, the path inside it); a node of the model itself: (flat_id, ())."""
        found = self.origins.get(flat_id)
        return (found.outer, found.path) if found else (flat_id, ())

    def map_error(self, error: GraphError) -> GraphError:
        """The error moved onto the model's node it comes from, its message naming the inner node."""
        found = self.origins.get(error.node) if isinstance(error.node, str) else None
        if found is None:
            return error
        mapped = copy.copy(error)
        mapped.node, mapped.message = found.outer, f"{found.label}: {error.message}"
        mapped.inner, mapped.inner_port = error.node, error.port  # the flat id, for a view that opens the unit
        # a port of the model's node only where the error is about one of its own ports (an open input)
        mapped.port = error.port if found.path == (error.port,) else None
        mapped.args = (mapped.message,)
        return mapped

    def map_errors(self, errors: list[GraphError]) -> list[GraphError]:
        return [self.map_error(error) for error in errors]

    def members(self, prefix: str) -> list[str]:
        """The flat node ids inside the instance with this prefix."""
        start = prefix + "."
        return [node_id for node_id in self.graph.node_ids() if node_id.startswith(start)]


def expand(graph: Graph, into: Graph | None = None) -> Expanded:
    """The flat graph of `graph` (itself when it uses no units). With `into` (a graph made with
    `Graph(dotted_ids=True)` and kept between calls), that graph is changed into the expansion, edit by
    edit, so that the live checks observing it (`ShapeInference`) redo only what changed; its nodes are then
    in a fresh expansion's order, its wires perhaps not (compile from a fresh one). `graphs.units.live`
    patches such a graph where an edit changes only part of the model."""
    if not graph.uses_units() and into is None:
        return Expanded(graph)
    return _Builder(graph).build(into)


@dataclass
class _Context:
    prefix: str  # of flat ids: "" in the model, "layer1.0." in copy 0 of layer1
    values: dict | None  # the unit params' values (None in the model)
    outer: str | None  # the model's node this scope is inside
    path: tuple[str, ...]
    label: str  # "layer1.0 (BasicBlock)"
    stack: tuple[str, ...]  # the units being expanded, outermost first
    trainable: bool = True
    lr_mult: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)


class _TooLarge(Exception):
    """The expansion would exceed MAX_EXPANDED_NODES (its size so far)."""


class _Builder:
    def __init__(self, graph: Graph):
        self.source = graph
        self.units = graph.units
        self.nodes: list[Node] = []
        self.edges: list[tuple[str, str, str, str]] = []
        self.passthrough: dict[str, str] = {}  # flat id of a port node -> a description for messages
        self.copies: set[int] | None = None  # expand only these copies of a Repeat (graphs.units.live)
        self.bodies: dict[tuple, object] = {}  # unit bodies expanded once, replayed for their likes (replay.key)
        self.base = 0  # the layers expanded outside `nodes` (while a body is recorded)
        self.layers_only = False  # only `nodes` are read (graphs.units.live's params-only patch): replay adds no more
        self.result = Expanded(Graph(dotted_ids=True))
        self.result.graph.custom_types = graph.custom_types  # a custom layer inside a unit (graphs.custom_types)

    def build(self, into: Graph | None) -> Expanded:
        size = self._size(self.source, {})
        try:
            if size > MAX_EXPANDED_NODES:
                raise _TooLarge(size)
            self._scope(self.source, _Context("", None, None, (), "", ()))
        except _TooLarge as too_large:
            self.result.errors = [GraphError(f"the model expands to {too_large.args[0]:,} or more layers; at most "
                                             f"{MAX_EXPANDED_NODES:,} are allowed: lower a Repeat's count")]
            self.result.complete = False
            self.nodes, self.edges, self.result.scopes, self.result.origins = [], [], [], {}
        source_of = {(dst): (src, sport) for src, sport, dst, _ in self.edges if dst in self.passthrough}
        present = {node.id for node in self.nodes}
        wires = {}
        for src, sport, dst, dport in self.edges:
            if dst in self.passthrough:
                continue
            resolved = self._resolve(src, sport, source_of, dst)
            if resolved is not None and resolved[0] in present and dst in present:  # else reported already
                wires[Edge(resolved[0], dst, resolved[1], dport)] = None
        if into is None:
            _fill(self.result.graph, self.nodes, wires)
        else:
            into.custom_types = self.source.custom_types
            _update(into, self.nodes, wires)
            self.result.graph, self.result.live = into, True
        for ports in self.result.scope_outputs.values():
            for port, (src, sport) in list(ports.items()):
                resolved = self._resolve(src, sport, source_of, None)
                if resolved is None:
                    del ports[port]
                else:
                    ports[port] = resolved
        for key, (src, sport) in list(self.result.outputs.items()):
            resolved = self._resolve(src, sport, source_of, None)
            if resolved is None:
                del self.result.outputs[key]
            else:
                self.result.outputs[key] = resolved
        self.result.errors = list(dict.fromkeys(self.result.errors))
        return self.result

    def _size(self, graph: Graph, sizes: dict) -> int:
        """About how many layers `graph` expands to (a count that is a reference reads its default), found
        before expanding anything, so that a Repeat of Repeats asking for millions is refused at once."""
        total = 0
        for node in graph._nodes.values():
            unit = node.params.get("unit") if node.type == REPEAT else node.type
            if node.type in CATALOGUE or unit not in self.units:
                total += 1
                continue
            if unit not in sizes:
                sizes[unit] = 0  # a unit that contains itself is reported while expanding
                sizes[unit] = self._size(self.units[unit].graph, sizes)
            count = graph.concrete(node.params).get("count", 2) if node.type == REPEAT else 1
            total += sizes[unit] * (count if isinstance(count, int) else 1)
            if total > MAX_EXPANDED_NODES:
                return total
        return total

    def _resolve(self, src: str, port: str, source_of: dict, consumer: str | None):
        """The flat (node, port) a value comes from, followed back through unit port nodes."""
        seen = set()
        while src in self.passthrough:
            if src in seen:
                return None
            seen.add(src)
            if src not in source_of:
                if consumer is not None:
                    self._error(MissingInputError(self.passthrough[src], node=src, port=src.rpartition(".")[2]))
                return None
            src, port = source_of[src]
        return src, port

    def _error(self, error: GraphError) -> None:
        self.result.errors.append(self.result.map_error(error))

    def _scope(self, graph: Graph, ctx: _Context) -> None:
        inputs: dict[tuple[str, str], str] = {}  # (node id, port) in this scope -> the flat id wires go to
        outputs: dict[tuple[str, str], tuple[str, str]] = {}
        skipped = self._skipped(graph, ctx)
        for node in graph._nodes.values():
            self._node(graph, node, ctx, skipped, inputs, outputs)
        for edge in graph._edges:
            if edge.source in skipped or edge.target in skipped:
                src = outputs.get((edge.source, edge.source_port), (ctx.prefix + edge.source, edge.source_port))
                dst = inputs.get((edge.target, edge.target_port), ctx.prefix + edge.target)
                self.edges.append((*src, dst, "in" if dst in self.passthrough else edge.target_port))
                continue
            src = outputs.get((edge.source, edge.source_port), (ctx.prefix + edge.source, edge.source_port))
            dst = inputs.get((edge.target, edge.target_port), ctx.prefix + edge.target)
            if (edge.target, edge.target_port) not in inputs and not graph.is_layer(graph._nodes[edge.target].type) \
                    and graph._nodes[edge.target].type != UNIT_OUTPUT:
                self._port_mismatch(graph, edge.target, edge.target_port, "input", ctx)
                continue
            if (edge.source, edge.source_port) not in outputs and not graph.is_layer(graph._nodes[edge.source].type) \
                    and graph._nodes[edge.source].type != UNIT_INPUT:
                self._port_mismatch(graph, edge.source, edge.source_port, "output", ctx)
                continue
            self.edges.append((*src, dst, "in" if dst in self.passthrough else edge.target_port))
        if ctx.outer is None:
            self.result.outputs.update(outputs)

    def _body(self, graph: Graph, ctx: _Context) -> None:
        """Expand a unit's body into `ctx`'s scope, or replay the one expanded alike (graphs.units.replay)."""
        key = replay.key(graph, ctx)
        body = self.bodies.get(key)
        if body is not None:
            replay.replay(self, body, ctx)
        else:
            self.bodies[key] = replay.record(self, graph, ctx)

    def _node(self, graph: Graph, node: Node, ctx: _Context, skipped: dict, inputs: dict, outputs: dict) -> None:
        """Expand one node of `graph` into `ctx`'s prefix (an instance or Repeat: all its layers)."""
        flat_id = ctx.prefix + node.id
        if node.id in skipped:
            self.passthrough[flat_id] = skipped[node.id]
            return
        outer = ctx.outer or node.id
        if ctx.outer is not None:
            self.result.origins[flat_id] = Origin(ctx.outer, (*ctx.path, node.id), ctx.label)
        position = (ctx.offset[0] + node.position[0], ctx.offset[1] + node.position[1])
        trainable, lr_mult = ctx.trainable and node.trainable, ctx.lr_mult * node.lr_mult
        if graph.is_layer(node.type):
            params = _substituted(node.params, ctx.values, graph.spec_of(node.type) if ctx.values else None)
            if params.get(SHARES):
                params[SHARES] = ctx.prefix + params[SHARES]
            self.nodes.append(Node(flat_id, node.type, params, position, trainable, lr_mult))
        elif node.type in (UNIT_INPUT, UNIT_OUTPUT):
            self._port_node(node, flat_id, ctx)
        elif node.type == REPEAT or node.type in self.units:
            sub = _Context(flat_id + ".", None, outer, (*ctx.path, node.id) if ctx.outer else (),
                           f"{ctx.label}{SEPARATOR if ctx.label else ''}{node.id}", ctx.stack, trainable,
                           lr_mult, position)
            self._instance(node, _substituted(node.params, ctx.values), sub, inputs, outputs)
        else:
            self._error(GraphError(f"'{node.id}' has unknown type {quoted(node.type)}", node=flat_id))

    def _skipped(self, graph: Graph, ctx: _Context) -> dict[str, str]:
        """The optional inner nodes this instance switches off: id -> a description for messages."""
        definition = getattr(graph, "unit", None)
        if ctx.values is None or definition is None or not definition.optional:
            return {}
        problems = dict(definition.optional_problems())
        for why in problems.values():
            self._error(GraphError(why, node=ctx.outer))
        return {node_id: f"optional node '{node_id}' of unit '{definition.name}' is switched off, and its "
                         "input is not connected"
                for node_id, param in definition.optional.items()
                if node_id not in problems and ctx.values.get(param) is False}

    def _port_node(self, node, flat_id: str, ctx: _Context) -> None:
        if ctx.outer is None:
            self._error(GraphError(f"{node.type} '{node.id}' is a port of a unit and belongs inside one; "
                                   "group the nodes into a unit, or use an Input", node=flat_id))
            return
        unit = ctx.stack[-1]
        if node.type == UNIT_INPUT:
            what = f"input '{node.id}' of unit '{unit}' is not connected"
        else:
            what = f"output '{node.id}' of unit '{unit}' is not connected inside the unit"
        self.passthrough[flat_id] = what

    def _port_mismatch(self, graph: Graph, node_id: str, port: str, kind: str, ctx: _Context) -> None:
        node = graph._nodes[node_id]
        unit = node.params.get("unit") if node.type == REPEAT else node.type
        self._error(UnknownPortError(f"{node.type} '{node_id}' is wired to its {kind} {quoted(port)}, but unit "
                                     f"{quoted(unit)} has no such {kind} port", node=ctx.prefix + node_id,
                                     port=port))

    def _instance(self, node, params: dict, ctx: _Context, inputs: dict, outputs: dict) -> None:
        """Expand one instance or Repeat `node` (its params already substituted) into `ctx`'s prefix."""
        flat_id = ctx.prefix[:-1]
        unit_name = params.get("unit") if node.type == REPEAT else node.type
        definition = self.units.get(unit_name) if isinstance(unit_name, str) else None
        if definition is None:
            self._error(GraphError(f"'{node.id}' uses unit {quoted(unit_name)}, which this project does not "
                                   "define", node=flat_id))
            return
        if unit_name in ctx.stack:
            chain = " -> ".join([*ctx.stack[ctx.stack.index(unit_name):], unit_name])
            self._error(RecursiveUnitError(f"unit '{unit_name}' contains itself ({chain})", node=flat_id))
            return
        try:
            spec = self.units.spec(node.type, params, flat_id)
            resolved = spec.resolve_params(params, flat_id)
        except GraphError as error:
            self._error(error)
            return
        values = {name: resolved[name] for name in definition.params}
        stack = (*ctx.stack, unit_name)
        if node.type != REPEAT:
            self.result.scopes.append(Scope(flat_id, unit_name, _parent(ctx), definition.doc))
            self._body(definition.graph, _replace(ctx, values=values, stack=stack, label=f"{ctx.label} ({unit_name})"))
            for port in spec.inputs:
                inputs[(node.id, port)] = f"{ctx.prefix}{port}"
            for port in spec.outputs:
                outputs[(node.id, port)] = (f"{ctx.prefix}{port}", "out")
            self.result.scope_outputs[flat_id] = {port: (f"{ctx.prefix}{port}", "out") for port in spec.outputs}
            return
        problem = repeat_problem(definition)
        if problem:
            self._error(GraphError(f"Repeat '{node.id}': {problem}", node=flat_id))
            return
        self.result.scopes.append(Scope(flat_id, REPEAT, _parent(ctx), definition.doc))
        (port_in,), (port_out,) = spec.inputs, spec.outputs
        for i in range(resolved["count"]):
            if self.copies is not None and i not in self.copies:
                continue
            copy_values = {**values, **resolved["overrides"].get(str(i), {})}
            prefix = f"{ctx.prefix}{i}."
            self.result.scopes.append(Scope(prefix[:-1], unit_name, flat_id, definition.doc))
            self._body(definition.graph, _replace(ctx, prefix=prefix, values=copy_values, stack=stack,
                                                  path=(*ctx.path, str(i)), label=f"{ctx.label}.{i} ({unit_name})"))
            self.result.scope_outputs[prefix[:-1]] = {port_out: (f"{prefix}{port_out}", "out")}
            if i and (self.copies is None or i - 1 in self.copies):
                self.edges.append((f"{ctx.prefix}{i - 1}.{port_out}", "out", f"{prefix}{port_in}", "in"))
            if self.base + len(self.nodes) > MAX_EXPANDED_NODES:
                raise _TooLarge(self.base + len(self.nodes))
        inputs[(node.id, port_in)] = f"{ctx.prefix}0.{port_in}"
        outputs[(node.id, port_out)] = (f"{ctx.prefix}{resolved['count'] - 1}.{port_out}", "out")
        self.result.scope_outputs[flat_id] = {port_out: outputs[(node.id, port_out)]}


def _fill(flat: Graph, nodes: list[Node], wires: dict) -> None:
    for node in nodes:
        try:
            flat.add_node(node.type, node.params, node.id, node.position, node.trainable, node.lr_mult)
        except GraphError:  # a value a unit param gave: `validate` reports it on the node
            flat._nodes[node.id] = Node(node.id, node.type, node.params, node.position, node.trainable,
                                        node.lr_mult, flat)
    for wire in wires:
        flat.connect(wire.source, wire.target, wire.source_port, wire.target_port, check=False)


def _update(flat: Graph, nodes: list[Node], wires: dict) -> None:
    """Change `flat` into the graph of `nodes` and `wires` through its methods (so its observers follow),
    its node order then that of `nodes`, as in a fresh expansion."""
    wanted = {node.id: node for node in nodes}
    for wire in flat.edges():
        if wire not in wires:
            flat.disconnect(wire)
    for node_id in flat.node_ids():
        if node_id not in wanted or wanted[node_id].type != flat._nodes[node_id].type:
            flat.remove_node(node_id)
    kept = replay.resolutions(nodes)
    for node in nodes:
        current = flat._nodes.get(node.id)
        if current is None:
            add(flat, node, kept)
        else:
            renew(flat, current, node, kept)
    for wire in wires:
        if not flat.has_edge(wire):
            flat.connect(wire.source, wire.target, wire.source_port, wire.target_port, check=False)
    reorder(flat, list(wanted))


def add(flat: Graph, node: Node, kept: dict | None = None) -> None:
    """Add the expansion's `node` to the kept flat graph, announced (one a unit param made wrong: as `_fill`).
    `kept` (`replay.resolutions`): the node then keeps the expansion's params object, shared with the copies
    alike, and its resolution (as `renew` does), not a checked copy of its own: an edit of every copy later
    replaces shared objects, not thousands of the node's own."""
    try:
        flat.add_node(node.type, node.params, node.id, node.position, node.trainable, node.lr_mult)
        shared = kept.get(id(node.params)) if kept else None
        current = flat._nodes[node.id]
        if shared is not None and current.params == node.params:
            current.params = node.params
            flat._resolved[node.id] = shared
    except GraphError:
        flat._nodes[node.id] = Node(node.id, node.type, node.params, node.position, node.trainable, node.lr_mult,
                                    flat)
        flat.node_added.emit(flat._nodes[node.id].clone())


def reorder(flat: Graph, order: list[str]) -> None:
    """Put the kept flat graph's nodes in `order` (a fresh expansion's; the same ids). Node order is no
    event: the live checks do not depend on it, the messages in document order do."""
    if list(flat._nodes) != order:
        flat._nodes = {node_id: flat._nodes[node_id] for node_id in order}


def renew(flat: Graph, current: Node, node: Node, kept: dict | None = None) -> None:
    """Give the kept flat graph's node `current` the params and training options of the expansion's `node`.
    Its params are announced as the document's `set_params` would, without checking them again: the
    expansion made them canonical already (`_substituted`), and `validate` reports a wrong one on the node.
    `kept` (`replay.resolutions`): the params resolved once for all the layers sharing them, kept by `flat`."""
    renew_params(flat, current, node.params, kept)
    current.position, current.trainable, current.lr_mult = node.position, node.trainable, node.lr_mult


def renew_params(flat: Graph, current: Node, params: dict, kept: dict | None = None) -> None:
    """`renew`'s params part: `current` gets `params`, announced where they differ."""
    if current.params != params:
        old, current.params = current.params, params
        flat._keep_resolved(current, kept.get(id(params), (None, None))[1] if kept is not None else None)
        flat.params_changed.emit(current.id, old, dict(params))
        flat.changed.emit()


def renew_params_many(flat: Graph, groups: list[tuple[list[Node], dict]], kept: dict) -> None:
    """`renew_params` for many layers at once: each group's layers (of one type, whose params differ from `params`) all get
    that one params object, announced in one `params_renewed` event for all the groups, so that the live checks
    handle each group in one go (`kept`: `replay.resolutions` of the params)."""
    renewed = []
    for nodes, params in groups:
        olds = list(map(_PARAMS, nodes))
        deque(map(setattr, nodes, repeat("params"), repeat(params)), 0)  # (at C speed: thousands of layers)
        resolved = kept.get(id(params))
        ids = list(map(_ID, nodes))
        if resolved is None:
            for node_id in ids:
                flat._resolved.pop(node_id, None)
        else:
            flat._resolved.update(zip(ids, repeat(resolved)))
        renewed.append((ids, olds, params))
    if renewed:
        flat.params_renewed.emit(renewed)
        flat.changed.emit()


_ID, _PARAMS = attrgetter("id"), attrgetter("params")


def _substituted(params: dict, values: dict | None, spec=None) -> dict:
    """A copy of `params` with references to unit params replaced by their values, each value put in the
    canonical form of `spec`'s param where it has one (as the document's `check_params` would; a value it
    refuses stays as it is, for `validate` to report on the node)."""
    out = {}
    for name, value in params.items():
        if is_ref(value) and values is not None and value[REF] in values:
            value = values[value[REF]]
            if spec is not None:
                try:
                    value = spec.param(name).coerce(value, None)
                except (KeyError, GraphError):
                    pass
        out[name] = list(value) if isinstance(value, list) else copy.deepcopy(value) if isinstance(value, dict) \
            else value
    return out


def _parent(ctx: _Context) -> str:
    """The prefix of the scope holding the instance whose own scope is `ctx`."""
    return ctx.prefix[:-1].rpartition(".")[0] if ctx.outer else ""


def _replace(ctx: _Context, **changes) -> _Context:
    return _Context(**{**ctx.__dict__, **changes})


_ = STRUCTURE
