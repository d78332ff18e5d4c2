"""`run.json`: the record every run leaves in its folder, GUI or CLI, written from the trainer's events.

`RunRecorder` listens to a run (see `run_listeners`, which the trainer calls once when its folder is
made). It writes `run.json` atomically when the run starts, with status "running", the process id and
host, the settings as trained, the seed, the data fingerprint, library versions and the device; it
updates the epochs done after each epoch; and at the end the status, message, end time, best and final
metrics, checkpoints and weights. A run killed on the way keeps "running" with a process that no
longer exists, which `engine.history.folders` reports as "unfinished". The record never fails a run: a
write that fails (a full disk) is said at the end of the run's message, and the history then shows the
run as it was last recorded (Ctrl+C still goes through, as everywhere in training).

Keys other helpers add to run.json (a sweep's `"sweep"`, cross-validation's `"folds"`) are kept: each
update merges over the file as it is on disk.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from engine.errors import reason
from engine.history.fingerprint import data_fingerprint, library_versions
from engine.history.folders import RECORD
from engine.training import events
from graphs.project import atomic_write

FORMAT = 1


def now() -> str:
    """The time as ISO 8601 in UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def write_record(folder: Path, record: dict) -> None:
    """`record` merged over the folder's run.json as it is now (other writers' keys kept), atomically."""
    path = folder / RECORD
    try:
        on_disk = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        on_disk = {}
    merged = {**on_disk, **record} if isinstance(on_disk, dict) else dict(record)
    atomic_write(path, json.dumps(merged, indent=1, default=str).encode("utf-8"))


def device_name(device: str) -> str:
    """The accelerator's name ("NVIDIA H100 80GB HBM3"), or the device itself for the CPU."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return device


def _row(row: dict | None) -> dict | None:
    return None if row is None else {k: v for k, v in row.items() if k != "samples_per_sec"}


class RunRecorder:
    """Writes run.json for one run as its events arrive (see the module docstring)."""

    def __init__(self, folder: Path, project, settings: dict, base_dir: Path):
        self.folder = folder
        self.record = {
            "format": FORMAT, "status": "starting", "message": "", "started": now(), "ended": None,
            "pid": os.getpid(), "host": socket.gethostname(),
            "project": {"name": project.name, "file": str(project.path.resolve()) if project.path else None},
            "settings": settings, "seed": settings.get("seed", 0),
            "data": data_fingerprint(settings.get("dataset", {}), base_dir),
            "versions": library_versions(),
        }
        self.error: Exception | None = None  # the first write that failed

    def __call__(self, event) -> None:
        if isinstance(event, events.RunStarted):
            self.record.update(status="running", device=event.device, device_name=device_name(event.device),
                               metric=event.metric,
                               epochs_planned=event.total_epochs, epochs_done=0,
                               batches_per_epoch=event.batches_per_epoch, train_samples=event.train_samples,
                               val_samples=event.val_samples, dataset=event.dataset, notes=list(event.notes))
        elif isinstance(event, events.EpochEnd):
            self.record["epochs_done"] = event.epoch
        elif isinstance(event, events.RunEnded):
            self._ended(event.result)
        else:
            return  # batches, pauses: nothing to record
        try:
            write_record(self.folder, self.record)
        except Exception as error:  # noqa: BLE001 - a full disk, a crash: the record never fails the run
            self.error = self.error or error
        if isinstance(event, events.RunEnded) and self.error is not None:  # said where the run's end is read
            event.result.message += f"; its record {RECORD} could not be written ({reason(self.error)})"

    def _ended(self, result: events.RunResult) -> None:
        def name(path):
            return None if path is None else Path(path).name

        self.record.update(
            status=result.status, message=result.message, ended=now(), seconds=round(result.seconds, 3),
            epochs_done=len(result.history), best_epoch=result.best_epoch, best=_row(result.best_metrics),
            final=_row(result.history[-1] if result.history else None),
            checkpoints={kind: name(path) for kind, path in result.checkpoints.items()},
            weights=name(result.weights), weights_from=result.weights_from)


def with_listeners(callback, listeners: list):
    """Each listener, then `callback` (may be None), so the callback sees what the listeners noted on the
    run's result. Listeners handle their own failures (see RunRecorder; TensorBoardWriter)."""
    if not listeners:
        return callback

    def call(event) -> None:
        for listener in listeners:
            listener(event)
        if callback is not None:
            callback(event)

    return call


def run_listeners(trainer) -> list:
    """The listeners of a run on the process that writes its folder: the record, and TensorBoard event
    files when the `tensorboard` setting is on (the default) and tensorboard is installed."""
    if not trainer.is_main:
        return []
    project = trainer.trained_project()
    listeners: list = [RunRecorder(trainer.out_dir, trainer.project, project.training, trainer.base_dir)]
    if trainer.config.tensorboard:
        from engine.history.tensorboard import tensorboard_listener

        listener, note = tensorboard_listener(trainer.out_dir, trainer.graph, trainer.dataset)
        if listener is not None:
            listeners.append(listener)
        if note:
            trainer.notes.append(note)
    return listeners
