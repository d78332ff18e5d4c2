"""Training: the `Trainer`, its events, checkpoints, devices and evaluation. No Qt here.

    from engine.training import Trainer
    result = Trainer(project, epochs=5, callback=print).run()

See `trainer.py` for the loop, `events.py` for what a run reports,
`run_folder.py` for the files a run writes, `failures.py` for how a failed run
is told, `engine.weights` (re-exported here) for the safetensors weights files.

The names load on first use (PEP 562 `__getattr__`), so importing a torch-free
submodule such as `engine.training.events` or `engine.training.config` does not
import torch.
"""

from importlib import import_module

_SOURCES = {
    "read_metadata": "engine.training.checkpoint",
    "TrainingConfig": "engine.training.config",
    "list_devices": "engine.training.devices", "resolve_device": "engine.training.devices",
    "Evaluation": "engine.training.evaluate", "evaluate": "engine.training.evaluate",
    **dict.fromkeys(("BatchProgress", "DataProgress", "EpochEnd", "EpochMetrics", "FoldStarted", "Paused",
                     "Resumed", "RunEnded", "RunResult", "RunStarted", "RunState", "TrainingEvent"),
                    "engine.training.events"),
    "Trainer": "engine.training.trainer", "seed_everything": "engine.training.trainer",
    "train": "engine.training.trainer",
    "load_weights": "engine.weights", "read_weights": "engine.weights", "save_weights": "engine.weights",
}

__all__ = sorted(_SOURCES)


def __getattr__(name: str):
    if name not in _SOURCES:
        raise AttributeError(f"module 'engine.training' has no attribute {name!r}")
    value = getattr(import_module(_SOURCES[name]), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))
