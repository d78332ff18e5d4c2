"""Group a flat import into units, following the source model's module hierarchy.

An importer first maps a model flat (one node per layer), then says for each node where it was
made: the chain of module instances around it (path and class, outermost first) and its name in
the innermost one (`Placement`). `group_units` then rebuilds the graph with units:
- the instances of one class with the same inner structure become ONE unit named after the class,
  used as often as the class was instantiated; the values that differ between the instances (the
  out_channels and stride of a ResNet block) become unit params, referenced by the inner nodes;
- instances of one class whose structures differ only by layers that some of them add on a path
  (torchvision's block, whose `downsample` is a Sequential or None) become ONE unit holding those
  layers as optional, switched by a bool unit param named after them (`downsample`);
- instances of one class with otherwise different structures become one unit per structure, the
  most common one named after the class and the others after what they add (`Block`, `Block_proj`);
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
import re
from collections import Counter
from dataclasses import dataclass, field

from engine.importers.common import ImportResult, sanitize
from engine.importers.unit_check import NotGrouped, checked, unit_summary
from graphs.document import Graph
from graphs.layout import estimated_size, layered_positions
from graphs.names import id_problem
from graphs.node_type import SHARES
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
    return checked(result, document, grouping.flat_to_grouped)


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
        self.switched: dict[tuple, dict[str, str]] = {}  # structure key -> optional inner node -> its switch
        self.fullest: dict[tuple, _Instance] = {}  # structure key -> an instance holding its optional layers

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
        self._merge_optional(instance)
        self.units.setdefault(instance.key, []).append(instance)

    def _merge_optional(self, instance: _Instance) -> None:
        """Join `instance` to a structure of its class that is the same but for optional layers: one that is
        it plus chains of one-in-one-out layers, or that it is, plus such chains (a new fuller structure
        takes the place of the smaller one, its instances moving over)."""
        for key in list(self.units):
            if key[0] != instance.cls or key == instance.key:
                continue
            full = self.fullest.get(key, self.units[key][0])
            extra = self._extra(full, instance)
            if extra is not None and self._key(full, extra) == instance.key:
                self._switch(key, full, extra)
                instance.key = key
                return
            extra = self._extra(instance, full)
            if extra is not None and self._key(instance, extra) == key:
                moved = self.units.pop(key)
                for other in moved:
                    other.key = instance.key
                self.units[instance.key] = moved
                self.switched[instance.key] = dict(self.switched.pop(key, {}))
                self.fullest.pop(key, None)
                self._switch(instance.key, instance, extra | set(self.switched[instance.key]))
                return

    def _extra(self, full: _Instance, small: _Instance) -> set[str] | None:
        """The inner ids of `full`'s layers that `small` lacks, when each is a one-in-one-out layer (else None)."""
        have = {small.inner[m] for m in small.members}
        extra = {m for m in full.members if full.inner[m] not in have}
        if not extra or len(extra) == len(full.members):
            return None
        for member in extra:
            node = self.graph.node(member)
            if len(self.graph.in_edges(member)) != 1 or len(node.output_ports()) != 1 or \
                    (member, node.output_ports()[0]) in full.outputs:
                return None
        return {full.inner[m] for m in extra}

    def _switch(self, key: tuple, full: _Instance, extra: set[str]) -> None:
        """Record `extra` (inner ids) as optional layers of structure `key`, each chain under a switch named
        after its first layer (`downsample_0` -> `downsample`; `norm` -> `with_norm`)."""
        switched = self.switched.setdefault(key, {})
        taken = {full.inner[m] for m in full.members} | {c.local for c in full.children} | set(switched.values())
        for member in full.members:
            name = full.inner[member]
            if name not in extra or name in switched:
                continue
            source = self.graph.in_edges(member)[0].source
            chained = full.inner.get(source) in switched and full.inner[source] in extra
            base = sanitize(re.sub(r"_\d+$", "", name)) or "optional"
            base = f"with_{base}" if base in taken else base  # a layer `norm` is switched by `with_norm`
            switched[name] = switched[full.inner[source]] if chained else \
                _unique(base, taken | set(RESERVED_PARAMS))
            taken.add(switched[name])
        self.fullest[key] = full

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

    def _key(self, instance: _Instance, skip: set[str] = frozenset()) -> tuple:
        """The structure of an instance, without its param values: its class, layers, children and wires;
        with `skip` (inner ids of one-in-one-out layers), as if those layers passed their input on."""
        refs = self._refs(instance)
        for member in instance.members:  # in node order: a chain's first layer before the next
            if instance.inner[member] in skip:
                edge = self.graph.in_edges(member)[0]
                for port in self.graph.node(member).output_ports():
                    refs[(member, port)] = refs[(edge.source, edge.source_port)]
        kept = [m for m in instance.members if instance.inner[m] not in skip]
        members = tuple((instance.inner[m], self.graph.node(m).type, tuple(sorted(self.graph.node(m).params)))
                        for m in kept)
        children = tuple((c.local, c.repeat, c.key) for c in instance.children)
        wires = []
        for node_id in kept:
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
                refs[value] = ("child", child.repeat, child.local, index)  # copies of two Repeats share locals
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
        switched = self.switched.get(key, {})
        table: dict[tuple[str, str], list] = {}
        partial: dict[tuple[str, str], dict[int, object]] = {}  # the settings of optional layers, where made
        for index, instance in enumerate(instances):
            for slot, value in self._settings(instance).items():
                if slot[0] in switched:
                    partial.setdefault(slot, {})[index] = value
                else:
                    table.setdefault(slot, []).append(value)
        for slot, made in partial.items():  # where an instance lacks the layer, any value will do: the first
            table[slot] = [made.get(i, _most_common(list(made.values()))) for i in range(len(instances))]
        patterns: dict[str, list[tuple[str, str]]] = {}
        for slot, values in table.items():
            if slot in partial:
                continue
            if len(values) == len(instances) and len({_canonical(v) for v in values}) > 1:
                if not all(_is_param_value(v) for v in values):
                    raise NotGrouped(f"'{slot[1]}' of '{slot[0]}' differs between the {name} instances in a way "
                                     "a unit param cannot hold")
                patterns.setdefault(json.dumps([_canonical(v) for v in values]), []).append(slot)
        self._fit_optional(partial, patterns, table)
        params, slots, taken = {}, {}, set(RESERVED_PARAMS) | set(switched.values())
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
        for switch in dict.fromkeys(switched.values()):
            made = [all(n in instance.inner.values() for n, s in switched.items() if s == switch)
                    for instance in instances]
            params[switch] = _most_common(made)
            for instance, value in zip(instances, made):
                instance.values[switch] = value
        self.params[name], self.slots[name] = params, slots

    @staticmethod
    def _fit_optional(partial: dict, patterns: dict, table: dict) -> None:
        """An optional layer's setting that differs where the layer is made joins the pattern of a setting
        with the same values there (its stride that of conv1), else becomes a pattern of its own; its values
        where the layer is not made are then that pattern's."""
        for slot, made in partial.items():
            fitting = [p for p, members in patterns.items()
                       if all(_canonical(table[members[0]][i]) == _canonical(v) for i, v in made.items())]
            fitting.sort(key=lambda p: patterns[p][0][1] != slot[1])  # the same argument's pattern first
            if fitting:
                patterns[fitting[0]].append(slot)
                table[slot] = list(table[patterns[fitting[0]][0]])
            elif len({_canonical(v) for v in made.values()}) > 1:
                if not all(_is_param_value(v) for v in made.values()):
                    raise NotGrouped(f"'{slot[1]}' of '{slot[0]}' differs between instances in a way a unit "
                                     "param cannot hold")
                patterns.setdefault(json.dumps([_canonical(v) for v in table[slot]]), []).append(slot)

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
            common = {p: _most_common([c.values.get(p, d) for c in copies], d) for p, d in defaults.items()}
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
                                             f"Imported from the class {key[0]}.", dict(self.switched.get(key, {}))))
        for key in sorted(self.units, key=depth.__getitem__):
            self._fill(document.unit_graph(self.names[key]), self.fullest.get(key, self.units[key][0]),
                       self.slots[self.names[key]])
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
        child = next(c for c in instance.children if (c.repeat, c.local) == (ref[1], ref[2]))
        if child.repeat is not None:
            copies = [c for c in instance.children if c.repeat == child.repeat]
            child = copies[-1]
        return child.repeat or child.local, target.units[child.unit].outputs()[ref[3]]

    def _record_ids(self, instance: _Instance, prefix: str) -> None:
        """flat id -> the expanded id of the same layer (`layer1.0.conv1`)."""
        for member in instance.members:
            self.flat_to_grouped[member] = prefix + instance.inner[member]
        for child in instance.children:
            local = f"{child.repeat}.{child.local}" if child.repeat is not None else child.local
            self._record_ids(child, f"{prefix}{local}.")


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


def _most_common(values: list, prefer=None):
    """The most common of `values`; on a tie `prefer` where it is one of them, else the first."""
    counts = Counter(_canonical(v) for v in values)
    best = max(counts.values())
    if prefer is not None and counts.get(_canonical(prefer)) == best:
        return prefer
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
