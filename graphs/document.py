"""The graph document: nodes, ports and edges, with events.

Reads return copies; every write goes through a few methods that check the
change and then emit exactly one specific event (plus `changed`). The GUI's undo
commands call these same methods, so undo fires the same events as the edit.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from graphs.catalogue import CATALOGUE, node_type
from graphs.custom_types import NO_CUSTOM_TYPES
from graphs.elements import (  # noqa: F401 - re-exported: the document's parts are read from here
    MAX_LR_MULT,
    Edge,
    Node,
    check_node_id,
    check_training_options,
    copy_params,
)
from graphs.errors import (
    CycleError,
    DuplicateEdgeError,
    DuplicateNodeError,
    GraphError,
    ParamError,
    PortAlreadyConnectedError,
    UnknownNodeError,
    UnknownPortError,
    quoted,
)
from graphs.events import Event
from graphs.names import id_problem
from graphs.node_order import NodePlaces, insert_at
from graphs.topological_order import TopologicalOrder
from graphs.unit_registry import REF, UnitRegistry, UnitUseError, check_unit_params, is_ref, unit_name_problem


class Graph:
    """A directed acyclic graph of catalogue nodes and unit instances (cycles can only come from a
    loaded file). A document's graph owns `units`, its unit definitions; a unit's inner graph shares
    its document's registry (pass `units=`) and knows its `unit`. `dotted_ids` allows the ids
    `graphs.units.expand` makes (`layer1.0.conv1`), in an expanded graph only."""

    def __init__(self, units: UnitRegistry | None = None, dotted_ids: bool = False):
        self._nodes: dict[str, Node] = {}
        self.units = units if units is not None else UnitRegistry()
        if units is None:
            self.units.owner = self
        self.unit = None  # the UnitDefinition whose inner graph this is
        self.dotted_ids = dotted_ids
        self._structure: dict[str, None] = {}  # the nodes that are no catalogue layer: instances, Repeats, ports
        # the wires in the order they were made, and each node's wires in and out: the index lets
        # in_edges, edge_into and reachability look at a node's own wires instead of every wire
        self._edges: dict[Edge, int] = {}  # (each wire's serial number: sorts a few wires into this order)
        self._serials = itertools.count()
        self._in: dict[str, dict[Edge, None]] = {}
        self._out: dict[str, dict[Edge, None]] = {}
        self._order = TopologicalOrder(self)  # answers the cycle check of most wires without a search
        self._places = NodePlaces()  # each node's index in the node order, kept across a delete and its undo
        # node id -> (its params object, those params resolved): kept for catalogue layers whose params
        # refer to no unit param, so loading, inference and validation resolve each node once
        self._resolved: dict[str, tuple[dict, dict]] = {}
        self._custom_types = None  # see `custom_types`
        self.node_added = Event("node_added")  # (Node)
        self.node_removed = Event("node_removed")  # (Node)
        self.edge_added = Event("edge_added")  # (Edge)
        self.edge_removed = Event("edge_removed")  # (Edge)
        self.params_changed = Event("params_changed")  # (node_id, old_params, new_params)
        # ([(node_ids, their old params, the params they all get now)]): many layers' params replaced at once, in a
        # kept expansion only (`graphs.units.expand.renew_params_many`), each group's layers of one type; the new
        # params are shared: read them only
        self.params_renewed = Event("params_renewed")
        self.node_moved = Event("node_moved")  # (node_id, position)
        self.training_options_changed = Event("training_options_changed")  # (node_id, trainable, lr_mult)
        self.unit_added = Event("unit_added")  # (name)
        self.unit_removed = Event("unit_removed")  # (UnitDefinition)
        self.unit_replaced = Event("unit_replaced")  # (name, old UnitDefinition)
        self.unit_renamed = Event("unit_renamed")  # (old name, new name): instances' types changed too
        self.unit_changed = Event("unit_changed")  # (name): its inner graph was edited
        self.changed = Event("changed")  # () after any of the above

    # ---- reads (copies) -------------------------------------------------
    def nodes(self) -> list[Node]:
        return [n.clone() for n in self._nodes.values()]

    def node(self, node_id: str) -> Node:
        return self._require(node_id).clone()

    def node_ids(self) -> list[str]:
        return list(self._nodes)

    def has_node(self, node_id: str) -> bool:
        return node_id in self._nodes

    def edges(self) -> list[Edge]:
        return list(self._edges)

    def has_edge(self, edge: Edge) -> bool:
        return edge in self._edges

    def in_edges(self, node_id: str) -> list[Edge]:
        return list(self._in.get(node_id, ()))

    def out_edges(self, node_id: str) -> list[Edge]:
        return list(self._out.get(node_id, ()))

    def edges_of(self, node_ids) -> list[Edge]:
        """The wires into or out of any of `node_ids`, in the order of `edges()` (found from the nodes' own wires)."""
        found = {edge for node_id in node_ids for wires in (self._in.get(node_id, ()), self._out.get(node_id, ()))
                 for edge in wires}
        return sorted(found, key=self._edges.__getitem__)

    def edge_into(self, node_id: str, port: str) -> Edge | None:
        for e in self._in.get(node_id, ()):
            if e.target_port == port:
                return e
        return None

    def index_of(self, node_id: str) -> int:
        """The node's place in the document's node order (which orders forward()'s inputs and the file)."""
        return self.places_of((node_id,))[node_id]

    def places_of(self, node_ids) -> dict[str, int]:
        """Each node's place in the node order, from a map of every place kept across a delete and its undo (see
        `graphs.node_order.NodePlaces`)."""
        node_ids = list(node_ids)
        for node_id in node_ids:
            self._require(node_id)
        return self._places.of(self._nodes, node_ids)

    def topological_rank(self) -> Mapping[str, int] | None:
        """A rank per node such that every wire runs from a lower rank to a higher one (kept up to date
        edit by edit, see `graphs.topological_order`); None while a loaded file's wires make a cycle."""
        ranks = self._order.ranks()
        return None if ranks is None else MappingProxyType(ranks)

    def __len__(self) -> int:
        return len(self._nodes)

    # ---- reads without copies, for the hot paths of graphs/ and engine/shapes.py --------------------
    # They return the document's own objects: read them, never change them (every change goes through
    # the writes below, which check it and announce it). Everywhere else, use `node` and `nodes`.
    def live_nodes(self):
        """The nodes themselves, in node order (a read-only view of the document's own Node objects)."""
        return self._nodes.values()

    def live_node(self, node_id: str) -> Node:
        """The node itself, not a copy (UnknownNodeError when there is none): read it, never change it."""
        return self._require(node_id)

    def resolved_of(self, node: Node) -> dict:
        """`node.resolved_params()` for a node of this graph, from what the document kept when it checked the
        params where it did (then read it, never change it)."""
        kept = self.kept_resolution(node.id, node.params)
        return kept if kept is not None else node.spec.resolve_params(self.concrete(node.params), node.id)

    def kept_resolution(self, node_id: str, params: dict) -> dict | None:
        """The params of catalogue layer `node_id` resolved, as the document kept them when it checked them,
        if `params` are those params (read it, never change it); else None."""
        kept = self._resolved.get(node_id)
        return kept[1] if kept is not None and (kept[0] is params or kept[0] == params) else None

    @property
    def custom_types(self):
        """The node types of the project's own code (graphs.custom_types.CustomTypes), set when it is
        loaded; a unit's inner graph has its document's, unless given its own."""
        if self._custom_types is not None:
            return self._custom_types
        owner = self.units.owner
        return owner.custom_types if owner is not None and owner is not self else NO_CUSTOM_TYPES

    @custom_types.setter
    def custom_types(self, types) -> None:
        self._custom_types = types
        self._resolved.clear()

    def is_layer(self, type_name) -> bool:
        """Whether nodes of `type_name` are layers: a catalogue type or one of `custom_types` (not a unit
        instance, a Repeat or a unit port)."""
        return type_name in CATALOGUE or (isinstance(type_name, str) and type_name in self.custom_types)

    def uses_units(self) -> bool:
        """Whether any node is a unit instance, a Repeat or a unit port (the engine then expands the graph)."""
        return bool(self._structure)

    def node_ids_of_type(self, type_name: str) -> list[str]:
        """The ids of the nodes of one type, in node order."""
        if self.is_layer(type_name):
            return [node_id for node_id, node in self._nodes.items() if node.type == type_name]
        return [node_id for node_id in self._structure if self._nodes[node_id].type == type_name]

    def spec_of(self, type_name: str, params: dict | None = None, node_id: str | None = None):
        """The NodeType of a node: a catalogue layer, or a unit instance, Repeat or port of this graph's units."""
        spec = CATALOGUE.get(type_name) if isinstance(type_name, str) else None
        if spec is None and isinstance(type_name, str) and (type_name in self.custom_types
                                                            or type_name in self.custom_types.problems):
            spec = node_type(type_name, node_id, self.custom_types)  # a custom layer (graphs.custom_types)
        return spec if spec is not None else self.units.spec(type_name, params, node_id)

    def concrete(self, params: dict) -> dict:
        """`params` with each reference to a unit param replaced by the param's default (in a unit's graph)."""
        if not any(is_ref(value) for value in params.values()):
            return params
        defaults = self.unit.params if self.unit is not None else {}
        return {name: defaults.get(value[REF], value) if is_ref(value) else value for name, value in params.items()}

    def check_params(self, spec, params: dict | None, node_id: str | None) -> dict:
        """`spec.check_params`, where a value may also be a reference to a param of this graph's unit."""
        params = params or {}
        refs = {name: value[REF] for name, value in params.items() if is_ref(value)}
        for name, ref in refs.items():
            if self.unit is None or ref not in self.unit.params:
                where = f"unit '{self.unit.name}'" if self.unit is not None else "a graph outside a unit"
                raise ParamError(f"param '{name}' refers to unit param {quoted(ref)}, which {where} does not have",
                                 node=node_id, param=name)
        checked = spec.check_params(self.concrete(params), node_id)
        checked.update({name: {REF: ref} for name, ref in refs.items()})
        return checked

    def _check_and_resolve(self, spec, params: dict | None, node_id: str) -> tuple[dict, dict | None]:
        """(`check_params`, the params resolved) for a catalogue layer whose params refer to no unit param,
        from one pass over its schema; (`check_params`, None) for any other node."""
        if params and any(is_ref(value) for value in params.values()) or CATALOGUE.get(spec.name) is not spec:
            return self.check_params(spec, params, node_id), None
        return spec.checked_and_resolved(params, node_id)

    def _keep_resolved(self, node: Node, resolved: dict | None) -> None:
        if resolved is None:
            self._resolved.pop(node.id, None)
        else:
            self._resolved[node.id] = (node.params, resolved)

    def new_id(self, type_name: str) -> str:
        """A fresh id such as `conv2d_3` for a node of this type."""
        base = re.sub(r"[^a-z0-9_]", "", type_name.lower()) or "node"
        n = 1
        while f"{base}_{n}" in self._nodes:
            n += 1
        return f"{base}_{n}"

    def snapshot(self) -> dict:
        """A canonical, order-independent picture of the document, for comparisons."""
        units = {"units": {name: d.snapshot() for name, d in self.units.items()}} \
            if self.units.owner is self and len(self.units) else {}
        return {
            **units,
            "nodes": {n.id: (n.type, copy_params(n.params), tuple(n.position)) for n in self._nodes.values()},
            "edges": sorted((e.source, e.source_port, e.target, e.target_port) for e in self._edges),
            "training_options": {n.id: (n.trainable, n.lr_mult) for n in self._nodes.values()
                                 if not n.trainable or n.lr_mult != 1.0},
        }

    # ---- writes ---------------------------------------------------------
    def add_node(self, type_name: str, params: dict | None = None, node_id: str | None = None,
                 position=(0.0, 0.0), trainable: bool = True, lr_mult: float = 1.0,
                 index: int | None = None) -> str:
        """Add a node, last in the node order or at `index` in it (undoing a removal puts it back there)."""
        self.units.check_use(self, type_name, params, node_id)
        spec = self.spec_of(type_name, params, node_id)
        node_id = self.new_id(type_name) if node_id is None else node_id
        if not (self.dotted_ids and isinstance(node_id, str) and all(
                not id_problem(part) or part.isdigit() for part in node_id.split("."))):
            check_node_id(node_id)
        if node_id in self._nodes:
            raise DuplicateNodeError(f"a node with id '{node_id}' already exists", node=node_id)
        checked, resolved = self._check_and_resolve(spec, params, node_id)
        trainable, lr_mult = check_training_options(node_id, trainable, lr_mult)
        node = Node(node_id, type_name, checked, (float(position[0]), float(position[1])), trainable, lr_mult, self)
        self._keep_resolved(node, resolved)
        if not self.is_layer(type_name):
            self._structure[node_id] = None
        if index is None or index >= len(self._nodes):
            self._nodes[node_id] = node
            self._places.added(self._nodes, node_id, len(self._nodes) - 1)
        else:
            insert_at(self._nodes, index, node_id, node)
            self._places.added(self._nodes, node_id, max(0, index))
        self._order.node_added(node_id)
        self.node_added.emit(node.clone())
        self.changed.emit()
        return node_id

    def remove_node(self, node_id: str) -> None:
        node = self._require(node_id)
        for edge in [*self._in.get(node_id, ()), *self._out.get(node_id, ())]:
            if edge in self._edges:  # a wire from the node to itself is in both
                self.disconnect(edge)
        place = self._places.place_before_removal(node_id)
        del self._nodes[node_id]
        self._places.removed(self._nodes, node_id, place)
        self._resolved.pop(node_id, None)
        self._structure.pop(node_id, None)
        self._in.pop(node_id, None)
        self._out.pop(node_id, None)
        self._order.node_removed(node_id)
        self.node_removed.emit(node.clone())
        self.changed.emit()

    def set_params(self, node_id: str, params: dict) -> None:
        """Replace the params the user set on a node (unset params take their defaults)."""
        node = self._require(node_id)
        self.units.check_use(self, node.type, params, node_id)
        spec = self.spec_of(node.type, params, node_id)  # a Repeat's type follows its unit
        checked = self.check_params(spec, params, node_id)
        resolved = spec.resolve_params(self.concrete(checked), node_id)
        remaining = set(spec.input_ports(resolved))
        for edge in self.in_edges(node_id):
            if edge.target_port not in remaining:
                raise GraphError(
                    f"{node.type} '{node_id}': disconnect port '{edge.target_port}' before removing it",
                    node=node_id, port=edge.target_port)
        outputs = set(spec.output_ports(resolved))  # Split and Chunk: one output port per piece
        for edge in self.out_edges(node_id):
            if edge.source_port not in outputs:
                raise GraphError(
                    f"{node.type} '{node_id}': disconnect output port '{edge.source_port}' before removing it",
                    node=node_id, port=edge.source_port)
        if checked == node.params:
            return
        old = node.params
        node.params = checked
        self._keep_resolved(node, resolved if CATALOGUE.get(spec.name) is spec and checked is self.concrete(checked)
                            else None)
        self.params_changed.emit(node_id, copy_params(old), copy_params(checked))
        self.changed.emit()

    def set_param(self, node_id: str, name: str, value) -> None:
        params = dict(self._require(node_id).params)
        params[name] = value
        self.set_params(node_id, params)

    def set_training_options(self, node_id: str, trainable: bool | None = None, lr_mult: float | None = None) -> None:
        """Freeze or unfreeze a node's weights (`trainable`) and scale their learning rate (`lr_mult`);
        None keeps the current value."""
        node = self._require(node_id)
        trainable, lr_mult = check_training_options(
            node_id, node.trainable if trainable is None else trainable, node.lr_mult if lr_mult is None else lr_mult)
        if (trainable, lr_mult) == (node.trainable, node.lr_mult):
            return
        node.trainable, node.lr_mult = trainable, lr_mult
        self.training_options_changed.emit(node_id, trainable, lr_mult)
        self.changed.emit()

    def move_node(self, node_id: str, position) -> None:
        node = self._require(node_id)
        position = (float(position[0]), float(position[1]))
        if position == node.position:
            return
        node.position = position
        self.node_moved.emit(node_id, position)
        self.changed.emit()

    def connect(self, source: str, target: str, source_port: str = "out", target_port: str = "in",
                check: bool = True) -> Edge:
        """Add an edge. With check=False (loading a file) only the nodes must exist;
        `validate` then reports cycles, unknown and doubly connected ports."""
        edge = Edge(source, target, source_port, target_port)
        if check:
            self.check_connect(edge)
        else:
            self._require(source)
            self._require(target)
        self._add_edge(edge)
        self.edge_added.emit(edge)
        self.changed.emit()
        return edge

    def disconnect(self, edge: Edge) -> None:
        if edge not in self._edges:
            raise GraphError(f"no wire from '{edge.source}' to '{edge.target}.{edge.target_port}'",
                             node=edge.target, port=edge.target_port)
        del self._edges[edge]
        del self._in[edge.target][edge]
        del self._out[edge.source][edge]
        self._order.edge_removed(edge)
        self.edge_removed.emit(edge)
        self.changed.emit()

    # ---- connection rules -----------------------------------------------
    def can_connect(self, source: str, source_port: str, target: str, target_port: str,
                    replacing: Edge | None = None) -> tuple[bool, str]:
        """(True, "") when the wire would be accepted (once wire `replacing` is gone, when given: a wire's
        end dragged to another port), else (False, why). No side effects."""
        try:
            self.check_connect(Edge(source, target, source_port, target_port), replacing)
        except GraphError as error:
            return False, error.message
        return True, ""

    def check_connect(self, edge: Edge, replacing: Edge | None = None) -> None:
        src, dst = self._require(edge.source), self._require(edge.target)
        if edge.source_port not in src.output_ports():
            raise UnknownPortError(f"{src.type} '{src.id}' has no output port '{edge.source_port}'",
                                   node=src.id, port=edge.source_port)
        if edge.target_port not in dst.input_ports():
            ports = ", ".join(dst.input_ports()) or "none"
            raise UnknownPortError(
                f"{dst.type} '{dst.id}' has no input port '{edge.target_port}' (its inputs: {ports})",
                node=dst.id, port=edge.target_port)
        if edge in self._edges and edge != replacing:
            raise DuplicateEdgeError(f"'{edge.source}' is already wired to '{dst.id}.{edge.target_port}'",
                                     node=dst.id, port=edge.target_port)
        taken = self.edge_into(dst.id, edge.target_port)
        if taken is not None and taken != replacing:
            raise PortAlreadyConnectedError(
                f"{dst.type} '{dst.id}' input '{edge.target_port}' is already connected to '{taken.source}'",
                node=dst.id, port=edge.target_port)
        if self._order.would_cycle(edge.source, edge.target, without=replacing):
            raise CycleError(f"wiring '{edge.source}' to '{edge.target}' would make a cycle", node=dst.id,
                             port=edge.target_port)

    def _add_edge(self, edge: Edge) -> None:
        self._edges[edge] = next(self._serials)
        self._in.setdefault(edge.target, {})[edge] = None
        self._out.setdefault(edge.source, {})[edge] = None
        self._order.edge_added(edge)

    def _require(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except (KeyError, TypeError):
            raise UnknownNodeError(f"there is no node '{node_id}'", node=node_id) from None

    def copy(self, units: UnitRegistry | None = None) -> Graph:
        """An independent copy with no subscribers (used to snapshot a graph for training), its units
        copied too; `units`: the registry the copy of a unit's inner graph joins."""
        other = Graph(units, self.dotted_ids)
        other.custom_types = self.custom_types
        other._nodes = {node_id: Node(n.id, n.type, copy_params(n.params), n.position, n.trainable, n.lr_mult, other)
                        for node_id, n in self._nodes.items()}
        other._structure = dict(self._structure)
        other._resolved = {node_id: (other._nodes[node_id].params, resolved)
                           for node_id, (params, resolved) in self._resolved.items()
                           if params is self._nodes[node_id].params}
        for edge in self._edges:
            other._add_edge(edge)
        if units is None:
            for definition in self.units.values():
                other.units._adopt(definition.clone(units=other.units))
        return other

    # ---- units ------------------------------------------------------------
    def unit_graph(self, name: str) -> Graph:
        """The live inner graph of unit `name`: edit it through its own methods (each edit is announced
        here as `unit_changed(name)`)."""
        return self._unit(name).graph

    def add_unit(self, definition) -> None:
        """Define a unit (a `graphs.units.UnitDefinition`); its inner graph joins this document's units."""
        problem = unit_name_problem(definition.name, self.custom_types)
        if problem:
            raise GraphError(f"unit name {quoted(definition.name)} {problem}")
        if definition.name in self.units:
            raise DuplicateNodeError(f"a unit named '{definition.name}' already exists")
        self._check_definition(definition)
        self.units._adopt(definition)
        self.unit_added.emit(definition.name)
        self.changed.emit()

    def replace_unit(self, definition):
        """Put `definition` in the place of the unit of its name (an edit of its params, doc or whole graph);
        refused when an instance would no longer fit (a param it sets, a port it is wired to). Returns the
        old definition (for undo)."""
        old = self._unit(definition.name)
        self._check_definition(definition)
        self.units._drop(definition.name)
        self.units._adopt(definition)
        problems = self._misfits(definition.name)
        if problems:
            self.units._drop(definition.name)
            self.units._adopt(old)
            raise UnitUseError(f"unit '{definition.name}' cannot change so: {problems[0]}")
        self.unit_replaced.emit(definition.name, old)
        self.changed.emit()
        return old

    def remove_unit(self, name: str):
        """Remove an unused unit; returns its definition (for undo)."""
        self._unit(name)
        users = self.units.users(name)
        if users:
            where = ", ".join(f"'{node}'" + (f" in unit '{unit}'" if unit else "") for unit, node in users[:5])
            raise UnitUseError(f"unit '{name}' is used by {where}; remove or ungroup those first")
        definition = self.units._drop(name)
        self.unit_removed.emit(definition)
        self.changed.emit()
        return definition

    def rename_unit(self, old: str, new: str) -> None:
        """Rename a unit, and with it the type of every instance (and the `unit` of every Repeat)."""
        definition = self._unit(old)
        problem = unit_name_problem(new, self.custom_types)
        if problem:
            raise GraphError(f"unit name {quoted(new)} {problem}")
        if new in self.units:
            raise DuplicateNodeError(f"a unit named '{new}' already exists")
        for graph in [self, *(d.graph for d in self.units.values())]:
            for node in graph._nodes.values():
                if node.type == old:
                    node.type = new
                elif node.type == "Repeat" and node.params.get("unit") == old:
                    node.params["unit"] = new
        self.units._drop(old)
        definition.name = new
        self.units._adopt(definition)
        self.unit_renamed.emit(old, new)
        self.changed.emit()

    def _unit(self, name: str):
        if name not in self.units:
            raise GraphError(f"there is no unit {quoted(name)}")
        return self.units[name]

    def _check_definition(self, definition) -> None:
        try:
            definition.params = check_unit_params(definition.params)
        except ParamError as error:
            raise ParamError(f"unit '{definition.name}': {error.message}", param=error.param) from None
        inner = definition.graph
        previous = (inner.units, inner.unit)
        inner.units, inner.unit = self.units, definition
        try:
            for node in inner._nodes.values():
                used = node.params.get("unit") if node.type == "Repeat" else node.type
                if used == definition.name or (used in self.units and self.units.contains(used, definition.name)):
                    raise GraphError(f"unit '{definition.name}' cannot contain itself (node '{node.id}' is a "
                                     f"{used})", node=node.id)
                inner.check_params(inner.spec_of(node.type, node.params, node.id), node.params, node.id)
        except GraphError as error:
            raise type(error)(f"unit '{definition.name}': {error.message}", node=error.node) from None
        finally:
            inner.units, inner.unit = previous

    def _misfits(self, name: str) -> list[str]:
        """Why the instances of unit `name` no longer fit it (params they set, ports they are wired to)."""
        problems = []
        for unit, node_id in self.units.users(name):
            graph = self if unit is None else self.units[unit].graph
            node = graph._nodes[node_id]
            where = f"'{node_id}'" + (f" in unit '{unit}'" if unit else "")
            try:
                ports = (node.input_ports(), node.output_ports())
                graph.check_params(node.spec, node.params, node_id)
            except GraphError as error:
                problems.append(f"{where}: {error.message}")
                continue
            for edge in graph.in_edges(node_id):
                if edge.target_port not in ports[0]:
                    problems.append(f"{where} is wired to its input '{edge.target_port}', which it would lose")
            for edge in graph.out_edges(node_id):
                if edge.source_port not in ports[1]:
                    problems.append(f"{where} is wired from its output '{edge.source_port}', which it would lose")
        return problems


def renamed(edge: Edge, mapping: dict[str, str]) -> Edge:
    """The same edge with node ids replaced through `mapping` (used by paste)."""
    return replace(edge, source=mapping.get(edge.source, edge.source), target=mapping.get(edge.target, edge.target))
