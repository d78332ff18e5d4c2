"""One trial of a sweep: the project with the trial's values, trained as a normal run, pruned by Optuna.

Each trial trains with `engine.training.Trainer` into its own run folder under
the project's `runs/` (so the run history lists it), beside which it writes
`sweep.json`: `{"sweep": {"study", "trial", "params", "state", "value"}}`. After
each epoch the validation metric goes to `trial.report`; when the pruner says
the trial is worse than the median of earlier trials at that epoch, the trainer
is stopped cleanly (the run folder stays complete) and the trial is PRUNED.
The trial's value is the best validation metric of its epochs.
"""

from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import UserError
from graphs.errors import GraphError, printable
from graphs.project import Project, atomic_write
from graphs.search_space import Dimension, apply_values

SWEEP_FILE = "sweep.json"
MAXIMIZED = ("val_accuracy",)  # the other metric, val_mae, is minimised


def _scalar(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def suggest(trial, dimension: Dimension):
    """The trial's value for one dimension (a list-valued choice travels through Optuna as JSON text)."""
    name = dimension.target
    if dimension.kind == "choice":
        if all(_scalar(v) for v in dimension.choices):
            return trial.suggest_categorical(name, list(dimension.choices))
        return json.loads(trial.suggest_categorical(name, [json.dumps(v) for v in dimension.choices]))
    if dimension.kind == "int_uniform":
        return trial.suggest_int(name, dimension.low, dimension.high, step=dimension.step or 1)
    return trial.suggest_float(name, dimension.low, dimension.high, log=dimension.kind == "log_uniform",
                               step=dimension.step)


def decoded(params: dict, dimensions: list[Dimension]) -> dict:
    """A trial's stored params as project values (JSON text back to lists)."""
    listed = {d.target for d in dimensions if d.kind == "choice" and not all(_scalar(v) for v in d.choices)}
    return {k: json.loads(v) if k in listed and isinstance(v, str) else v for k, v in params.items()}


def safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._")[:60] or "sweep"


def trial_dir(project: Project, study_name: str, number: int) -> Path:
    """A new folder name for trial `number` under the project's runs/."""
    base = project.path.parent if project.path else Path.cwd()
    stem = safe_name(project.path.stem if project.path else project.name)
    study = "sweep" if safe_name(study_name) == stem else f"sweep-{safe_name(study_name)}"
    folder = base / "runs" / f"{stem}-{study}-trial{number:03d}"
    candidate, suffix = folder, 2
    while candidate.exists():
        candidate, suffix = folder.with_name(f"{folder.name}-{suffix}"), suffix + 1
    return candidate


@dataclass
class TrialOutcome:
    number: int
    params: dict
    state: str  # "complete" | "pruned" | "failed" | "interrupted"
    value: float | None = None
    epochs: int = 0
    seconds: float = 0.0
    run_dir: Path | None = None
    message: str = ""
    history: list = field(default_factory=list)

    def describe(self, metric: str) -> str:
        """One line for a finished trial."""
        params = "  ".join(f"{printable(k)}={shown_value(v)}" for k, v in self.params.items())
        if self.state == "complete":
            shown = f"{self.value:.2%}" if metric == "val_accuracy" else f"{self.value:.4g}"
            result = f"{metric} {shown} ({self.epochs} epochs)"
        else:
            result = f"{self.state}: {printable(self.message)}"
        return f"trial {self.number}  {params}  -> {result}  {self.seconds:.1f} s"


def shown_value(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else printable(str(value))


class TrialRunner:
    """Runs trials of one study; `stop()` (any thread) ends the current trial's training after its batch."""

    def __init__(self, project: Project, dimensions: list[Dimension], study_name: str, *, threads: int | None = None,
                 device: str | None = None, epochs: int | None = None, max_batches: int | None = None):
        self.project, self.dimensions, self.study_name = project, dimensions, study_name
        self.options = {"threads": threads, "device": device, "epochs": epochs, "max_batches": max_batches}
        self.trainer = None
        self.stopped = False
        self._datasets: dict[str, object] = {}  # loaded data, by the settings that shape it

    def stop(self) -> None:
        self.stopped = True
        if self.trainer is not None:
            self.trainer.stop()

    def load_data(self) -> None:
        """Load the project's own data now (trials that keep its data settings reuse it)."""
        self._dataset(self.project.training)

    def _dataset(self, training: dict):
        from engine.data_shapes import load_training_data
        from engine.training import TrainingConfig

        config = TrainingConfig.from_dict(training)
        key = json.dumps([config.dataset, config.val_split, config.seed], sort_keys=True, default=str)
        if key not in self._datasets:
            base = self.project.path.parent if self.project.path else Path.cwd()
            self._datasets = {key: load_training_data(config, base)}  # one kept: a sweep over the data itself
        return self._datasets[key]

    def run(self, trial) -> TrialOutcome:
        """Train `trial`; report and prune through it. The caller tells the study the outcome."""
        from engine.training import EpochEnd, RunStarted, Trainer

        started = time.perf_counter()
        values = {d.target: suggest(trial, d) for d in self.dimensions}
        outcome = TrialOutcome(trial.number, values, "failed")
        try:
            graph, training = apply_values(self.project.graph, self.project.training, values)
            variant = Project(graph, self.project.name, training, copy.deepcopy(self.project.gui), self.project.path)
            outcome.run_dir = trial_dir(self.project, self.study_name, trial.number)
            self.trainer = trainer = Trainer(variant, out_dir=outcome.run_dir, dataset=self._dataset(training),
                                             **self.options)
        except (UserError, GraphError) as error:
            outcome.message = str(error)
            return outcome
        pruned: list[int] = []
        metric = ["val_accuracy"]

        def callback(event) -> None:
            if isinstance(event, RunStarted):
                metric[0] = event.metric
                trial.set_user_attr("run_dir", str(event.out_dir))
                self._write_sweep_file(outcome, "running")
            elif isinstance(event, EpochEnd) and event.metrics.value(metric[0]) is not None:
                trial.report(float(event.metrics.value(metric[0])), event.epoch)
                if not pruned and trial.should_prune():
                    pruned.append(event.epoch)
                    trainer.stop()

        trainer.callback = callback
        if self.stopped:  # asked to stop while this trial was being set up
            trainer.stop()
        try:
            result = trainer.run()
        except UserError as error:
            outcome.message = str(error)
            self._finish(outcome, started)
            return outcome
        finally:
            self.trainer = None
        scores = [row[result.metric] for row in result.history if row.get(result.metric) is not None]
        outcome.history, outcome.epochs = result.history, len(result.history)
        if scores:
            outcome.value = max(scores) if result.metric in MAXIMIZED else min(scores)
        if pruned:
            outcome.state, outcome.message = "pruned", f"pruned after epoch {pruned[0]}"
        elif result.status == "failed":
            outcome.message = result.message
        elif self.stopped:
            outcome.state, outcome.message = "interrupted", "stopped before it finished"
        elif not scores:
            outcome.message = "no validation metric: a sweep needs validation data (val_split above 0)"
        else:
            outcome.state = "complete"
        self._finish(outcome, started)
        return outcome

    def _finish(self, outcome: TrialOutcome, started: float) -> None:
        outcome.seconds = time.perf_counter() - started
        self._write_sweep_file(outcome, outcome.state)

    def _write_sweep_file(self, outcome: TrialOutcome, state: str) -> None:
        if outcome.run_dir is None or not outcome.run_dir.is_dir():
            return
        record = {"sweep": {"study": self.study_name, "trial": outcome.number, "params": outcome.params,
                            "state": state, "value": outcome.value, "message": outcome.message}}
        try:
            atomic_write(outcome.run_dir / SWEEP_FILE, (json.dumps(record, indent=2) + "\n").encode("utf-8"))
        except OSError:
            pass  # the storage holds the same record; a run folder that can't take it is reported by the trainer
