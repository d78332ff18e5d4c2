"""What changed between two inference results, for the panels that follow each result.

Shape inference keeps a node's outcome objects (`info`, `inputs`) while nothing it depends on changed,
so the nodes whose part of a result changed are those whose objects are not the same ones: a
comparison by identity that runs in C over the two dicts, about a millisecond at 10,000 nodes. A result
of live inference says itself which nodes it visited since the result it follows (`basis`, `changed`),
and then neither the comparison nor the totals walk every node. The
scene, the summary table and the status bar use it to touch only those nodes (and, for the canvas,
only when they are drawn); `totals` sums the model's parameter and MAC counts once per result.
"""

from __future__ import annotations

from itertools import compress
from operator import attrgetter, is_not

_memo: tuple = (None, None, set())  # (previous, result, changed): the scene and the summary ask for the same pair
_totals: tuple = (None, 0, 0)  # (result, params, macs)


def _differs(old: dict, new: dict) -> set[str]:
    """The keys whose values are not the same objects in both (added and removed keys included)."""
    changed = set(compress(new, map(is_not, map(old.get, new), new.values())))
    added = len(changed) - sum(map(old.__contains__, changed))
    if len(old) + added != len(new):  # some keys were removed: look for them
        changed.update(compress(old, map(is_not, map(new.get, old), old.values())))
    return changed


def changed_nodes(previous, result) -> set[str] | None:
    """The ids of the nodes whose shapes, inputs or errors are not the same in `result` as in
    `previous` (ids that are gone included); None when there is no `previous` (everything is new)."""
    global _memo
    if previous is None:
        return None
    if _memo[0] is previous and _memo[1] is result:
        return _memo[2]
    if getattr(result, "basis", None) is previous and result.changed is not None:
        changed = set(result.changed)  # the inference says which nodes it visited or forgot since `previous`
    else:
        changed = _differs(previous.info, result.info) | _differs(previous.inputs, result.inputs)
    changed.update(previous.errors_by_node)  # a few nodes: their errors may have changed without their shapes
    changed.update(result.errors_by_node)
    changed.discard(None)
    _memo = (previous, result, changed)
    return changed


def totals(result) -> tuple[int, int]:
    """The model's (parameter count, MACs) in `result`, summed once per result (in C: under a
    millisecond at 10,000 nodes) however many panels show them."""
    global _totals
    if _totals[0] is result:
        return _totals[1], _totals[2]
    previous = _totals[0]
    if previous is not None and getattr(result, "basis", None) is previous and result.changed is not None \
            and len(result.changed) * 4 < len(result.info):  # only what changed: subtract it, add it back
        old = list(filter(None, map(previous.info.get, result.changed)))  # (in C: NodeInfos are true)
        new = list(filter(None, map(result.info.get, result.changed)))
        params, macs = attrgetter("params"), attrgetter("macs")
        _totals = (result, _totals[1] - sum(map(params, old)) + sum(map(params, new)),
                   _totals[2] - sum(map(macs, old)) + sum(map(macs, new)))
    else:
        infos = result.info.values()
        _totals = (result, sum(map(attrgetter("params"), infos)), sum(map(attrgetter("macs"), infos)))
    return _totals[1], _totals[2]
