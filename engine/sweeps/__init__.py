"""Hyperparameter sweeps with Optuna over a project's search space (`graphs.search_space`).

`Sweep` opens or resumes a study in an Optuna storage (`storage`), and its
`run_worker` trains trials (`trial`) until the study holds the trials asked for,
pruning them with the median pruner (`pruning`).
`engine.cli.sweep` is the command line; the editor's Experiments dock reads the
same storage.
"""

from engine.sweeps.runner import Sweep, SweepOptions
from engine.sweeps.trial import SWEEP_FILE, TrialOutcome

__all__ = ["SWEEP_FILE", "Sweep", "SweepOptions", "TrialOutcome"]
