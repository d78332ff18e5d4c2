"""A sweep: open (or resume) the Optuna study, then run trials until the study holds N finished ones.

`Sweep(project, options)` checks the search space and the storage at once
(UserError for either), creates the study or loads it (`load_if_exists`: the
same `--study` resumes), and reaps trials a killed process left RUNNING (see
`engine.sweeps.storage`). `run_worker` asks for trials one at a time (Optuna's
ask/tell), trains each (`engine.sweeps.trial`) and tells the study at once, so
nothing finished lives only in memory. A worker stops asking once finished
plus running trials reach N, or after `timeout` seconds. `--workers K` starts
K-1 more processes running `run_worker` on the same study, one torch thread
budget each (the cores split between them).

Trials that count toward N: complete, pruned, and failed ones (a param
combination that can't train is an answer too), but not those killed or
interrupted, which are retried once.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.errors import UserError
from engine.sweeps import storage as stores
from engine.sweeps.trial import TrialOutcome, TrialRunner, decoded, safe_name
from graphs.errors import quoted
from graphs.project import Project, load_project
from graphs.search_space import Dimension, SearchSpaceError, parse_search_space

SAMPLERS = ("tpe", "random", "grid")
RESULT_ATTR = "result"  # a trial's {"seconds", "epochs", "message"}


@dataclass
class SweepOptions:
    trials: int = 20
    storage: str | None = None  # an RDB URL; None: <project>.sweep.db beside the project
    study: str | None = None  # None: the project file's name
    sampler: str = "tpe"
    prune: bool = True
    timeout: float | None = None  # seconds
    workers: int = 1
    threads: int | None = None  # torch threads per worker; None: the cores split between the workers
    device: str | None = None
    epochs: int | None = None
    max_batches: int | None = None  # tests and quick checks


def direction_for(project: Project) -> str:
    """"maximize" when the project's loss reports an accuracy, else "minimize" (the mean absolute error)."""
    from engine.training.metrics import BINARY_LOSSES, CLASS_INDEX_LOSSES

    losses = [n.type for n in project.graph.nodes() if n.spec.is_loss]
    return "maximize" if losses and losses[0] in (*CLASS_INDEX_LOSSES, *BINARY_LOSSES) else "minimize"


def finished_count(study, trials=None) -> int:
    from optuna.trial import TrialState

    done = 0
    for trial in study.get_trials(deepcopy=False) if trials is None else trials:
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            done += 1
        elif trial.state == TrialState.FAIL and not (trial.user_attrs.get(stores.RETRIED_ATTR)
                                                     or trial.user_attrs.get(stores.SURPLUS_ATTR)):
            done += 1
    return done


def running_count(study, trials=None) -> int:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False) if trials is None else trials
    return sum(trial.state == TrialState.RUNNING for trial in trials)


class Sweep:
    """One study of one project, opened and checked; `run_worker` does the trials."""

    def __init__(self, project: Project, options: SweepOptions):
        self.project, self.options = project, options
        if options.sampler not in SAMPLERS:
            raise UserError(f"unknown sampler {quoted(options.sampler)}; choose one of: {', '.join(SAMPLERS)}")
        if not project.search:
            raise UserError('the project has no search space: add a "search" section (e.g. {"optimizer.lr": '
                            '{"log_uniform": [1e-4, 1e-1]}}) or, in the editor, right-click a param > Search over…')
        try:
            self.dimensions: list[Dimension] = parse_search_space(project.search, project.graph, project.training)
        except SearchSpaceError as error:
            raise UserError(f"node '{error.node}': {error}" if error.node else str(error)) from None
        if project.training.get("val_split", 0.2) in (0, 0.0):
            raise UserError("a sweep needs validation data to compare trials: set val_split above 0")
        if options.sampler == "grid" and any(d.grid is None for d in self.dimensions):
            raise UserError("the grid sampler needs a finite search space (choices, integer ranges or ranges with "
                            "a step); " + ", ".join(d.target for d in self.dimensions if d.grid is None) + " is not")
        self.study_name = options.study or (project.path.stem if project.path else safe_name(project.name))
        self.url = options.storage or stores.default_storage(project.path)
        self.storage = stores.open_storage(self.url)
        self.direction = direction_for(project)
        self.study = self._load(worker=0)
        if options.sampler == "grid":
            size = 1
            for dimension in self.dimensions:
                size *= len(dimension.grid)
            self.trials = min(options.trials, size)
        else:
            self.trials = options.trials

    def _load(self, worker: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            study = optuna.create_study(storage=self.storage, study_name=self.study_name, load_if_exists=True,
                                        direction=self.direction, pruner=self._pruner())
        except optuna.exceptions.DuplicatedStudyError:  # another worker created it a moment ago
            study = optuna.load_study(storage=self.storage, study_name=self.study_name, pruner=self._pruner())
        study.sampler = self._sampler(worker, len(study.trials))
        if study.direction.name.lower() != self.direction:
            raise UserError(f"study {quoted(self.study_name)} in {stores.shown_url(self.url)} was made to "
                            f"{study.direction.name.lower()} its value, this project's metric is to {self.direction}; "
                            f"choose another --study")
        return study

    def _sampler(self, worker: int, trials_before: int):
        """The sampler of one worker, seeded from the project's seed, the worker's index and the trials the
        study already had: the same sweep started afresh suggests the same trials, and one resumed or run
        again on the same study suggests new ones."""
        import optuna

        seed = (int(self.project.training.get("seed", 0) or 0) + 7919 * worker + 104729 * trials_before) % 2**32
        if self.options.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if self.options.sampler == "grid":
            import json

            space = {d.target: [v if not isinstance(v, list) else json.dumps(v) for v in d.grid]
                     for d in self.dimensions}
            return _grid_sampler(space, seed)
        return optuna.samplers.TPESampler(seed=seed)

    def _pruner(self):
        from engine.sweeps.pruning import median_pruner

        return median_pruner(self.options.prune)

    @property
    def metric_maximized(self) -> bool:
        return self.direction == "maximize"

    def best(self) -> tuple[int, float, dict] | None:
        """(trial number, value, params as project values) of the best complete trial, or None."""
        from optuna.trial import TrialState

        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete:
            return None
        pick = max if self.metric_maximized else min
        best = pick(complete, key=lambda t: t.value)
        return best.number, best.value, decoded(best.params, self.dimensions)

    def run_worker(self, worker: int = 0, on_trial: Callable[[TrialOutcome], None] | None = None,
                   runner: TrialRunner | None = None) -> int:
        """Run trials in this process until the study holds enough; the number run here."""
        study = self.study if worker == 0 else self._load(worker)
        runner = runner or TrialRunner(self.project, self.dimensions, self.study_name, threads=self.threads(),
                                       device=self.options.device, epochs=self.options.epochs,
                                       max_batches=self.options.max_batches)
        deadline = None if self.options.timeout is None else time.monotonic() + self.options.timeout
        runner.load_data()  # before the first trial starts its clock
        ran = 0
        while not runner.stopped:
            trials = study.get_trials(deepcopy=False)  # one read of the storage a turn
            if stores.reap_stale(study, self.storage, trials):
                trials = study.get_trials(deepcopy=False)
            if finished_count(study, trials) + running_count(study, trials) >= self.trials:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            trial = study.ask()
            if self._surplus(study, trial):  # another worker asked between our count and our ask
                break
            stores.mark_owner(trial)
            outcome = runner.run(trial)
            self._tell(study, trial, outcome)
            ran += 1
            if on_trial is not None:
                on_trial(outcome)
        return ran

    def _surplus(self, study, trial) -> bool:
        """Whether the trials numbered before `trial` (the storage numbers trials one at a time, whichever
        worker asks) already fill the sweep; such a trial is closed unrun, marked so it is neither counted
        nor shown."""
        from optuna.trial import TrialState

        ahead = [t for t in study.get_trials(deepcopy=False) if t.number < trial.number]
        if finished_count(study, ahead) + running_count(study, ahead) < self.trials:
            return False
        trial.set_user_attr(stores.SURPLUS_ATTR, True)
        study.tell(trial, state=TrialState.FAIL)
        return True

    def _tell(self, study, trial, outcome: TrialOutcome) -> None:
        from optuna.trial import TrialState

        trial.set_user_attr(RESULT_ATTR, {"seconds": round(outcome.seconds, 3), "epochs": outcome.epochs,
                                          "message": outcome.message[:500]})
        if outcome.state == "complete":
            study.tell(trial, outcome.value)
        elif outcome.state == "pruned":
            study.tell(trial, state=TrialState.PRUNED)
        else:
            if outcome.state == "interrupted":
                trial.set_user_attr(stores.RETRIED_ATTR, True)
                if stores.RETRY_ATTR not in trial.user_attrs:
                    study.enqueue_trial(trial.params, user_attrs={stores.RETRY_ATTR: trial.number})
            study.tell(trial, state=TrialState.FAIL)

    def threads(self) -> int:
        from engine.training.devices import usable_cores

        return self.options.threads or max(1, usable_cores() // max(1, self.options.workers))


def _grid_sampler(space: dict, seed: int):
    """Optuna's GridSampler, less its `study.stop()` once the grid is done: that works only inside
    `study.optimize`, and here trials are asked and told (the loop stops at the grid's size itself)."""
    import optuna

    class AskTellGridSampler(optuna.samplers.GridSampler):
        def after_trial(self, study, trial, state, values) -> None:
            pass

    return AskTellGridSampler(space, seed=seed)


def _worker_main(project_path: str, options: dict, worker: int, quiet: bool, trusted_code: tuple = ()) -> None:
    """A worker process: its own study handle on the shared storage; it dies with its parent. It runs the
    project's custom layers only when they are the very code its parent was trusted to run (`trusted_code`)."""
    from engine.custom_layers.trust import same_code_loader
    from graphs.custom_types import CustomTypes

    _die_with_parent()
    sweep = Sweep(load_project(project_path, same_code_loader(CustomTypes((), trusted_code))), SweepOptions(**options))
    runner = TrialRunner(sweep.project, sweep.dimensions, sweep.study_name, threads=sweep.threads(),
                         device=options["device"], epochs=options["epochs"], max_batches=options["max_batches"])
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: runner.stop())
    metric = "val_accuracy" if sweep.metric_maximized else "val_mae"
    sweep.run_worker(worker, runner=runner,
                     on_trial=None if quiet else lambda outcome: print(outcome.describe(metric), flush=True))


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies, so a killed sweep leaves no orphan training on."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_workers(sweep: Sweep, count: int, quiet: bool = False) -> list:
    """`count` worker processes (spawned, so none inherits this one's torch threads or locks)."""
    if sweep.project.path is None:
        raise UserError("--workers above 1 needs a saved project file")
    context = multiprocessing.get_context("spawn")
    processes = []
    for worker in range(1, count + 1):  # worker 0 is this process's own study handle
        process = context.Process(target=_worker_main, args=(str(Path(sweep.project.path)), asdict(sweep.options),
                                                             worker, quiet, sweep.project.graph.custom_types.files),
                                  daemon=False)
        process.start()
        processes.append(process)
    return processes
