"""The sweep's pruner: Optuna's median pruner's own decisions, from one read of the complete trials per trial."""

from __future__ import annotations

import random

import optuna
import pytest

from engine.sweeps.pruning import PRUNER_STARTUP_TRIALS, CachedPruner, median_pruner
from engine.sweeps.storage import open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def curve(rng: random.Random, epochs: int) -> list[float]:
    """A made-up validation accuracy per epoch: a rate of learning and some noise."""
    rate = rng.uniform(0.01, 0.3)
    return [min(1.0, 0.1 + rate * epoch + rng.gauss(0, 0.03)) for epoch in range(1, epochs + 1)]


def run_trial(study, values: list[float]) -> list[bool]:
    """Report `values` epoch by epoch, asking the pruner after each; the trial completes or is pruned."""
    trial = study.ask()
    decisions = []
    for epoch, value in enumerate(values, start=1):
        trial.report(value, epoch)
        decisions.append(trial.should_prune())
        if decisions[-1]:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return decisions
    study.tell(trial, max(values))
    return decisions


def test_every_decision_is_the_median_pruners_own(tmp_path):
    """Two studies fed the same curves, one with Optuna's MedianPruner as it is and one with the sweep's:
    the same trials are pruned at the same epochs, while the sweep's reads the storage once per trial."""
    pruner = median_pruner(prune=True)
    assert isinstance(pruner, CachedPruner) and isinstance(pruner.pruner, optuna.pruners.MedianPruner)
    storage = open_storage(f"sqlite:///{tmp_path / 'sweep.db'}")
    cached = optuna.create_study(storage=storage, study_name="cached", direction="maximize", pruner=pruner)
    plain = optuna.create_study(storage=storage, study_name="plain", direction="maximize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS))
    rng = random.Random(0)
    epochs_asked = 0
    pruned = 0
    for _ in range(25):
        values = curve(rng, 8)
        decisions = run_trial(cached, values)
        assert decisions == run_trial(plain, values)
        epochs_asked += len(decisions)
        pruned += decisions[-1]
    assert pruned >= 5  # the comparison covered pruned trials, not only complete ones
    assert pruner.reads == 25 < epochs_asked


def test_a_trial_another_worker_completes_counts_once_the_list_is_older_than_max_age(tmp_path):
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    clock = Clock()
    pruner = CachedPruner(optuna.pruners.MedianPruner(n_startup_trials=1), max_age=2.0, clock=clock)
    here = optuna.create_study(storage=open_storage(url), study_name="s", direction="maximize", pruner=pruner)
    elsewhere = optuna.load_study(storage=open_storage(url), study_name="s")  # another worker's handle
    trial = here.ask()
    trial.report(0.5, 1)
    assert not trial.should_prune() and pruner.reads == 1  # no complete trial yet: nothing to compare with
    other = elsewhere.ask()
    for epoch in (1, 2, 3):
        other.report(0.9, epoch)
    elsewhere.tell(other, 0.9)
    clock.now = 1.0
    trial.report(0.5, 2)
    assert not trial.should_prune() and pruner.reads == 1  # judged on the list read a second ago
    clock.now = 2.5
    trial.report(0.5, 3)
    assert trial.should_prune() and pruner.reads == 2  # read again: worse than the other's 0.9


@pytest.mark.parametrize("prune", [True, False])
def test_no_prune_is_optunas_nop_pruner(prune):
    assert isinstance(median_pruner(prune), CachedPruner if prune else optuna.pruners.NopPruner)
