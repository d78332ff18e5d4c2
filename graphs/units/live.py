"""`LiveExpansion`: a model's expansion kept in one flat graph and patched where an edit changes it.

The editor's live checks observe the kept flat graph (`engine.unit_shapes.LiveUnitsInference`).
Expanding the whole model again after every edit costs as much as the model is large; instead only the
part an edit changes is expanded again:
- a param or the training options of an instance of the model: that instance;
- a param of a Repeat: the copies whose values change (an override on one copy: that copy), and where
  the count changes, the copies added or removed and the last one;
- a wire of the model to or from an instance: that instance; to or from a Repeat: its first or last copy;
- an edit inside a unit definition: the model's instances and Repeats that use the unit (none where only
  positions changed inside it).
The part's layers are matched by id with those the flat graph holds (a layer that stays has its params
replaced in place, so the observers redo only what changed), the wires inside it and across its border
are recomputed, and the node order is put back to a fresh expansion's. Anything else (an instance or
Repeat of the model added or removed, a unit added, removed, replaced or renamed, an expansion with
errors, a scope whose output is not one of its own layers) expands the whole model again
(`expand(graph, into=flat)`), which is always right. Tests compare the kept graph with a fresh `expand` after random edits and undo.
A Repeat's params edit that leaves its unit's structure as it is (most: `planes`, an override) skips all of
that matching: only the changed layers' params are set (`graphs.units.params_only`). `copy_chains` tells the
live inference which copies expand alike, so that it can infer them whole (`engine.copy_replay`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.document import Edge, Graph
from graphs.errors import GraphError
from graphs.families.units import REPEAT
from graphs.units.expand import (
    MAX_EXPANDED_NODES,
    Expanded,
    _Builder,
    _Context,
    _TooLarge,
    add,
    expand,
    renew,
    reorder,
)
from graphs.units.params_only import copy_values, fixed_structure, params_only
from graphs.units.replay import resolutions


class _Fallback(Exception):
    """The edit cannot be patched in: the whole model is expanded again."""


@dataclass
class _Part:
    """One part expanded again: a model instance `node` (`copies` None), or those copies of a Repeat."""

    node: str
    copies: list[int] | None
    count: int  # a Repeat's count after the edit
    builder: _Builder
    ports: tuple = ((), ())  # the node's input and output ports
    keys: list[str] = field(default_factory=list)  # the part keys (see LiveExpansion._key) it replaces
    wires: set = field(default_factory=set)  # its wires between its own layers
    consumers: dict = field(default_factory=dict)  # (part key, input port) -> [(flat layer, port)] it feeds
    outputs: dict = field(default_factory=dict)  # scope prefix -> port -> the flat (layer, port) giving it


class LiveExpansion:
    """The expansion of `graph` in the kept graph `flat`; say what changed, then call `update()`."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.flat = Graph(dotted_ids=True)
        self.flat.custom_types = graph.custom_types
        self.expanded: Expanded | None = None  # None: expand the whole model at the next update
        self._whole: set[str] = set()  # model instances and Repeats to expand again whole
        self._repeats: dict[str, dict] = {}  # a Repeat whose params changed -> its params at the last update
        self._ends: dict[str, set] = {}  # a Repeat wired anew -> its ends that were (0: its first copy, -1: its last)
        self._counts: dict[str, int] = {}  # the model's Repeats -> their count in the expansion
        self._layers: dict[str, list[str]] = {}  # part key -> its flat layers, in order
        self._copy_lists: dict[str, list[list[str]]] = {}  # a Repeat -> its copies' lists in `_layers` (copies_of)
        self._origins: dict[str, list[str]] = {}  # part key -> its keys in `expanded.origins`
        self._scopes: dict[str, list] = {}  # part key -> its scopes (a Repeat's own: under the Repeat's id)
        self._signatures: dict[str, tuple] = {}  # unit -> what of it the expansion read (`_signature`)
        self._patchable = False  # every scope's outputs come from its own layers (else expand whole)
        self._reorder = False  # a layer of the model was added: put the node order right

    # ---- what changed ----------------------------------------------------------------
    def invalidate(self) -> None:
        self.expanded = None

    def instance_changed(self, node_id: str, old_params: dict | None = None) -> None:
        """An instance or Repeat of the model changed (a Repeat's params: give the params it had)."""
        if old_params is not None and node_id in self._counts:
            self._repeats.setdefault(node_id, old_params)
        else:
            self._whole.add(node_id)

    def layer_added(self, node_id: str) -> None:
        """A layer of the model, added to `flat` by the caller (at the end of its node order)."""
        self._layers[node_id] = [node_id]
        if next(reversed(self.graph._nodes)) != node_id:  # last in the model: last in the expansion too
            self._reorder = True

    def layer_removed(self, node_id: str) -> None:
        self._layers.pop(node_id, None)

    def wire_changed(self, edge) -> None:
        """A wire of the model to or from an instance or Repeat was added or removed: the instance, or the
        Repeat's copy at that end, changes its wires."""
        for node_id, end in ((edge.source, -1), (edge.target, 0)):
            node = self.graph._nodes.get(node_id)
            if node is None or self.graph.is_layer(node.type):
                continue
            if node_id in self._counts:
                self._ends.setdefault(node_id, set()).add(end)
            else:
                self._whole.add(node_id)

    def unit_changed(self, name: str) -> None:
        """A unit's inner graph was edited: every instance and Repeat of the model using it changes, unless
        only its nodes' positions did (the checks read none of them; the flat layers keep theirs until
        their part is expanded again)."""
        units = self.graph.units
        signature = _signature(units[name]) if name in units else None
        if signature is not None and self._signatures.get(name) == signature:
            return
        self._signatures[name] = signature
        for node in self.graph._nodes.values():
            unit = node.params.get("unit") if node.type == REPEAT else node.type
            if isinstance(unit, str) and unit in units and units.contains(unit, name):
                self._whole.add(node.id)

    # ---- the expansion -----------------------------------------------------------------
    def update(self) -> Expanded:
        """The expansion of the model as it is now, `flat` changed into it."""
        if self.expanded is not None and (self._whole or self._repeats or self._ends):
            try:
                self._patch()
            except (_Fallback, _TooLarge, GraphError):
                self.expanded = None
        self._whole.clear()
        self._repeats.clear()
        self._ends.clear()
        if self.expanded is not None and self._reorder:
            try:
                reorder(self.flat, self._order())
            except _Fallback:
                self.expanded = None
        self._reorder = False
        if self.expanded is None:
            self.expanded = expand(self.graph, into=self.flat)
            self._index()
        return self.expanded

    def copy_chains(self) -> list[list[list[str]]]:
        """For each of the model's Repeats whose unit expands alike whatever its values (`fixed_structure`), its
        copies' flat layers in chain order: each copy's in the same order, wired alike, fed by the copy before
        it (`engine.copy_replay`). None while the expansion has errors."""
        if self.expanded is None or self.expanded.errors or not self.expanded.complete:
            return []
        chains = []
        for node_id, count in self._counts.items():
            node = self.graph._nodes.get(node_id)
            unit = node.params.get("unit") if node is not None else None
            if count > 2 and isinstance(unit, str) and fixed_structure(self.graph.units, unit):
                chains.append(self.copies_of(node_id))
        return chains

    def copies_of(self, node_id: str) -> list[list[str]]:
        """The flat layers of each copy of the model's Repeat `node_id`, in order (kept until its copies change)."""
        found = self._copy_lists.get(node_id)
        if found is None or len(found) != self._counts[node_id]:
            found = self._copy_lists[node_id] = [self._layers.get(f"{node_id}.{i}", []) for i in range(self._counts[node_id])]
        return found

    def _index(self) -> None:
        """Group the fresh expansion's layers and origins by part; note the model's Repeats' counts."""
        self._counts = {}
        self._signatures = {name: _signature(definition) for name, definition in self.graph.units.items()}
        for node in self.graph._nodes.values():
            if node.type == REPEAT:
                try:
                    self._counts[node.id] = self._resolved(node, node.params)["count"]
                except GraphError:  # reported in the expansion's errors, which patch nothing
                    pass
        self._layers, self._origins, self._copy_lists = {}, {}, {}
        for node_id in self.flat._nodes:
            self._layers.setdefault(self._key(node_id), []).append(node_id)
        for node_id in self.expanded.origins:
            self._origins.setdefault(self._key(node_id), []).append(node_id)
        self._scopes = {}
        for scope in self.expanded.scopes:
            self._scopes.setdefault(self._key(scope.prefix), []).append(scope)
        self._patchable = all(source.startswith(prefix + ".") for prefix, ports in self.expanded.scope_outputs.items()
                              for source, _ in ports.values())

    def _key(self, flat_id: str) -> str:
        """The part a flat id belongs to: the model's node (`block`), or the copy of a Repeat (`layer1.0`)."""
        head, dot, rest = flat_id.partition(".")
        return f"{head}.{rest.partition('.')[0]}" if dot and head in self._counts else head

    def _resolved(self, node, params: dict) -> dict:
        return self.graph.spec_of(node.type, params, node.id).resolve_params(self.graph.concrete(params), node.id)

    # ---- a patch -------------------------------------------------------------------------
    def _patch(self) -> None:
        expanded = self.expanded
        if expanded.errors or not expanded.complete or not self._patchable or \
                _Builder(self.graph)._size(self.graph, {}) > MAX_EXPANDED_NODES:
            raise _Fallback
        if params_only(self):
            return
        parts = [self._whole_part(node_id) for node_id in sorted(self._whole)]
        parts += [self._repeat_part(node_id, self._repeats.get(node_id), self._ends.get(node_id, ()))
                  for node_id in sorted({*self._repeats, *self._ends}) if node_id not in self._whole]
        parts = [part for part in parts if part is not None]
        if not parts:
            return
        for part in parts:  # a unit edit may have taken a port the model wires: a whole expansion reports it
            if any(edge.target_port not in part.ports[0] for edge in self.graph.in_edges(part.node)) or \
                    any(edge.source_port not in part.ports[1] for edge in self.graph.out_edges(part.node)):
                raise _Fallback
        for part in parts:
            self._resolve(part)
        old_region = {node_id for part in parts for key in part.keys for node_id in self._layers.get(key, ())}
        kept = [border for part in parts for border in self._kept_consumers(part, old_region)]
        self._update_scopes(parts)
        wanted = set()
        for part in parts:
            wanted |= part.wires
            for (key, port), consumers in part.consumers.items():
                source, source_port = self._feeder(part, key, port)
                wanted.update(Edge(source, target, source_port, target_port) for target, target_port in consumers)
        for (prefix, port), targets in kept:
            source, source_port = expanded.scope_outputs[prefix][port]
            wanted.update(Edge(source, target, source_port, target_port) for target, target_port in targets)
        self._apply(parts, old_region, wanted)

    def _whole_part(self, node_id: str) -> _Part:
        node = self.graph._nodes.get(node_id)
        if node is None or self.graph.is_layer(node.type):
            raise _Fallback
        if node.type != REPEAT:
            return self._build(node, None, 0)
        if node_id not in self._counts:
            raise _Fallback
        count = self._resolved(node, node.params)["count"]
        return self._build(node, list(range(max(count, self._counts[node_id]))), count)

    def _repeat_part(self, node_id: str, old_params: dict | None, ends) -> _Part | None:
        """The copies of a Repeat that change: those whose values its new params change, or their place at
        the end, and those at the `ends` wired anew (0, -1: the last)."""
        node, _, after, changed = self._changes(node_id, old_params, ends)
        if changed is None:
            return self._whole_part(node_id)
        return self._build(node, sorted(changed), after["count"]) if changed else None

    def _changes(self, node_id: str, old_params: dict | None, ends) -> tuple:
        """(the Repeat, its params resolved before and after, the copies `_repeat_part` expands again: None when
        its unit changed)."""
        node = self.graph._nodes.get(node_id)
        if node is None or node.type != REPEAT or node_id not in self._counts:
            raise _Fallback
        after = self._resolved(node, node.params)
        before = after if old_params is None else self._resolved(node, old_params)
        if before["unit"] != after["unit"]:
            return node, before, after, None
        names = self.graph.units[after["unit"]].params
        old, new = self._counts[node_id], after["count"]
        overridden = {int(i) for i in (*before["overrides"], *after["overrides"]) if int(i) < min(old, new)}
        if all(before[name] == after[name] for name in names):  # only the copies overridden can change
            candidates = overridden
        else:
            candidates = range(min(old, new))
        changed = {i for i in candidates
                   if i not in overridden or copy_values(names, before, i) != copy_values(names, after, i)}
        if old != new:
            changed.update(range(max(0, min(old, new) - 1), max(old, new)))
        changed.update(new - 1 if end == -1 else end for end in ends)
        return node, before, after, changed

    def _build(self, node, copies: list[int] | None, count: int, layers_only: bool = False) -> _Part:
        builder = _Builder(self.graph)
        builder.copies = None if copies is None else set(copies)
        builder.layers_only = layers_only
        builder._node(self.graph, node, _Context("", None, None, (), "", ()), {}, {}, {})
        if builder.result.errors:
            raise _Fallback
        keys = [node.id] if copies is None else [f"{node.id}.{i}" for i in copies]
        spec = self.graph.spec_of(node.type, node.params, node.id)
        return _Part(node.id, copies, count, builder, keys=keys, ports=(tuple(spec.inputs), tuple(spec.outputs)))

    def _resolve(self, part: _Part) -> None:
        """The part's wires, the layers its inputs feed and the layers giving its scopes' outputs, followed
        through unit port nodes; the part's own inputs end at a mark (None, (part key, port))."""
        builder = part.builder
        source_of = {target: (source, port) for source, port, target, _ in builder.edges if target in builder.passthrough}
        if part.copies is None:
            entries = [(part.node, port) for port in part.ports[0]]
        else:
            entries = [(key, part.ports[0][0]) for key, i in zip(part.keys, part.copies) if i < part.count]
        for key, port in entries:
            source_of.setdefault(f"{key}.{port}", (None, (key, port)))
        present = {node.id for node in builder.nodes}
        for source, source_port, target, target_port in builder.edges:
            if target in builder.passthrough:
                continue
            found = builder._resolve(source, source_port, source_of, target)
            if found is None or target not in present:
                raise _Fallback
            if found[0] is None:
                part.consumers.setdefault(found[1], []).append((target, target_port))
            elif found[0] in present:
                part.wires.add(Edge(found[0], target, found[1], target_port))
            else:
                raise _Fallback
        for prefix, ports in builder.result.scope_outputs.items():
            if prefix == part.node and part.copies is not None:
                continue  # the Repeat's output: its last copy's, set in _update_scopes
            part.outputs[prefix] = {}
            for port, (source, source_port) in ports.items():
                found = builder._resolve(source, source_port, source_of, None)
                if found is None or found[0] is None or not found[0].startswith(prefix + "."):
                    raise _Fallback  # an output given straight by an input: whole expansions handle it
                part.outputs[prefix][port] = found

    def _kept_consumers(self, part: _Part, old_region: set) -> list:
        """The layers outside the changed region that the part's outputs feed now, read before anything
        changes: [((scope prefix giving them after the edit, port), [(layer, port)])]."""
        outputs = self.expanded.scope_outputs
        if part.copies is None:
            borders = [(part.node, port, (part.node, port)) for port in part.ports[1]]
        else:
            port = part.ports[1][0]
            last = f"{part.node}.{part.count - 1}"
            borders = [(part.node, port, (last, port))]  # the Repeat's consumers, fed by its last copy
            borders += [(f"{part.node}.{i}", port, (f"{part.node}.{i}", port)) for i in part.copies
                        if i + 1 < part.count and i + 1 not in part.copies]  # a copy feeding one kept
        kept, sources = [], set()
        for prefix, port, giver in borders:
            old = outputs.get(prefix, {}).get(port)
            if old is None:
                continue
            if old[0] not in old_region:
                if part.copies is None or prefix != part.node:
                    raise _Fallback  # an output from outside the part
                continue  # the Repeat's last copy is kept, and its wires
            if old in sources:
                raise _Fallback  # two outputs given by one layer: whose consumers are whose?
            sources.add(old)
            targets = [(edge.target, edge.target_port) for edge in self.flat.out_edges(old[0])
                       if edge.source_port == old[1] and edge.target not in old_region]
            if prefix == part.node:  # the model's own layers it feeds: as the model's wires say now
                targets = [target for target in targets if "." in target[0]]
                targets += [(edge.target, edge.target_port) for edge in self.graph.out_edges(part.node)
                            if edge.source_port == port and self.graph.is_layer(self.graph._nodes[edge.target].type)]
            if targets:
                kept.append((giver, targets))
        return kept

    def _feeder(self, part: _Part, key: str, port: str) -> tuple[str, str]:
        """The flat (layer, port) feeding the part's input `port` of part key `key` after the edit."""
        outputs = self.expanded.scope_outputs
        if part.copies is not None and key != f"{part.node}.0":
            found = outputs.get(f"{part.node}.{int(key.rpartition('.')[2]) - 1}", {}).get(part.ports[1][0])
            if found is None:
                raise _Fallback
            return found
        edge = self.graph.edge_into(part.node, port)
        if edge is None:
            raise _Fallback  # an open input: a whole expansion reports it
        if self.graph.is_layer(self.graph._nodes[edge.source].type):
            return edge.source, edge.source_port
        found = outputs.get(edge.source, {}).get(edge.source_port)
        if found is None:
            raise _Fallback
        return found

    def _update_scopes(self, parts: list[_Part]) -> None:
        """The expansion's scopes, origins and outputs, those of the parts replaced (the list of scopes kept
        as it is where they are the same, as after a param edit, so that `ScopeTotals` adds up only what changed)."""
        expanded = self.expanded
        keys = {key for part in parts for key in part.keys}
        repeats = {part.node: part for part in parts if part.copies is not None}  # they keep their scope's place
        old = [scope for key in keys for scope in self._scopes.get(key, ())]
        new = [scope for part in parts for scope in part.builder.result.scopes if scope.prefix not in repeats]
        own = {scope.prefix: scope for part in repeats.values() for scope in part.builder.result.scopes
               if scope.prefix == part.node}
        stale = [(part.node, port) for part in parts for port in expanded.scope_outputs.get(part.node, ())]
        for scope in old:
            expanded.scope_outputs.pop(scope.prefix, None)
        if len(old) != len(new) or set(old) != set(new) or any(own[node] not in self._scopes.get(node, ()) for node in own):
            gone = set(old)
            expanded.scopes = [own.get(scope.prefix, scope) for scope in expanded.scopes if scope not in gone] + new
        for key in keys:
            self._scopes.pop(key, None)
        self._scopes.update({node: [scope] for node, scope in own.items()})
        for scope in new:
            self._scopes.setdefault(self._key(scope.prefix), []).append(scope)
        for part in parts:
            expanded.scope_outputs.update(part.outputs)
            origins = part.builder.result.origins
            for origin in _regroup(self._origins, part.keys, list(origins), self._key):
                del expanded.origins[origin]
            expanded.origins.update(origins)
        for key in stale:
            expanded.outputs.pop(key, None)
        for part in parts:
            if part.copies is not None:
                self._counts[part.node] = part.count
                expanded.scope_outputs[part.node] = dict(expanded.scope_outputs[f"{part.node}.{part.count - 1}"])
            for port, source in expanded.scope_outputs[part.node].items():
                expanded.outputs[(part.node, port)] = source

    def _apply(self, parts: list[_Part], old_region: set, wanted: set) -> None:
        """Change the flat graph: the parts' layers, then the wires touching them, then the node order."""
        flat = self.flat
        new_nodes = {node.id: node for part in parts for node in part.builder.nodes}
        for node_id in old_region:
            if node_id not in new_nodes or new_nodes[node_id].type != flat._nodes[node_id].type:
                flat.remove_node(node_id)
        added, kept = False, resolutions(new_nodes.values())
        for node in new_nodes.values():
            current = flat._nodes.get(node.id)
            if current is None:
                add(flat, node, kept)
                added = True
            else:
                renew(flat, current, node, kept)
        kept = 0  # the wanted wires already there (each wire touching the region is seen once)
        for node_id in new_nodes:
            for edge in flat.in_edges(node_id):
                if edge in wanted:
                    kept += 1
                else:
                    flat.disconnect(edge)
            for edge in flat.out_edges(node_id):
                if edge.target not in new_nodes:
                    if edge in wanted:
                        kept += 1
                    else:
                        flat.disconnect(edge)
        if kept < len(wanted):
            for edge in wanted:
                if not flat.has_edge(edge):
                    flat.connect(edge.source, edge.target, edge.source_port, edge.target_port, check=False)
        for part in parts:
            _regroup(self._layers, part.keys, [node.id for node in part.builder.nodes], self._key)
        self._copy_lists = {}
        if added:
            reorder(flat, self._order())

    def _order(self) -> list[str]:
        """The flat layers in a fresh expansion's order: the model's nodes in order, a Repeat's copies in order."""
        order = []
        for node_id in self.graph._nodes:
            if node_id in self._counts:
                for i in range(self._counts[node_id]):
                    order += self._layers.get(f"{node_id}.{i}", ())
            else:
                order += self._layers.get(node_id, ())
        if len(order) != len(self.flat._nodes):
            raise _Fallback
        return order


def _regroup(groups: dict, keys: list[str], ids: list[str], key_of) -> list[str]:
    """Put `ids` (a part's, in order) in `groups` (part key -> ids) in place of those of `keys`; the ids
    that are gone. Where they are the same ids in the same order (a param edit), the groups stay as they are."""
    old = [node_id for key in keys for node_id in groups.get(key, ())]
    if old == ids:
        return []
    for key in keys:
        groups.pop(key, None)
    for node_id in ids:
        groups.setdefault(key_of(node_id), []).append(node_id)
    now = set(ids)
    return [node_id for node_id in old if node_id not in now]


def _signature(definition) -> tuple:
    """What of a unit its expansion reads, all but its nodes' positions (the document replaces a node's
    params on every change, never changes them in place, so holding them is enough)."""
    graph = definition.graph
    return (dict(definition.params), dict(definition.optional), frozenset(graph._edges),
            [(node.id, node.type, node.params, node.trainable, node.lr_mult) for node in graph._nodes.values()])
