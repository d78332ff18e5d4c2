"""Where node health and the training advisor meet the trainer: a few calls, kept out of the hot loop's file.

`make_monitor` builds the run's `HealthMonitor` (none for compiled models; on a distributed run only
rank 0 samples, its first batches); `AdvisorWatch` listens to the run's events and keeps what the
advisor needs; `advise_at_end` puts the final advice on the result and into the run folder's `report.json`.
"""

from __future__ import annotations

from engine.training import events
from engine.training.advisor import advise
from engine.training.failures import LossNotFinite
from engine.training.health import HealthMonitor
from graphs.errors import quoted

DISTRIBUTED_BATCHES = 50  # a distributed run samples rank 0's first batches only
KEPT_SAMPLES = 10


def make_monitor(trainer) -> HealthMonitor | None:
    if trainer.config.compile and trainer.device.type == "cuda":
        trainer.notes.append("node health is not gathered for compiled models (compile: true)")
        return None
    if trainer.world is not None and not trainer.world.is_main:
        return None
    types = {node.id: node.type for node in trainer.graph.nodes()}
    first = DISTRIBUTED_BATCHES if trainer.world is not None else None
    return HealthMonitor(trainer.compiled.model, types, first_batches=first)


class AdvisorWatch:
    """A run listener: the first epoch's batch losses, the last health samples and the epochs' metrics."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.early_losses: list[float] = []
        self.health: list[events.HealthSample] = []
        self.history: list[dict] = []
        self.failure: dict | None = None

    def __call__(self, event) -> None:
        if isinstance(event, events.BatchProgress) and event.epoch == 1:
            self.early_losses += event.losses
        elif isinstance(event, events.HealthSample):
            self.health = [*self.health[-(KEPT_SAMPLES - 1):], event]
        elif isinstance(event, events.EpochEnd):
            self.history.append(event.metrics.as_dict())

    def advice(self) -> list:
        trainer = self.trainer
        return advise(self.history, early_losses=self.early_losses, health=self.health,
                      class_counts=trainer.dataset.class_counts() if trainer.dataset is not None else None,
                      training=trainer.project.training, graph=trainer.project.graph, failure=self.failure)


def advisor_watch(trainer) -> AdvisorWatch | None:
    return AdvisorWatch(trainer) if trainer.is_main else None


def locate_non_finite(trainer, error: Exception) -> str | None:
    """For a NaN or infinite loss: the node whose output first holds one, on the last batch trained."""
    if not isinstance(error, LossNotFinite):
        return None
    monitor, x = trainer._health, getattr(trainer, "_last_x", None)
    node = monitor.locate_non_finite(trainer._model, x) if monitor is not None and x is not None else None
    watch = getattr(trainer, "_watch", None)
    if watch is not None:
        watch.failure = {"epoch": error.epoch, "batch": error.batch, "node": node}
    return node


def advise_at_end(trainer, result: events.RunResult) -> None:
    """The final advice: on `result.advice`, and in the run folder's report.json."""
    watch = getattr(trainer, "_watch", None)
    if watch is None:
        return
    node = (watch.failure or {}).get("node")
    if node is not None:
        result.message += f"; the first non-finite value appeared at node {quoted(node)}"
    try:
        result.advice = [a.as_dict() for a in watch.advice()]
        trainer._folder.write_json("report.json", {"advice": result.advice})
    except Exception as error:  # noqa: BLE001 - advice never breaks a run that has ended
        result.message += f" (the advice could not be written: {error})"
