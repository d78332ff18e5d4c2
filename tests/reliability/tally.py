"""Counts of what the reliability suite tried and how it ended, for docs/reliability.md.

Tests call `count("hostile files", "refused")`; the suite's conftest prints the table
at the end of the run (with or without `-s`).
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import settings

TALLY: Counter = Counter()
FUZZ = bool(os.environ.get("NEUROCANVAS_FUZZ"))


def count(subject: str, outcome: str, n: int = 1) -> None:
    """Record `n` tries of `subject` that ended in `outcome`."""
    TALLY[(subject, outcome)] += n


def examples(quick: int) -> int:
    """Hypothesis examples for one test: `quick` in `make test`, the fuzz profile's count in `make fuzz`."""
    return max(quick, settings.get_profile("fuzz").max_examples) if FUZZ else quick


def rounds(quick: int, fuzz: int) -> int:
    """Iterations of a plain loop: `quick` normally, `fuzz` under NEUROCANVAS_FUZZ=1."""
    return fuzz if FUZZ else quick


def lines() -> list[str]:
    """The table: one line per subject, its total and each outcome."""
    subjects: dict[str, Counter] = {}
    for (subject, outcome), n in TALLY.items():
        subjects.setdefault(subject, Counter())[outcome] += n
    out = []
    for subject in sorted(subjects):
        outcomes = subjects[subject]
        detail = ", ".join(f"{outcome} {n}" for outcome, n in sorted(outcomes.items()))
        out.append(f"{subject}: {sum(outcomes.values())} ({detail})")
    return out
