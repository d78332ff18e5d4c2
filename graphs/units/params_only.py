"""A Repeat's params edit that changes only its copies' layers' params, set in place in the kept flat graph.

Most edits of a Repeat change its values (`planes`, an override) and not its structure: when its unit's
layers, wires and scopes read no unit param (`fixed_structure`), every copy keeps its layers, wires, scopes
and origins, and only the params of the layers that read a changed value change. `params_only` expands one
copy per distinct (values before, values after), layers only, finds the layers whose params differ, and
gives those layers of every copy alike their new params (one params object for each layer of the unit),
announced in one `params_renewed` event (`renew_params_many`) that the live checks handle a group at a time:
an edit that changes every copy of a 900-copy Repeat sets 2,700 layers' params at C speed (bench section 18).
Anything else is left to `graphs.units.live.LiveExpansion`'s usual patch.
"""

from __future__ import annotations

from operator import attrgetter, itemgetter

from graphs.document import Node
from graphs.families.units import REPEAT
from graphs.node_type import SHARES
from graphs.unit_registry import is_ref
from graphs.units.expand import _Builder, _Context, renew_params_many
from graphs.units.replay import resolutions


def params_only(live) -> bool:
    """Patch `live` (a LiveExpansion whose pending changes are Repeats' params only) in place when every one of
    them keeps its unit, its count and its structure; False, having changed nothing, when it can't."""
    if live._whole or live._ends:
        return False
    graph, flat = live.graph, live.flat._nodes
    groups, layers = [], []  # ([flat layers], the params they all get); the representative layers whose params changed
    for node_id, old_params in live._repeats.items():
        node, before, after, changed = live._changes(node_id, old_params, ())
        if changed is None or after["count"] != live._counts[node_id] or not fixed_structure(graph.units, after["unit"]):
            return False
        names = graph.units[after["unit"]].params
        for copies in _alike(names, before, after, changed):
            differ = _differing_layers(graph, node, old_params, copies[0])
            if differ is None:
                return False
            layers += [layer for _, layer in differ]
            cut = len(f"{node_id}.{copies[0]}")
            # each copy's layers, in the same order in every copy (its unit expands alike): a layer's place in the
            # first copy is its place in all of them
            lists = live.copies_of(node_id)
            kept = [lists[i] for i in copies]
            shortest = min(map(len, kept))
            for _, layer in differ:
                place = kept[0].index(layer.id) if layer.id in kept[0] else None
                if place is None or place >= shortest:
                    return False
                current = list(map(flat.get, map(itemgetter(place), kept)))
                if not all(current) or set(map(_TYPE, current)) != {layer.type}:  # (all: no node missing)
                    return False
                if layer.params.get(SHARES):  # each copy's layer shares its own copy's owner
                    groups += [([node], {**layer.params, SHARES: f"{node_id}.{i}" + layer.params[SHARES][cut:]})
                               for node, i in zip(current, copies)]
                else:
                    groups.append((current, layer.params))
    renew_params_many(live.flat, groups, resolutions(layers))
    return True


_TYPE = attrgetter("type")


def copy_values(names, resolved: dict, i: int) -> dict:
    """The unit param values of a Repeat's copy `i`: the Repeat's, then its override for that copy."""
    return {**{name: resolved[name] for name in names}, **resolved["overrides"].get(str(i), {})}


def _alike(names, before: dict, after: dict, changed) -> list[list[int]]:
    """The changed copies grouped by (their values before, after): those overridden neither before nor after
    form one group, without comparing their values one by one."""
    if not before["overrides"] and not after["overrides"]:
        return [sorted(changed)] if changed else []
    groups: dict = {}
    for i in sorted(changed):
        key = str(i)
        if key in before["overrides"] or key in after["overrides"]:
            key = repr((copy_values(names, before, i), copy_values(names, after, i)))
        else:
            key = None
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _differing_layers(graph, node, old_params: dict, i: int) -> list[tuple[str, Node]] | None:
    """[(the layer's id after the copy's prefix, the layer with its new params)] for the layers of copy `i`
    whose params the edit changes; None when the copy's layers differ otherwise or its expansion has errors."""
    was = Node(node.id, node.type, old_params, node.position, node.trainable, node.lr_mult, graph)
    old, new = _copy_layers(graph, was, i), _copy_layers(graph, node, i)
    if old is None or new is None or [(n.id, n.type) for n in old] != [(n.id, n.type) for n in new]:
        return None
    cut = len(f"{node.id}.{i}")
    return [(layer.id[cut:], layer) for layer, before in zip(new, old) if layer.params != before.params]


def _copy_layers(graph, node, i: int) -> list[Node] | None:
    builder = _Builder(graph)
    builder.copies, builder.layers_only = {i}, True
    builder._node(graph, node, _Context("", None, None, (), "", ()), {}, {}, {})
    return None if builder.result.errors else builder.nodes


def fixed_structure(units, name: str, seen: frozenset = frozenset()) -> bool:
    """Whether every copy of unit `name` expands to the same layers, wires and scopes whatever its param values:
    no optional node in it or the units it holds, and no Repeat in them whose unit, count or overrides read a
    unit param (the values it passes on reach only layers' params, in units that read none for structure)."""
    definition = units.get(name)
    if definition is None or definition.optional or name in seen:
        return False
    for node in definition.graph._nodes.values():
        if node.type == REPEAT:
            inner = node.params.get("unit")
            if any(is_ref(node.params.get(name)) for name in ("unit", "count", "overrides")) or \
                    not isinstance(inner, str):
                return False
        elif node.type in units:
            inner = node.type
        else:
            continue
        if not fixed_structure(units, inner, seen | {name}):
            return False
    return True
