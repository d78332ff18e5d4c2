"""When a trial is pruned: Optuna's median pruner, judging against the complete trials as last read.

`trial.should_prune()` hands the pruner the study, and Optuna's `MedianPruner`
reads every complete trial from the storage on each call: 5-8 ms with
SQLite, after every epoch, where a digits CNN trains an epoch in about 50 ms
(a tenth of a pruned sweep of it went there). The complete trials change only when a
trial finishes, so `CachedPruner` reads them once when a new trial is judged
and again only when the list is older than `MAX_AGE_S`. With one worker the
decisions are exactly the pruner's; with several, a trial another worker
finished counts from the next read at most `MAX_AGE_S` later.

The settings (`median_pruner`) are Optuna's defaults, which suit a user's
first sweep: no trial is pruned before 5 have completed (the median of fewer
says little), every epoch may prune from the first (epoch 1 already separates a
learning rate that trains from one that does not), and the check runs after
every epoch.
"""

from __future__ import annotations

import time

import optuna
from optuna.trial import TrialState

PRUNER_STARTUP_TRIALS = 5  # complete trials before any is pruned
PRUNER_WARMUP_EPOCHS = 0  # epochs every trial trains before it may be pruned
PRUNER_INTERVAL_EPOCHS = 1  # how often (in epochs) a trial is judged
MAX_AGE_S = 10.0  # how stale the complete trials may be while one trial is judged again (other workers' trials)


def median_pruner(prune: bool):
    """The pruner a sweep's study is made with: the cached median pruner, or none."""
    if not prune:
        return optuna.pruners.NopPruner()
    return CachedPruner(optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                                    n_warmup_steps=PRUNER_WARMUP_EPOCHS,
                                                    interval_steps=PRUNER_INTERVAL_EPOCHS))


class CachedPruner(optuna.pruners.BasePruner):
    """`pruner`, given the study's complete trials from a list read at most `max_age` seconds ago (and
    read afresh for each new trial judged); every other read goes to the study itself."""

    def __init__(self, pruner, max_age: float = MAX_AGE_S, clock=time.monotonic):
        self.pruner, self.max_age, self.clock = pruner, max_age, clock
        self.reads = 0  # reads of the storage, for tests
        self._complete: list | None = None
        self._read_at = 0.0
        self._judging: int | None = None  # the number of the trial the list was read for

    def prune(self, study, trial) -> bool:
        now = self.clock()
        if self._complete is None or trial.number != self._judging or now - self._read_at > self.max_age:
            self._complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            self._read_at, self._judging = now, trial.number
            self.reads += 1
        return self.pruner.prune(_CompleteTrialsRead(study, self._complete), trial)


class _CompleteTrialsRead:
    """The study as a pruner sees it, its complete trials as read; anything else is the study's own."""

    def __init__(self, study, complete: list):
        self._study, self._complete = study, complete

    def get_trials(self, deepcopy: bool = True, states=None) -> list:
        if states is not None and tuple(states) == (TrialState.COMPLETE,) and not deepcopy:
            return self._complete
        return self._study.get_trials(deepcopy=deepcopy, states=states)

    def __getattr__(self, name):
        return getattr(self._study, name)
