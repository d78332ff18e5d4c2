"""Group and Ungroup as plans: what to add, remove and wire, worked out before anything changes.

`plan_group` turns a selection into a unit: every wire that crosses into the selection becomes an
input port (one per outside output feeding it, however many inner nodes it feeds), every wire that
leaves it an output port (one per inner output used outside), and the selection becomes one
instance in its place. `plan_ungroup` does the reverse for one instance: the unit's nodes come
back under fresh ids, its params put into the nodes that referred to them, wired to what the
instance was wired to. The controller turns a plan into undo commands (`gui.units.commands`).
Nothing here touches Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.document import Edge, Graph, Node
from graphs.errors import GraphError
from gui.units import core

MIN_NODE_WIDTH = 180.0
PORT_GAP = 260.0  # how far left of the unit's nodes its inputs sit, and right its outputs: room for a wire to bend


@dataclass
class GroupPlan:
    """A new unit `definition` (its graph holds the selected nodes and one node per port), the
    selected ids to remove, the `instance` node to add in their place (at `index` in the node order)
    and the wires to make to it."""

    definition: object
    removed: list[str]
    instance: Node
    index: int
    edges: list[Edge] = field(default_factory=list)
    switch: str | None = None  # in a unit: the param that switched the grouped (optional) layers, now the instance


@dataclass
class UngroupPlan:
    """The instance to remove, the nodes and wires to add in its place, and whether its unit is
    used nowhere else afterwards (then Ungroup removes the definition too)."""

    instance: str
    index: int  # the instance's place in the node order: its nodes take it
    nodes: list[Node]
    edges: list[Edge]
    unit: str
    drop_unit: bool


def _port_names(stem: str, count: int, taken: set) -> list[str]:
    """`x` for a lone port, else `x0`, `x1`...: the names of inner nodes, so none an inner node has."""
    base = stem
    while True:
        names = [base] if count == 1 else [f"{base}{i}" for i in range(count)]
        if not taken.intersection(names):
            return names
        base += "_"


def plan_group(model: Graph, graph: Graph, node_ids, name: str, where: str = "") -> GroupPlan:
    """Group `node_ids` of `graph` (the model, or a unit's graph: `model` holds the units) into a new
    unit `name`. Raises GraphError with a sentence when the selection cannot make a unit."""
    core.check_new_unit_name(model, name)
    chosen = set(node_ids)
    ids = [n for n in graph.node_ids() if n in chosen]
    if not ids:
        raise GraphError("select the nodes to group first")
    for node_id in ids:
        node = graph.node(node_id)
        problem = core.group_problem(node)
        if problem:
            raise GraphError(f"'{node_id}' {problem}", node=node_id)
        if node.shares and node.shares not in chosen:
            raise GraphError(f"'{node_id}' shares the weights of '{node.shares}': group both or neither",
                             node=node_id)
    for other in graph.nodes():
        if other.id not in chosen and other.shares in chosen:
            raise GraphError(f"'{other.id}' shares the weights of '{other.shares}': group both or neither",
                             node=other.id)
    switch = _switch_of_group(graph, ids)
    edges = graph.edges()
    into = [e for e in edges if e.source not in chosen and e.target in chosen]
    out_of = [e for e in edges if e.source in chosen and e.target not in chosen]
    sources = list(dict.fromkeys((e.source, e.source_port) for e in into))
    results = list(dict.fromkeys((e.source, e.source_port) for e in out_of))
    in_names = dict(zip(sources, _port_names("x", len(sources), chosen), strict=True))
    out_names = dict(zip(results, _port_names("out", len(results), chosen), strict=True))

    nodes = [graph.node(n) for n in ids]
    left = min(n.position[0] for n in nodes)
    right = max(n.position[0] for n in nodes)
    top = min(n.position[1] for n in nodes)
    # nodes that refer to params of the unit being edited keep doing so, through the new unit's own
    # params of the same names, which its instance sets from the enclosing unit's
    refs = sorted({v["ref"] for node in nodes for v in node.params.values() if core.is_ref(v)})
    outer = graph.unit.params if graph.unit is not None else {}
    definition = core.new_unit(model, name, {ref: outer[ref] for ref in refs if ref in outer})
    body = definition.graph
    for node in nodes:
        body.add_node(node.type, node.params, node.id, node.position, node.trainable, node.lr_mult)
    for i, (key, port) in enumerate(in_names.items()):
        targets = [graph.node(e.target).position[1] for e in into if (e.source, e.source_port) == key]
        y = sum(targets) / len(targets) if targets else top + 120 * i
        body.add_node(core.UNIT_INPUT, {}, port, (left - PORT_GAP, y))
    for i, (key, port) in enumerate(out_names.items()):
        y = graph.node(key[0]).position[1] if key[0] in chosen else top + 120 * i
        body.add_node(core.UNIT_OUTPUT, {}, port, (right + PORT_GAP, y))
    for e in edges:
        if e.source in chosen and e.target in chosen:
            body.connect(e.source, e.target, e.source_port, e.target_port, check=False)
    for e in into:
        body.connect(in_names[(e.source, e.source_port)], e.target, "out", e.target_port, check=False)
    for key, port in out_names.items():
        body.connect(key[0], port, key[1], "in", check=False)

    instance_id = core.fresh_id(set(graph.node_ids()), name)
    instance = Node(instance_id, name, {ref: {"ref": ref} for ref in definition.params},
                    (float(round(left)), float(round(top))))
    wires = [Edge(source, instance_id, port_out, in_names[(source, port_out)]) for source, port_out in sources]
    wires += [Edge(instance_id, e.target, out_names[(e.source, e.source_port)], e.target_port) for e in out_of]
    index = min(graph.index_of(n) for n in ids)
    if switch is not None and (len(sources), len(results)) != (1, 1):
        raise GraphError(f"the grouped layers are optional (switched by '{switch}'), and an optional instance "
                         "needs one input and one output: group a chain of them", node=ids[0])
    return GroupPlan(definition, ids, instance, index, wires, switch)


def _switch_of_group(graph: Graph, ids: list[str]) -> str | None:
    """In a unit: the one param that switches every grouped layer (the instance takes it), or None when
    none is optional. Refused when only some are, or they have different switches."""
    optional = graph.unit.optional if graph.unit is not None else {}
    switched = {optional[n] for n in ids if n in optional}
    if not switched:
        return None
    if len(switched) > 1 or any(n not in optional for n in ids):
        odd = next(n for n in ids if n in optional)
        raise GraphError(f"'{odd}' is optional (switched by '{optional[odd]}'): group it only with layers that "
                         "the same param switches, or make it always there first", node=odd)
    return switched.pop()


def plan_ungroup(model: Graph, graph: Graph, instance_id: str) -> UngroupPlan:
    """Put the nodes of instance `instance_id` of `graph` back in its place. Raises GraphError for a
    node that is no unit instance."""
    instance = graph.node(instance_id)
    unit = core.instance_unit(model, instance)
    if unit is None:
        raise GraphError(f"'{instance_id}' is a {instance.type}, not a unit instance: nothing to ungroup",
                         node=instance_id)
    switch = graph.unit.optional.get(instance_id) if graph.unit is not None else None
    if switch is not None:
        raise GraphError(f"'{instance_id}' is optional (switched by '{switch}'): make it always there first, "
                         "then ungroup it", node=instance_id)
    if core.is_repeat(instance):
        return _unroll(model, graph, instance, unit)
    body = core.unit_graph(model, unit)
    params = core.instance_values(model, instance)
    inputs, outputs = set(core.input_ports(body)), set(core.output_ports(body))
    inner = [n for n in body.nodes() if n.id not in inputs and n.id not in outputs]

    taken = set(graph.node_ids()) - {instance_id}
    mapping: dict[str, str] = {}
    for node in inner:
        mapping[node.id] = node.id if node.id not in taken else core.fresh_id(taken, node.type)
        taken.add(mapping[node.id])
    left = min((n.position[0] for n in inner), default=0.0)
    top = min((n.position[1] for n in inner), default=0.0)
    dx, dy = instance.position[0] - left, instance.position[1] - top
    nodes = []
    for node in inner:
        node_params = core.resolve_refs(node.params, params)
        if node.shares in mapping:
            node_params["shares"] = mapping[node.shares]
        nodes.append(Node(mapping[node.id], node.type, node_params,
                          (float(round(node.position[0] + dx)), float(round(node.position[1] + dy))),
                          node.trainable, node.lr_mult))

    feeding = {e.target_port: (e.source, e.source_port) for e in graph.in_edges(instance_id)}
    fed = [e for e in graph.out_edges(instance_id)]
    edges: list[Edge] = []
    for e in body.edges():
        if e.source in inputs:
            if e.source in feeding and e.target in outputs:  # a port wired straight through
                source, port = feeding[e.source]
                edges += [Edge(source, o.target, port, o.target_port) for o in fed if o.source_port == e.target]
            elif e.source in feeding:
                source, port = feeding[e.source]
                edges.append(Edge(source, mapping[e.target], port, e.target_port))
        elif e.target in outputs:
            edges += [Edge(mapping[e.source], o.target, e.source_port, o.target_port)
                      for o in fed if o.source_port == e.target]
        else:
            edges.append(Edge(mapping[e.source], mapping[e.target], e.source_port, e.target_port))
    drop = core.uses(model, unit, ignore=(graph, instance_id)) == 0
    return UngroupPlan(instance_id, graph.index_of(instance_id), nodes, edges, unit, drop)


COPY_GAP = 60.0  # between the instances an unrolled Repeat becomes


def _unroll(model: Graph, graph: Graph, repeat: Node, unit: str) -> UngroupPlan:
    """Ungroup of a Repeat: its copies become instances in sequence, each with its overrides."""
    resolved = repeat.resolved_params()
    body = core.unit_graph(model, unit)
    (port_in,), (port_out,) = core.input_ports(body), core.output_ports(body)
    values = {k: v for k, v in repeat.params.items() if k in core.definition(model, unit).params}
    taken = set(graph.node_ids()) - {repeat.id}
    nodes = []
    for i in range(resolved["count"]):
        node_id = core.fresh_id(taken, unit)
        taken.add(node_id)
        position = (repeat.position[0] + i * (MIN_NODE_WIDTH + COPY_GAP), repeat.position[1])
        nodes.append(Node(node_id, unit, {**values, **resolved["overrides"].get(str(i), {})}, position,
                          repeat.trainable, repeat.lr_mult))
    edges = [Edge(e.source, nodes[0].id, e.source_port, port_in) for e in graph.in_edges(repeat.id)]
    edges += [Edge(a.id, b.id, port_out, port_in) for a, b in zip(nodes, nodes[1:])]
    edges += [Edge(nodes[-1].id, e.target, port_out, e.target_port) for e in graph.out_edges(repeat.id)]
    return UngroupPlan(repeat.id, graph.index_of(repeat.id), nodes, edges, unit, False)


@dataclass
class ReplacePlan:
    """One node swapped for another of the same id, at the same place, with the same wires."""

    old: str
    node: Node
    index: int
    edges: list[Edge]


def plan_repeat(model: Graph, graph: Graph, instance_id: str, count: int) -> ReplacePlan:
    """Instance `instance_id` as a Repeat of `count` copies of its unit (its param values kept). Raises
    GraphError when its unit has not one input and one output."""
    node = graph.node(instance_id)
    unit = core.instance_unit(model, node)
    if unit is None or core.is_repeat(node):
        raise GraphError(f"'{instance_id}' is no unit instance", node=instance_id)
    body = core.unit_graph(model, unit)
    ins, outs = core.input_ports(body), core.output_ports(body)
    if len(ins) != 1 or len(outs) != 1:
        raise GraphError(f"unit {unit} has {len(ins)} inputs and {len(outs)} outputs; a Repeat needs one of each",
                         node=instance_id)
    repeat = Node(instance_id, core.REPEAT, {"unit": unit, "count": count, **node.params}, node.position,
                  node.trainable, node.lr_mult)
    return ReplacePlan(instance_id, repeat, graph.index_of(instance_id),
                       [*graph.in_edges(instance_id), *graph.out_edges(instance_id)])
