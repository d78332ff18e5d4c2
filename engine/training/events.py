"""What a training run reports: progress events for live plots, and the final `RunResult`.

The trainer calls its callback with these events from the training thread:
`DataProgress` while a file loads, `RunStarted`, then `BatchProgress` (aggregated: at most every `progress_interval`
seconds, plus once at the end of each epoch), `EpochEnd` after each epoch's
validation, `Paused`/`Resumed` around a pause, and finally `RunEnded`. A run
that emitted `RunStarted` always emits `RunEnded`. Events are immutable.

This module imports no torch (nor does `import engine.training` until a torch-backed name is used), so the
GUI imports these classes at start-up and matches events by class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class RunState(str, Enum):  # enum.StrEnum from Python 3.11
    """A run's state. The members are strings ("finished" == RunState.FINISHED), so run.json, report.json and
    the CLI's output keep the same text; the last four are how a run ends (`RunResult.status`)."""

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__  # f"{state}" is the value on every Python

    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    EARLY_STOPPED = "early_stopped"
    FAILED = "failed"


STATUSES = (RunState.FINISHED, RunState.STOPPED, RunState.EARLY_STOPPED, RunState.FAILED)  # how a run ends


@dataclass(frozen=True)
class EpochMetrics:
    """One epoch's numbers. `as_dict()` is the history row that metrics.csv, run.json and report.json keep:
    epoch, train_loss, val_loss, the metric under its own name (val_accuracy or val_mae), lr, samples_per_sec,
    seconds, threads."""

    epoch: int
    train_loss: float
    val_loss: float | None  # None without validation data (val_split 0), like the metric
    metric: str  # "val_accuracy" or "val_mae"
    metric_value: float | None
    lr: float  # at the epoch's start
    samples_per_sec: float
    seconds: float  # the epoch's wall time without pauses
    threads: int | None = None  # torch's CPU threads the epoch ended on (`threads="auto"` may change them)

    @classmethod
    def from_row(cls, row: dict, metric: str) -> EpochMetrics:
        """From a history row (`as_dict`'s form) whose metric is named `metric`."""
        return cls(int(row["epoch"]), row["train_loss"], row.get("val_loss"), metric, row.get(metric), row["lr"],
                   row.get("samples_per_sec", 0.0), row.get("seconds", 0.0), row.get("threads"))

    def as_dict(self) -> dict:
        return {"epoch": self.epoch, "train_loss": self.train_loss, "val_loss": self.val_loss,
                self.metric: self.metric_value, "lr": self.lr, "samples_per_sec": self.samples_per_sec,
                "seconds": self.seconds, "threads": self.threads}

    def value(self, name: str) -> float | None:
        """A number by its history name ("val_loss", "val_accuracy", ...); None when this run has no such one."""
        return self.as_dict().get(name)


@dataclass(frozen=True)
class DataProgress:
    """How far the data has loaded, before the run starts: `done` of `total` in `unit` (a CSV file's bytes,
    an image folder's images); first (0, total), last (total, total), at most ten times a second."""

    done: int
    total: int
    unit: str  # "bytes" or "images"


@dataclass(frozen=True)
class RunStarted:
    total_epochs: int
    batches_per_epoch: int
    train_samples: int
    val_samples: int
    device: str  # e.g. "cpu", "cuda:0"
    metric: str  # "val_accuracy" or "val_mae"
    out_dir: Path
    dataset: str  # Dataset.describe()
    notes: tuple[str, ...] = ()  # settings that could not apply here (e.g. amp on a CPU)


@dataclass(frozen=True)
class BatchProgress:
    epoch: int  # 1-based
    batch: int  # batches done in this epoch
    batches: int  # batches per epoch
    step: int  # batches done in the whole run
    total_steps: int
    losses: list[float]  # training loss of each batch since the previous BatchProgress
    samples_per_sec: float  # since the previous BatchProgress
    eta_seconds: float  # for the whole run


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    metrics: EpochMetrics
    improved: bool  # the validation loss (the training loss without validation) is the best so far:
    # best.safetensors was written


@dataclass(frozen=True)
class FoldStarted:
    """A cross-validation's next fold (`engine.training.folds`), before that fold's own RunStarted ... RunEnded;
    `fold` counts from 1."""

    fold: int
    folds: int
    train_samples: int
    val_samples: int


@dataclass(frozen=True)
class Paused:
    epoch: int
    batch: int


@dataclass(frozen=True)
class Resumed:
    epoch: int
    batch: int


@dataclass
class RunResult:
    """How a run ended.

    `weights` is the final model (`weights.safetensors`): the best epoch's weights
    when early stopping (`patience`) is on, else the last epoch's; None when the
    run failed. `checkpoints` maps "best" and "last" to their files.
    """

    status: RunState  # one of STATUSES (a plain string given is converted)
    message: str
    history: list[dict] = field(default_factory=list)  # one EpochEnd.metrics.as_dict() per completed epoch
    metric: str = "val_accuracy"
    best_epoch: int | None = None
    best_metrics: dict | None = None  # the history row of the best epoch (lowest val_loss, or train_loss
    # without validation data)
    out_dir: Path | None = None
    weights: Path | None = None
    weights_from: str | None = None  # "best" epoch, "last" epoch, or "partial" (stopped mid-epoch)
    checkpoints: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    details: str = ""  # a traceback for unexpected failures, for bug reports
    advice: list = field(default_factory=list)  # the training advisor's, as dicts (`Advice.as_dict`; report.json)

    def __post_init__(self):
        self.status = RunState(self.status)

    @property
    def ok(self) -> bool:
        return self.status != RunState.FAILED

    @property
    def best_val_loss(self) -> float | None:
        return self.best_metrics["val_loss"] if self.best_metrics else None


@dataclass(frozen=True)
class RunEnded:
    result: RunResult


TrainingEvent = DataProgress | RunStarted | BatchProgress | EpochEnd | Paused | Resumed | RunEnded


@dataclass(frozen=True)
class NodeHealth:
    """One node's statistics on one sampled batch (see `engine.training.health`)."""

    node_id: str
    mean: float  # of the node's output activations
    std: float
    zero_fraction: float | None  # ReLU-like nodes: the share of outputs that are exactly zero
    dead_fraction: float | None  # ReLU-like nodes: the share of units that are zero for every sample of the batch
    grad_norm: float | None  # of the node's own parameters; None for a node without trainable parameters
    finite: bool  # False when the output (or a gradient) held a NaN or an infinity


@dataclass(frozen=True)
class HealthSample:
    """Per-node health, gathered on one batch every few batches at a bounded cost."""

    epoch: int
    batch: int
    step: int
    nodes: tuple[NodeHealth, ...]
    first_non_finite: str | None = None  # the node, in execution order, whose output first held a NaN or inf


@dataclass(frozen=True)
class Advised:
    """The training advisor's current advice (`engine.training.advisor.Advice` items), after each epoch."""

    epoch: int
    advice: tuple
