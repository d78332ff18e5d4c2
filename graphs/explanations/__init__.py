"""Short explanations of every node type, optimiser and schedule, as data (torch-free, Qt-free).

Each `Explanation` says what the thing does, its formula, when to use it and a common mistake.
The palette's tooltip, the inspector's "About" section and the Training panel show them; a test
checks that every catalogue type, optimiser and schedule has one, so none can ship without it.
"""

from __future__ import annotations

from graphs.explanations import activations, layers, losses, sequence, tensors, training, units
from graphs.explanations.base import Explanation

EXPLANATIONS: dict[str, Explanation] = {
    **layers.EXPLANATIONS, **sequence.EXPLANATIONS, **activations.EXPLANATIONS, **losses.EXPLANATIONS,
    **tensors.EXPLANATIONS,
}
OPTIMIZER_NAMES = training.OPTIMIZER_NAMES
SCHEDULE_NAMES = training.SCHEDULE_NAMES


def explain(type_name: str) -> Explanation | None:
    """The explanation of node type `type_name`, or None for an unknown name."""
    return EXPLANATIONS.get(type_name) or units.EXPLANATIONS.get(type_name)


def explain_optimizer(name: str) -> Explanation | None:
    """The explanation of optimiser `name` (as in the project's training settings, any case)."""
    return _lookup(training.OPTIMIZERS, name)


def explain_schedule(name: str | None) -> Explanation | None:
    """The explanation of LR schedule `name` ("none"/None, "step", "cosine", "one-cycle")."""
    return _lookup(training.SCHEDULES, name or "none")


def _lookup(table: dict[str, Explanation], name: str) -> Explanation | None:
    for key, value in table.items():
        if key.lower() == str(name).lower():
            return value
    return None


__all__ = ["EXPLANATIONS", "Explanation", "OPTIMIZER_NAMES", "SCHEDULE_NAMES", "explain", "explain_optimizer",
           "explain_schedule"]
