"""The run controller relays the trainer's events by class, not by class name."""

from dataclasses import dataclass
from pathlib import Path

from engine.training.events import (
    BatchProgress,
    EpochEnd,
    EpochMetrics,
    FoldStarted,
    Paused,
    Resumed,
    RunStarted,
)
from gui.workbench.worker import RunController


@dataclass(frozen=True)
class EpochEnd_:  # noqa: N801 - a look-alike that must not pass for the real event
    epoch: int


EpochEnd_.__name__ = "EpochEnd"


def test_events_are_relayed_by_class(qtbot):
    controller = RunController()
    heard = []
    for name in ("runStarted", "progress", "epochEnded", "foldStarted", "pausedChanged", "eventsRelayed"):
        getattr(controller, name).connect(lambda *args, name=name: heard.append((name, *args)))
    controller.state = "starting"
    started = RunStarted(1, 2, 10, 5, "cpu", "val_accuracy", Path("out"), "moons")
    batch = BatchProgress(1, 1, 2, 1, 2, [0.5], 100.0, 1.0)
    epoch = EpochEnd(1, EpochMetrics(1, 0.5, 0.4, "val_accuracy", 0.9, 0.01, 100.0, 0.1), True)
    fold = FoldStarted(1, 3, 10, 5)
    controller._dispatch([fold, started, batch, EpochEnd_(1), epoch, Paused(1, 2), Resumed(1, 2)])
    assert heard == [("foldStarted", fold), ("runStarted", started), ("progress", batch), ("epochEnded", epoch),
                     ("pausedChanged", True), ("pausedChanged", False), ("eventsRelayed",)]
    assert controller.state == "running"
