"""What a study holds, read for display: the trials table, the best so far, and param importances.

`read_study(url, study_name)` opens the storage read-only in spirit (it never
writes) and returns a `StudyReport`, or None when the study does not exist yet.
Importances are Optuna's own (`optuna.importance.get_param_importances`), over
complete trials, and only once there are enough of them to say anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.sweeps.storage import SURPLUS_ATTR, open_storage

MIN_TRIALS_FOR_IMPORTANCE = 3


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str  # complete | pruned | fail | running | waiting
    value: float | None  # the best validation metric (complete trials)
    params: dict
    seconds: float | None
    epochs: int | None
    message: str = ""
    run_dir: str | None = None


@dataclass
class StudyReport:
    name: str
    maximize: bool
    trials: list[TrialRow] = field(default_factory=list)
    importances: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> list[TrialRow]:
        return [t for t in self.trials if t.state == "complete" and t.value is not None]

    @property
    def best(self) -> TrialRow | None:
        complete = self.complete
        if not complete:
            return None
        return (max if self.maximize else min)(complete, key=lambda t: t.value)

    def best_so_far(self) -> list[tuple[int, float]]:
        """(trial number, best value up to it) for each complete trial, in trial order."""
        points, best = [], None
        for trial in sorted(self.complete, key=lambda t: t.number):
            if best is None or (trial.value > best if self.maximize else trial.value < best):
                best = trial.value
            points.append((trial.number, best))
        return points


def read_study(url: str, study_name: str, importances: bool = True) -> StudyReport | None:
    """The study `study_name` in the storage `url`, or None if there is none; UserError if it can't open."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(url)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return None
    report = StudyReport(study_name, study.direction == optuna.study.StudyDirection.MAXIMIZE)
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if attrs.get(SURPLUS_ATTR):  # closed unrun: a worker asked for one trial too many
            continue
        result = attrs.get("result") if isinstance(attrs.get("result"), dict) else {}
        report.trials.append(TrialRow(trial.number, trial.state.name.lower(), trial.value, dict(trial.params),
                                      result.get("seconds"), result.get("epochs"),
                                      result.get("message") or attrs.get("failed_because", ""), attrs.get("run_dir")))
    if importances and len(report.complete) >= MIN_TRIALS_FOR_IMPORTANCE:
        try:
            report.importances = dict(optuna.importance.get_param_importances(study))
        except (RuntimeError, ValueError):  # e.g. every complete trial has the same params
            report.importances = {}
    return report
