"""Training: the `Trainer`, its events, checkpoints, devices and evaluation. No Qt here.

    from engine.training import Trainer
    result = Trainer(project, epochs=5, callback=print).run()

See `trainer.py` for the loop, `events.py` for what a run reports,
`run_folder.py` for the files a run writes, `failures.py` for how a failed run
is told, `engine.weights` (re-exported here) for the safetensors weights files.
"""

from engine.training.checkpoint import read_metadata
from engine.training.config import TrainingConfig
from engine.training.devices import list_devices, resolve_device
from engine.training.evaluate import Evaluation, evaluate
from engine.training.events import (
    BatchProgress,
    DataProgress,
    EpochEnd,
    Paused,
    Resumed,
    RunEnded,
    RunResult,
    RunStarted,
    TrainingEvent,
)
from engine.training.trainer import Trainer, seed_everything, train
from engine.weights import load_weights, read_weights, save_weights

__all__ = [
    "BatchProgress", "DataProgress", "EpochEnd", "Evaluation", "Paused", "Resumed", "RunEnded", "RunResult", "RunStarted",
    "Trainer", "TrainingConfig", "TrainingEvent", "evaluate", "list_devices", "load_weights", "read_weights",
    "read_metadata", "resolve_device", "save_weights", "seed_everything", "train",
]
