"""What changed between two graphs, or two runs' training settings: one torch- and Qt-free answer that the
`diff` command prints and the GUI draws on the canvas.

Nodes are matched by id (ids are stable across edits; a rename reads as one node removed and one added).
A node whose type changed is listed as changed, with "type" among its changes. Positions are not
compared: moving a node changes nothing the model computes. Units added, removed or edited are listed
by name, and each instance (or Repeat) of an edited unit is changed, with "unit definition" among its
changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.document import Edge, Graph

MISSING = "(not set)"


@dataclass(frozen=True)
class GraphDiff:
    """From graph `a` to graph `b`: node ids added and removed, params changed, wires added and removed."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, dict[str, tuple]] = field(default_factory=dict)  # node id -> param -> (a's, b's)
    edges_added: list[Edge] = field(default_factory=list)
    edges_removed: list[Edge] = field(default_factory=list)
    units_changed: list[str] = field(default_factory=list)  # units added, removed or edited

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.edges_added or self.edges_removed
                    or self.units_changed)

    def as_dict(self) -> dict:
        return {"nodes_added": self.added, "nodes_removed": self.removed,
                "params_changed": {node: {name: list(values) for name, values in params.items()}
                                   for node, params in self.changed.items()},
                "edges_added": [e.as_dict() for e in self.edges_added],
                "edges_removed": [e.as_dict() for e in self.edges_removed],
                **({"units_changed": self.units_changed} if self.units_changed else {})}


def graph_diff(a: Graph, b: Graph) -> GraphDiff:
    """What turns `a` into `b` (nodes by id, params as the user set them, wires)."""
    ids_a, ids_b = a.node_ids(), b.node_ids()
    in_b, in_a = set(ids_b), set(ids_a)
    changed = {}
    for node_id in ids_a:
        if node_id in in_b:
            params = _changed_params(a.node(node_id), b.node(node_id))
            if params:
                changed[node_id] = params
    edges_a, edges_b = a.edges(), b.edges()
    set_a, set_b = set(edges_a), set(edges_b)
    units = [name for name in dict.fromkeys([*a.units, *b.units])
             if name not in a.units or name not in b.units or a.units[name].snapshot() != b.units[name].snapshot()]
    for node_id in ids_b:
        node = b.node(node_id)
        unit = node.params.get("unit") if node.type == "Repeat" else node.type
        if node_id in in_a and unit in units and unit in a.units:
            changed.setdefault(node_id, {})["unit definition"] = (unit, unit)
    return GraphDiff(added=[n for n in ids_b if n not in in_a], removed=[n for n in ids_a if n not in in_b],
                     changed=changed, edges_added=[e for e in edges_b if e not in set_a],
                     edges_removed=[e for e in edges_a if e not in set_b], units_changed=units)


def _changed_params(node_a, node_b) -> dict[str, tuple]:
    changes = {}
    if node_a.type != node_b.type:
        changes["type"] = (node_a.type, node_b.type)
    for name in sorted(set(node_a.params) | set(node_b.params)):
        old, new = node_a.params.get(name, MISSING), node_b.params.get(name, MISSING)
        if old != new:
            changes[name] = (old, new)
    return changes


def flatten(settings, prefix: str = "") -> dict[str, object]:
    """Nested settings as dotted keys: {"optimizer": {"lr": 0.1}} -> {"optimizer.lr": 0.1}."""
    if not isinstance(settings, dict):
        return {prefix: settings} if prefix else {}
    flat: dict[str, object] = {}
    for key, value in settings.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def settings_diff(a: dict, b: dict) -> dict[str, tuple]:
    """The dotted settings whose values differ between `a` and `b`: name -> (a's, b's), MISSING where unset."""
    flat_a, flat_b = flatten(a), flatten(b)
    return {name: (flat_a.get(name, MISSING), flat_b.get(name, MISSING))
            for name in sorted(set(flat_a) | set(flat_b)) if flat_a.get(name, MISSING) != flat_b.get(name, MISSING)}
