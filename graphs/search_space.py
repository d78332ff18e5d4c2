"""A project's search space for sweeps: which settings and node params to try, over which values.

The project's `"search"` section maps a target to a distribution:

    {"optimizer.lr": {"log_uniform": [1e-4, 1e-1]},
     "nodes.fc1.out_features": {"choice": [32, 64, 128]},
     "training.batch_size": {"choice": [32, 64]},
     "training.epochs": {"int_uniform": [2, 8], "step": 2}}

Targets are `training.<setting>`, `optimizer.<setting>`, `schedule.<setting>` and
`nodes.<node id>.<param>`. Distributions are `choice` (a non-empty list),
`uniform` and `log_uniform` ([low, high] floats; log needs low > 0), and
`int_uniform` ([low, high] integers), each with an optional `step`.
`parse_search_space` checks everything against the graph and the settings
before a trial runs, raising `SearchSpaceError` (a `GraphError` that names the
node for a node param) for a target that does not exist, an empty choice, a
reversed range, a log range that reaches 0, or a value the target can't take.
`apply_values` gives the project one trial trains. No torch, no Qt here.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

from graphs.errors import GraphError, ParamError, quoted
from graphs.params import ParamSpec

KINDS = ("choice", "uniform", "log_uniform", "int_uniform")
SECTIONS = ("training", "optimizer", "schedule", "nodes")
MAX_CHOICES = 1000

# the training settings a sweep may vary, as param schemas (the engine checks them again at train time)
TRAINING_PARAMS = {spec.name: spec for spec in (
    ParamSpec("batch_size", "int", 64, 1, 1 << 20),
    ParamSpec("epochs", "int", 10, 1, 100_000),
    ParamSpec("val_split", "float", 0.2, 0.01, 0.99),
    ParamSpec("seed", "int", 0, 0, 2**63 - 1),
    ParamSpec("grad_clip", "float", None, 1e-12, None),
    ParamSpec("patience", "int", None, 1, 100_000),
)}
# optimizer and schedule settings are checked by name only here: numbers, positive where they must be
POSITIVE_SETTINGS = {"lr", "max_lr", "eps", "step_size", "div_factor", "final_div_factor"}


class SearchSpaceError(GraphError):
    """A problem with one entry of the search space; `target` is its key."""

    def __init__(self, message: str, target: str, node: str | None = None):
        super().__init__(f"search space {quoted(target)}: {message}", node=node)
        self.target = target


@dataclass(frozen=True)
class Dimension:
    """One searched target and its distribution."""

    target: str
    kind: str  # one of KINDS
    choices: tuple = ()
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None

    def as_dict(self) -> dict:
        if self.kind == "choice":
            return {"choice": list(self.choices)}
        entry = {self.kind: [self.low, self.high]}
        if self.step is not None:
            entry["step"] = self.step
        return entry

    @property
    def grid(self) -> list | None:
        """Every value, where there are finitely many (a choice, or an int range), else None."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int_uniform":
            return list(range(self.low, self.high + 1, self.step or 1))
        if self.kind == "uniform" and self.step:
            count = int(round((self.high - self.low) / self.step))
            return [self.low + i * self.step for i in range(count + 1)]
        return None


def split_target(target: str) -> tuple[str, str | None, str]:
    """(section, node id or None, name) of a target such as `nodes.fc1.out_features` or `optimizer.lr`."""
    section, _, rest = target.partition(".")
    if section == "nodes":
        node_id, _, name = rest.rpartition(".")
        return section, node_id, name
    return section, None, rest


def with_node_renamed(search: dict, old: str, new: str) -> dict:
    """`search` with node `old`'s targets moved to node `new`, in the same order (a rename keeps its sweep)."""
    def moved(target: str) -> str:
        section, node_id, name = split_target(target)
        return f"nodes.{new}.{name}" if section == "nodes" and node_id == old else target
    return {moved(target): entry for target, entry in search.items()}


def without_nodes(search: dict, node_ids) -> dict:
    """`search` without the targets of the nodes `node_ids` (a deleted node's sweep goes with it)."""
    gone = set(node_ids)
    return {target: entry for target, entry in search.items() if split_target(target)[1] not in gone}


def _spec_for(target: str, graph, training: dict) -> tuple[ParamSpec, str | None]:
    """The schema a target's values must fit, and the node it belongs to (None for a setting)."""
    section, node_id, name = split_target(target)
    if section not in SECTIONS or not name:
        raise SearchSpaceError("not a searchable target; use training.<setting>, optimizer.<setting>, "
                               "schedule.<setting> or nodes.<node id>.<param>", target)
    if section == "nodes":
        if not node_id or not graph.has_node(node_id):
            raise SearchSpaceError(f"there is no node {quoted(node_id)} in the graph", target,
                                   node_id if node_id and graph.has_node(node_id) else None)
        node = graph.node(node_id)
        try:
            return node.spec.param(name), node_id
        except KeyError:
            known = ", ".join(spec.name for spec in node.spec.params) or "none"
            raise SearchSpaceError(f"{node.type} '{node_id}' has no param {quoted(name)}; its params: {known}",
                                   target, node_id) from None
    if section == "training":
        if name not in TRAINING_PARAMS:
            raise SearchSpaceError(f"training setting {quoted(name)} can't be searched; searchable settings: "
                                   f"{', '.join(TRAINING_PARAMS)}", target)
        return TRAINING_PARAMS[name], None
    settings = training.get(section)
    if not isinstance(settings, dict) and not isinstance(settings, str):
        raise SearchSpaceError(f"the project has no {section}; set one in the training settings first", target)
    if name == "type":
        return ParamSpec(name, "choice", None, choices=_TYPES[section]), None
    minimum = 1e-300 if name in POSITIVE_SETTINGS else 0.0
    return ParamSpec(name, "float", None, minimum), None


_TYPES = {"optimizer": ("SGD", "Adam", "AdamW", "RMSprop"), "schedule": ("none", "step", "cosine", "one-cycle")}


def _coerce(spec: ParamSpec, value, target: str, node: str | None):
    try:
        return spec.coerce(value, node)
    except ParamError as error:
        raise SearchSpaceError(f"a value it can't take: {error.message}", target, node) from None


def _number(value, target: str, node: str | None, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SearchSpaceError(f"{what} must be a finite number, got {quoted(value)}", target, node)
    return value


def parse_dimension(target: str, entry, graph, training: dict) -> Dimension:
    """Check one entry of the search space; a SearchSpaceError saying what is wrong."""
    if not isinstance(target, str):
        raise SearchSpaceError("a target must be a string", str(target))
    spec, node = _spec_for(target, graph, training)
    if not isinstance(entry, dict):
        raise SearchSpaceError(f'must be an object such as {{"choice": [...]}}, got {quoted(entry)}', target, node)
    kinds = [key for key in entry if key in KINDS]
    unknown = sorted(set(entry) - set(KINDS) - {"step"})
    if unknown or len(kinds) != 1:
        raise SearchSpaceError(f"must hold exactly one of {', '.join(KINDS)} (and optionally step), got keys "
                               f"{', '.join(quoted(k) for k in entry) or 'none'}", target, node)
    kind = kinds[0]
    if kind == "choice":
        values = entry["choice"]
        if not isinstance(values, list) or not values:
            raise SearchSpaceError("an empty choice: list at least one value", target, node)
        if len(values) > MAX_CHOICES:
            raise SearchSpaceError(f"at most {MAX_CHOICES} choices, got {len(values)}", target, node)
        if "step" in entry:
            raise SearchSpaceError("a choice takes no step", target, node)
        coerced = [_coerce(spec, value, target, node) for value in values]
        choices = tuple(tuple(v) if isinstance(v, list) else v for v in coerced)
        if len(set(choices)) != len(choices):
            raise SearchSpaceError(f"a value is listed twice in {quoted(values)}", target, node)
        return Dimension(target, kind, choices=tuple(coerced))
    if spec.kind not in ("int", "float"):
        raise SearchSpaceError(f"{spec.name} takes {spec.kind} values, so it can only be searched with "
                               f'{{"choice": [...]}}', target, node)
    bounds = entry[kind]
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise SearchSpaceError(f"{kind} needs [low, high], got {quoted(bounds)}", target, node)
    low, high = (_number(v, target, node, f"{kind}'s bounds") for v in bounds)
    if kind == "int_uniform" or spec.kind == "int":
        if not all(isinstance(v, int) or float(v).is_integer() for v in (low, high)):
            raise SearchSpaceError(f"{spec.name} takes whole numbers, got [{low}, {high}]", target, node)
        if spec.kind == "int" and kind == "uniform":
            kind = "int_uniform"
        if kind == "int_uniform":
            low, high = int(low), int(high)
    if low >= high:
        raise SearchSpaceError(f"the range [{low}, {high}] is empty or reversed: low must be below high",
                               target, node)
    if kind == "log_uniform" and low <= 0:
        raise SearchSpaceError(f"a log range must stay above 0, got [{low}, {high}]; use e.g. [1e-5, {high}]",
                               target, node)
    for value in (low, high):
        _coerce(spec, value, target, node)
    step = entry.get("step")
    if step is not None:
        step = _number(step, target, node, "step")
        if step <= 0 or step > high - low:
            raise SearchSpaceError(f"step must be above 0 and at most high - low, got {step}", target, node)
        if kind == "log_uniform":
            raise SearchSpaceError("a log range takes no step", target, node)
        if kind == "int_uniform":
            if not float(step).is_integer():
                raise SearchSpaceError(f"an integer range needs a whole step, got {step}", target, node)
            step = int(step)
    return Dimension(target, kind, low=low, high=high, step=step)


def parse_search_space(search, graph, training: dict) -> list[Dimension]:
    """Every dimension of `search` (the project's "search" section), checked; raises SearchSpaceError."""
    if search is None:
        return []
    if not isinstance(search, dict):
        raise SearchSpaceError(f"must be an object of target -> distribution, got {quoted(search)}", "search")
    return [parse_dimension(target, entry, graph, training) for target, entry in search.items()]


def search_space_problems(search, graph, training: dict) -> list[SearchSpaceError]:
    """Each problem of the search space (one per bad entry), for `check` and the GUI."""
    if not isinstance(search, dict):
        try:
            parse_search_space(search, graph, training)
        except SearchSpaceError as error:
            return [error]
        return []
    problems = []
    for target, entry in search.items():
        try:
            parse_dimension(target, entry, graph, training)
        except SearchSpaceError as error:
            problems.append(error)
    return problems


def apply_values(graph, training: dict, values: dict) -> tuple:
    """(a copy of `graph`, a copy of `training`) with each target of `values` set to its value."""
    graph, training = graph.copy(), copy.deepcopy(training)
    for target, value in values.items():
        section, node_id, name = split_target(target)
        value = list(value) if isinstance(value, tuple) else value
        if section == "nodes":
            graph.set_param(node_id, name, value)
        elif section == "training":
            training[name] = value
        else:
            settings = training.get(section)
            settings = {"type": settings} if isinstance(settings, str) else dict(settings or {})
            settings[name] = value
            training[section] = settings
    return graph, training


def current_value(target: str, graph, training: dict):
    """The value a target has now in the project (None where it is unset)."""
    section, node_id, name = split_target(target)
    if section == "nodes":
        if not graph.has_node(node_id):
            return None
        return graph.node(node_id).resolved_params().get(name)
    if section == "training":
        return training.get(name)
    settings = training.get(section)
    if isinstance(settings, str):
        settings = {"type": settings}
    return (settings or {}).get(name)
