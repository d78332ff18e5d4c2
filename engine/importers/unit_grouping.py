"""Group a flat import into units, following the source model's module hierarchy.

An importer first maps a model flat (one node per layer), then says for each node where it was
made: the chain of module instances around it (path and class, outermost first) and its name in
the innermost one (`Placement`). `group_units` then rebuilds the graph with units:
- the instances of one class with the same inner structure become ONE unit named after the class,
  used as often as the class was instantiated; the values that differ between the instances (the
  out_channels and stride of a ResNet block) become unit params, referenced by the inner nodes;
- instances of one class with different structures (a ResNet block with a downsample branch and
  one without) become one unit per structure, the most common one named after the class and the
  others after what they add: `BasicBlock` and `BasicBlock_downsample`. A unit's layers are fixed,
  so a branch that only some instances have cannot be a param;
- the instances an `nn.Sequential` (or `nn.ModuleList`) holds, when they are instances of one unit
  called in a chain, become a Repeat named after the container (`layer1`), the copies that differ
  from the others described by overrides; the compiled `state_dict` keys then read as the source's
  (`layer1.0.conv1.weight`);
- everything else (the model's own layers, the parts of an instance that cannot be a unit) stays
  in the graph around it.
The grouped graph is compiled with the imported weights and run against the flat one on the same
random inputs: it must compute exactly the same, or the flat graph is kept (with a note saying why).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import torch

from engine.importers.common import ImportResult, sanitize
from graphs.document import Graph
from graphs.layout import estimated_size, layered_positions
from graphs.names import id_problem
from graphs.node_type import SHARES
from graphs.project import Project
from graphs.unit_registry import RESERVED_PARAMS, unit_name_problem
from graphs.units import REPEAT, UNIT_INPUT, UNIT_OUTPUT, UnitDefinition

_KINDS = (bool, int, float, str)
FLAT_NOTE = "imported flat, without units"
MIN_UNIT_NODES = 2  # an instance holding a single layer stays that layer


@dataclass(frozen=True)
class Placement:
    """Where a flat node was made: the module instances around it, outermost first, as (path, class
    name), and its name inside the innermost one (`conv1`, `downsample.0`, `add`)."""

    scopes: tuple[tuple[str, str], ...]
    name: str


class NotGrouped(Exception):
    """The model cannot be grouped into units; the message says why (the flat import is kept)."""


@dataclass
class _Instance:
    path: str  # the module path ("" for the model)
    cls: str
    parent: _Instance | None
    members: list[str] = field(default_factory=list)  # flat ids directly inside, in node order
    children: list[_Instance] = field(default_factory=list)
    inner: dict[str, str] = field(default_factory=dict)  # member flat id -> its id inside
    inputs: list[tuple[str, str]] = field(default_factory=list)  # outside values read, in order
    outputs: list[tuple[str, str]] = field(default_factory=list)  # own values read outside
    key: tuple = ()  # the structure: instances with the same key are one unit
    repeat: str | None = None  # the id of the Repeat this instance is a copy of, in its parent
    unit: str = ""
    values: dict = field(default_factory=dict)  # unit param -> this instance's value
    local: str = ""  # its node id in the parent's graph (or the Repeat's)

    def all_members(self) -> list[str]:
        found = list(self.members)
        for child in self.children:
            found += child.all_members()
        return found


def group_units(result: ImportResult, placements: dict[str, Placement], sequences: set[str]) -> ImportResult:
    """The import with its module hierarchy as units; `sequences` are the paths of the containers whose
    instances may become a Repeat. Raises NotGrouped when it cannot be done exactly."""
    graph = result.project.graph
    if any(node.params.get(SHARES) for node in graph.nodes()):
        raise NotGrouped("it shares weights between layers")
    root = _tree(graph, placements)
    if not root.children:
        raise NotGrouped("it has no modules of its own")
    grouping = _Grouping(graph, result.compiled.output_sources, sequences)
    grouping.structure(root)
    if not root.children:
        raise NotGrouped("no module of its own holds more than one layer")
    document = grouping.build(root)
    return _checked(result, document, grouping.flat_to_grouped)


def _tree(graph: Graph, placements: dict[str, Placement]) -> _Instance:
    root = _Instance("", "", None)
    instances = {"": root}
    for node_id in graph.node_ids():
        placement = placements.get(node_id)
        owner = root
        for path, cls in placement.scopes if placement else ():
            if path not in instances:
                instances[path] = _Instance(path, cls, owner)
                owner.children.append(instances[path])
            owner = instances[path]
        owner.members.append(node_id)
        owner.inner[node_id] = placement.name if placement and placement.scopes else node_id
    return root


class _Grouping:
    def __init__(self, graph: Graph, model_outputs, sequences: set[str]):
        self.graph = graph
        self.model_outputs = set(model_outputs)
        self.sequences = sequences
        self.order = {node_id: i for i, node_id in enumerate(graph.node_ids())}
        self.consumers: dict[tuple[str, str], list[str]] = {}
        for edge in graph.edges():
            self.consumers.setdefault((edge.source, edge.source_port), []).append(edge.target)
        self.units: dict[tuple, list[_Instance]] = {}  # structure key -> its instances, in model order
        self.names: dict[tuple, str] = {}
        self.params: dict[str, dict] = {}  # unit -> param -> default
        self.slots: dict[str, dict[tuple[str, str], str]] = {}  # unit -> (inner node, param) -> unit param
        self.flat_to_grouped: dict[str, str] = {}

    # ---- structure -------------------------------------------------------------
    def structure(self, instance: _Instance) -> None:
        """Post-order: ports, inner ids and a structure key for each instance; an instance that cannot be
        a unit gives its layers and children to its parent."""
        for child in list(instance.children):
            self.structure(child)
        if instance.parent is None:
            self._name_inner(instance, keep=True)
            self._find_repeats(instance)
            return
        self._ports(instance)
        layers = len(instance.all_members())
        if not instance.outputs or layers < MIN_UNIT_NODES:
            self._dissolve(instance)
            return
        self._name_inner(instance)
        self._find_repeats(instance)
        instance.key = self._key(instance)
        self.units.setdefault(instance.key, []).append(instance)

    def _dissolve(self, instance: _Instance) -> None:
        parent = instance.parent
        at = parent.children.index(instance)
        parent.children[at:at + 1] = instance.children
        for child in instance.children:
            child.parent = parent
        prefix = instance.path.rpartition(".")[2] if parent.parent is None else \
            _relative(instance.path, parent.path)
        for member in instance.members:
            parent.members.append(member)
            parent.inner[member] = f"{prefix}.{instance.inner[member]}" if parent.parent is not None else member
        parent.members.sort(key=self.order.__getitem__)

    def _ports(self, instance: _Instance) -> None:
        inside = set(instance.all_members())
        inputs, outputs = {}, {}
        for node_id in sorted(inside, key=self.order.__getitem__):
            for edge in self.graph.in_edges(node_id):
                if edge.source not in inside:
                    inputs.setdefault((edge.source, edge.source_port), None)
            for port in self.graph.node(node_id).output_ports():
                value = (node_id, port)
                if value in self.model_outputs or any(c not in inside for c in self.consumers.get(value, ())):
                    outputs.setdefault(value, None)
        instance.inputs, instance.outputs = list(inputs), list(outputs)

    def _name_inner(self, instance: _Instance, keep: bool = False) -> None:
        """Valid, unique ids inside the instance: its layers' names, its children's paths relative to it."""
        taken: set[str] = set()
        for member in instance.members:
            name = member if keep else _unique(sanitize(instance.inner[member].replace(".", "_")) or "node", taken)
            taken.add(name)
            instance.inner[member] = name
        for child in instance.children:
            relative = _relative(child.path, instance.path) if instance.parent is not None else child.path
            child.local = _unique(sanitize(relative.replace(".", "_")) or "block", taken)
            taken.add(child.local)

    def _find_repeats(self, instance: _Instance) -> None:
        """Children that are numbered items of one container, instances of one structure, chained: a Repeat."""
        runs: dict[str, list[_Instance]] = {}
        for child in instance.children:
            container, _, index = child.path.rpartition(".")
            if index.isdigit() and container in self.sequences and len(container) > len(instance.path):
                runs.setdefault(container, []).append(child)
        taken = {instance.inner[m] for m in instance.members} | {c.local for c in instance.children}
        for container, copies in runs.items():
            if [int(c.path.rpartition(".")[2]) for c in copies] != list(range(len(copies))):
                continue
            if len({c.key for c in copies}) != 1 or not all(len(c.inputs) == len(c.outputs) == 1 for c in copies):
                continue
            chained = all(nxt.inputs[0] == prev.outputs[0] and self.consumers.get(prev.outputs[0]) and
                          prev.outputs[0] not in self.model_outputs and
                          set(self.consumers[prev.outputs[0]]) <= set(nxt.all_members())
                          for prev, nxt in zip(copies, copies[1:]))
            if not chained:
                continue
            relative = _relative(container, instance.path) if instance.parent is not None else container
            name = _unique(sanitize(relative.replace(".", "_")) or "repeat", taken - {c.local for c in copies})
            taken.add(name)
            for index, copy in enumerate(copies):
                copy.repeat, copy.local = name, str(index)

    def _key(self, instance: _Instance) -> tuple:
        """The structure of an instance, without its param values: its class, layers, children and wires."""
        refs = self._refs(instance)
        members = tuple((instance.inner[m], self.graph.node(m).type, tuple(sorted(self.graph.node(m).params)))
                        for m in instance.members)
        children = tuple((c.local, c.repeat, c.key) for c in instance.children)
        wires = []
        for node_id in instance.members:
            for edge in self.graph.in_edges(node_id):
                wires.append((refs[(edge.source, edge.source_port)], instance.inner[node_id], edge.target_port))
        for child in instance.children:
            for index, value in enumerate(child.inputs):
                wires.append((refs[value], child.local, index))
        outputs = tuple(refs[value] for value in instance.outputs)
        return instance.cls, members, children, tuple(sorted(map(str, wires))), outputs

    def _refs(self, instance: _Instance) -> dict[tuple[str, str], tuple]:
        """How each value an instance reads is reached from inside it."""
        refs = {value: ("in", i) for i, value in enumerate(instance.inputs)}
        for member in instance.members:
            for port in self.graph.node(member).output_ports():
                refs[(member, port)] = ("node", instance.inner[member], port)
        for child in instance.children:
            for index, value in enumerate(child.outputs):
                refs[value] = ("child", child.local, index)
        return refs

    # ---- units and their params -----------------------------------------------
    def _name_units(self) -> None:
        by_class: dict[str, list[tuple]] = {}
        for key in self.units:
            by_class.setdefault(key[0], []).append(key)
        taken: set[str] = set()
        for cls, keys in by_class.items():
            keys.sort(key=lambda k: -len(self.units[k]))  # the most used structure takes the class's name
            base = cls if not unit_name_problem(cls) else f"{sanitize(cls) or 'Block'}Unit"
            if unit_name_problem(base):
                base = "Block"
            common = {m[0] for m in keys[0][1]}
            for key in keys:
                extra = [m[0] for m in key[1] if m[0] not in common]
                suffix = extra[0].split("_")[0] if extra and key is not keys[0] else ""
                name = _unique(f"{base}_{suffix}" if suffix else base, taken)
                taken.add(name)
                self.names[key] = name
                for instance in self.units[key]:
                    instance.unit = name

    def _unit_params(self, key: tuple) -> None:
        """The values that differ between a unit's instances become its params (one per distinct pattern)."""
        instances = self.units[key]
        name = self.names[key]
        table: dict[tuple[str, str], list] = {}
        for instance in instances:
            for slot, value in self._settings(instance).items():
                table.setdefault(slot, []).append(value)
        patterns: dict[str, list[tuple[str, str]]] = {}
        for slot, values in table.items():
            if len(values) == len(instances) and len({_canonical(v) for v in values}) > 1:
                if not all(_is_param_value(v) for v in values):
                    raise NotGrouped(f"'{slot[1]}' of '{slot[0]}' differs between the {name} instances in a way "
                                     "a unit param cannot hold")
                patterns.setdefault(json.dumps([_canonical(v) for v in values]), []).append(slot)
        params, slots, taken = {}, {}, set(RESERVED_PARAMS)
        wanted = {}
        for pattern, members in patterns.items():
            names = {param for _, param in members}
            wanted[pattern] = names.pop() if len(names) == 1 else f"{members[0][0]}_{members[0][1]}"
        shared = {wish for wish, count in Counter(wanted.values()).items() if count > 1}
        for pattern, members in patterns.items():
            # two patterns setting out_channels: conv1_out_channels and conv3_out_channels, not out_channels_1
            wish = f"{members[0][0]}_{members[0][1]}" if wanted[pattern] in shared else wanted[pattern]
            param = _unique(sanitize(wish) or "param", taken)
            taken.add(param)
            values = [table[members[0]][i] for i in range(len(instances))]
            params[param] = _most_common(values)
            for slot in members:
                slots[slot] = param
            for instance, value in zip(instances, values):
                instance.values[param] = value
        self.params[name], self.slots[name] = params, slots

    def _settings(self, instance: _Instance) -> dict[tuple[str, str], object]:
        """(inner node, param) -> value, for every param of the instance's layers and children."""
        settings = {}
        for member in instance.members:
            for param, value in self.graph.node(member).params.items():
                settings[(instance.inner[member], param)] = value
        for local, params in self._child_nodes(instance).items():
            for param, value in params[1].items():
                settings[(local, param)] = value
        return settings

    def _child_nodes(self, instance: _Instance) -> dict[str, tuple[str, dict]]:
        """The nodes an instance's children become in its graph: id -> (type, every param's value)."""
        nodes: dict[str, tuple[str, dict]] = {}
        for child in instance.children:
            defaults = self.params[child.unit]
            if child.repeat is None:
                nodes[child.local] = (child.unit, {p: child.values.get(p, v) for p, v in defaults.items()})
                continue
            copies = [c for c in instance.children if c.repeat == child.repeat]
            if child is not copies[0]:
                continue
            common = {p: _most_common([c.values.get(p, d) for c in copies]) for p, d in defaults.items()}
            overrides = {}
            for index, copy in enumerate(copies):
                changed = {p: v for p, v in copy.values.items() if _canonical(v) != _canonical(common[p])}
                if changed:
                    overrides[str(index)] = changed
            nodes[child.repeat] = (REPEAT, {"unit": child.unit, "count": len(copies), **common,
                                            **({"overrides": overrides} if overrides else {})})
        return nodes

    # ---- the document -----------------------------------------------------------
    def build(self, root: _Instance) -> Graph:
        self._name_units()
        depth: dict[tuple, int] = {}
        for key in self.units:
            depth[key] = _depth(self.units[key][0])
        for key in sorted(self.units, key=depth.__getitem__):
            self._unit_params(key)
        document = Graph()
        for key in sorted(self.units, key=depth.__getitem__):
            name = self.names[key]
            document.add_unit(UnitDefinition(name, Graph(units=document.units), self.params[name],
                                             f"Imported from the class {key[0]}."))
        for key in sorted(self.units, key=depth.__getitem__):
            self._fill(document.unit_graph(self.names[key]), self.units[key][0], self.slots[self.names[key]])
        self._fill(document, root, {})
        self._record_ids(root, "")
        return document

    def _fill(self, target: Graph, instance: _Instance, slots: dict) -> None:
        """Put the nodes and wires of `instance` (the first of its unit, or the model) into `target`."""
        nodes: list[tuple[str, str, dict]] = []
        refs = self._refs(instance)
        taken = {instance.inner[m] for m in instance.members} | {c.repeat or c.local for c in instance.children}
        inputs = _port_names("x", len(instance.inputs), taken)
        outputs = _port_names("out", len(instance.outputs), taken | set(inputs))
        if instance.parent is not None:
            nodes += [(port, UNIT_INPUT, {}) for port in inputs]
        sizes = {}
        for member in instance.members:
            node = self.graph.node(member)
            inner = instance.inner[member]
            params = {p: ({"ref": slots[(inner, p)]} if (inner, p) in slots else v) for p, v in node.params.items()}
            nodes.append((inner, node.type, params))
            sizes[inner] = estimated_size(node.type, inner, node.params)
        for local, (type_name, params) in self._child_nodes(instance).items():
            unit = params["unit"] if type_name == REPEAT else type_name
            defaults = self.params[unit]
            nodes.append((local, type_name, {
                p: {"ref": slots[(local, p)]} if (local, p) in slots else v for p, v in params.items()
                if (local, p) in slots or p not in defaults or _canonical(v) != _canonical(defaults[p])}))
        first = {instance.inner[m]: self.order[m] for m in instance.members}
        for child in instance.children:
            local = child.repeat or child.local
            first[local] = min(first.get(local, len(self.order)), *map(self.order.__getitem__, child.all_members()))
        nodes.sort(key=lambda node: first.get(node[0], -1))  # as in the source; the ports first
        if instance.parent is not None:
            nodes += [(port, UNIT_OUTPUT, {}) for port in outputs]
        wires = []  # (source id, port, target id, port)
        for member in instance.members:
            for edge in self.graph.in_edges(member):
                wires.append((*self._source(refs[(edge.source, edge.source_port)], inputs, instance, target),
                              instance.inner[member], edge.target_port))
        for child in instance.children:
            if child.repeat is not None and child.local != "0":
                continue
            ports = target.units[child.unit].inputs()
            for index, value in enumerate(child.inputs):
                wires.append((*self._source(refs[value], inputs, instance, target), child.repeat or child.local,
                              ports[index]))
        for index, value in enumerate(instance.outputs):
            wires.append((*self._source(refs[value], inputs, instance, target), outputs[index], "in"))
        positions = layered_positions([n for n, _, _ in nodes], [(w[0], w[2]) for w in wires], sizes)
        for node_id, type_name, params in nodes:
            target.add_node(type_name, params, node_id, positions[node_id])
        for wire in dict.fromkeys(wires):
            target.connect(wire[0], wire[2], wire[1], wire[3], check=False)

    @staticmethod
    def _source(ref: tuple, inputs: list[str], instance: _Instance, target: Graph) -> tuple[str, str]:
        """The (node, port) a value comes from in the graph being filled."""
        if ref[0] == "in":
            return inputs[ref[1]], "out"
        if ref[0] == "node":
            return ref[1], ref[2]
        child = next(c for c in instance.children if c.local == ref[1])
        if child.repeat is not None:
            copies = [c for c in instance.children if c.repeat == child.repeat]
            child = copies[-1]
        return child.repeat or child.local, target.units[child.unit].outputs()[ref[2]]

    def _record_ids(self, instance: _Instance, prefix: str) -> None:
        """flat id -> the expanded id of the same layer (`layer1.0.conv1`)."""
        for member in instance.members:
            self.flat_to_grouped[member] = prefix + instance.inner[member]
        for child in instance.children:
            local = f"{child.repeat}.{child.local}" if child.repeat is not None else child.local
            self._record_ids(child, f"{prefix}{local}.")


def _checked(result: ImportResult, document: Graph, renamed: dict[str, str]) -> ImportResult:
    """The grouped import, compiled with the flat one's weights and checked to compute exactly the same."""
    from engine.check_sizes import check_inputs, check_shapes
    from engine.compiler import CompileError, compile_graph

    try:
        with torch.random.fork_rng(devices=[]):
            compiled = compile_graph(document)
    except CompileError as error:
        raise NotGrouped(f"the grouped graph does not compile ({error})") from None
    flat = result.compiled
    weights = {}
    for key, tensor in result.weights.items():
        node_id, dot, rest = key.partition(".")
        weights[renamed[node_id] + dot + rest] = tensor
    missing, unexpected = compiled.model.load_state_dict(weights, strict=False, assign=True)
    if missing or unexpected:
        raise NotGrouped(f"its weights do not fit the grouped graph (missing {missing[:3]}, unexpected "
                         f"{unexpected[:3]})")
    compiled.model.eval()
    sources = {(renamed.get(node, node), port): name for name, (node, port) in
               zip(flat.outputs, flat.output_sources)}
    names = dict(zip(compiled.outputs, compiled.output_sources))
    new_name = {sources[source]: name for name, source in names.items() if source in sources}
    if len(new_name) != len(flat.outputs) or [new_name[n] for n in flat.outputs] != compiled.outputs:
        raise NotGrouped("its outputs come out in another order")
    inputs = check_inputs(flat, 2, 0, check_shapes(flat, 2, ""))
    with torch.no_grad():
        want, got = flat.model(*inputs), compiled.model(*inputs)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    if any(not torch.equal(a, b) for a, b in zip(want, got)):
        raise NotGrouped("the grouped graph does not compute exactly what the flat one does")
    project = Project(graph=document, name=result.project.name)
    outputs = {label: new_name[name] for label, name in result.outputs.items()}
    return ImportResult(project, compiled.model.state_dict(), outputs, dict(result.inputs), list(result.notes),
                        compiled)


def unit_uses(graph: Graph) -> Counter:
    """How many instances of each unit the model holds, at any depth (a Repeat counts its copies)."""
    uses = Counter()
    for where in [graph, *(graph.unit_graph(name) for name in graph.units)]:
        for node in where.nodes():
            if node.type == REPEAT:
                uses[node.params["unit"]] += node.resolved_params()["count"]
            elif node.type in graph.units:
                uses[node.type] += 1
    return uses


def unit_summary(graph: Graph) -> str:
    """`BasicBlock (5), BasicBlock_downsample (3)`: each unit and how often it is used."""
    uses = unit_uses(graph)
    return ", ".join(f"{name} ({uses[name]})" for name in graph.units)


def _depth(instance: _Instance) -> int:
    return 1 + max((_depth(child) for child in instance.children), default=0)


def _relative(path: str, parent: str) -> str:
    return path[len(parent) + 1:] if parent and path.startswith(parent + ".") else path


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 0
    while candidate in taken or id_problem(candidate):
        number += 1
        candidate = f"{name}_{number}"
    return candidate


def _port_names(base: str, count: int, taken: set[str]) -> list[str]:
    names = []
    for index in range(count):
        name = _unique(base if count == 1 else f"{base}{index}", taken | set(names))
        names.append(name)
    return names


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True)


def _is_param_value(value) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return isinstance(value, _KINDS)


def _most_common(values: list):
    counts = Counter(_canonical(v) for v in values)
    best = max(counts.values())
    return next(v for v in values if counts[_canonical(v)] == best)



def with_units(result: ImportResult, placements: dict[str, Placement], sequences: set[str]) -> ImportResult:
    """`group_units`, or the flat import with a note saying why it stays flat (none when the model has no
    modules of its own to group)."""
    try:
        grouped = group_units(result, placements, sequences)
    except Exception as error:  # noqa: BLE001 - the flat import is exact already: keep it, saying why
        if any(p.scopes for p in placements.values()):
            reason = str(error) if isinstance(error, NotGrouped) else \
                f"grouping failed ({type(error).__name__}: {error}); please report this model"
            result.notes.append(f"{FLAT_NOTE}: {reason}")
        return result
    grouped.notes.append(f"grouped into units: {unit_summary(grouped.project.graph)}")
    return grouped
