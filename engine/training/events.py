"""What a training run reports: progress events for live plots, and the final `RunResult`.

The trainer calls its callback with these events from the training thread:
`DataProgress` while a file loads, `RunStarted`, then `BatchProgress` (aggregated: at most every `progress_interval`
seconds, plus once at the end of each epoch), `EpochEnd` after each epoch's
validation, `Paused`/`Resumed` around a pause, and finally `RunEnded`. A run
that emitted `RunStarted` always emits `RunEnded`. Events are immutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

STATUSES = ("finished", "stopped", "early_stopped", "failed")


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
    # epoch, train_loss, val_loss, val_accuracy | val_mae, lr (at the epoch's start), samples_per_sec,
    # seconds (the epoch's wall time without pauses); val_loss and the metric are None when there is no
    # validation data (val_split 0)
    metrics: dict
    improved: bool  # the validation loss (the training loss without validation) is the best so far:
    # best.safetensors was written


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

    status: str  # "finished" | "stopped" | "early_stopped" | "failed"
    message: str
    history: list[dict] = field(default_factory=list)  # one EpochEnd.metrics per completed epoch
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

    @property
    def ok(self) -> bool:
        return self.status != "failed"

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
