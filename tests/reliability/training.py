"""Training runs for the fault tests: small projects, a bystander run, and checks on how a run ended.

The projects are the engine tests' small MLP (`tests/engine/conftest.project_data`, imported,
not copied). `moons` trains 8 batches of 16 samples an epoch and validates 40 samples in two
batches of 32, so a layer's forward runs 10 times an epoch: 8 in training, then 2 in validation.

`Bystander` is a healthy run in a background thread: a fault in one run must not stop another
run of the same process. `assert_failed_clearly` checks how a faulty run ended (one
`RunEnded`, status "failed", a one-line message); `assert_checkpoints_load` proves that every
checkpoint written before the fault still loads, with finite weights.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import torch

from engine.compiler import compile_graph
from engine.training import BatchProgress, RunEnded, RunStarted, Trainer, load_weights
from graphs.project import Project, load_project
from tests.engine.conftest import project_data
from tests.reliability.guards import one_line

TRAIN_BATCHES, VAL_BATCHES = 8, 2  # per epoch of `moons`
CALLS_PER_EPOCH = TRAIN_BATCHES + VAL_BATCHES  # a layer's forward calls per epoch of `moons`
JOIN_SECONDS = 60  # a hang guard for joining a training thread
MAX_MESSAGE = 600
PACE = 0.01  # seconds the bystander rests after each batch


def write_project(folder: Path, dataset: dict, name: str = "project.json", **options) -> Project:
    """A small MLP project on `dataset`, written to `folder/name` and loaded from there."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(project_data(dataset, **options)))
    return load_project(path)


def moons(folder: Path, **options) -> Project:
    """Two moons, 160 samples: 120 to train (8 batches of 16), 40 to validate (2 batches of 32)."""
    return write_project(folder, {"name": "moons", "n_samples": 160, "noise": 0.1}, **options)


def run(project: Project, out_dir: Path, prepare=None, **options):
    """Train `project` into `out_dir` on one thread; `prepare(trainer)` may inject a fault into the
    compiled trainer first. Returns (trainer, result, events)."""
    events: list = []
    callback = options.pop("callback", None)
    trainer = Trainer(project, out_dir=out_dir, threads=1,
                      callback=(lambda e: (events.append(e), callback(e))) if callback else events.append,
                      **options)
    if prepare is not None:
        trainer.prepare()
        prepare(trainer)
    return trainer, trainer.run(), events


def assert_ended_once(result, events) -> None:
    """The run reported its start, and its end exactly once, last."""
    assert isinstance(events[0], RunStarted), events[:1]
    ends = [e for e in events if isinstance(e, RunEnded)]
    assert len(ends) == 1 and events[-1] is ends[0] and ends[0].result is result


def assert_failed_clearly(result, events, *words: str) -> str:
    """A failed run with a one-line message holding `words`; no final weights. Returns the message."""
    assert_ended_once(result, events)
    assert result.status == "failed" and not result.ok, (result.status, result.message)
    message = one_line(result.message)
    assert len(message) <= MAX_MESSAGE, message
    for word in words:
        assert word in message, (word, message)
    assert result.weights is None
    return message


def assert_checkpoints_load(trainer: Trainer, result) -> int:
    """Every checkpoint of the run loads into a fresh model with finite weights; returns how many."""
    for path in result.checkpoints.values():
        fresh = compile_graph(trainer.graph).model
        load_weights(fresh, path)
        assert all(torch.isfinite(t).all() for t in fresh.state_dict().values() if t.is_floating_point()), path
    return len(result.checkpoints)


def assert_restored_last_good(trainer: Trainer, result) -> None:
    """After a failure, the model holds the last checkpoint's weights (or none was written yet)."""
    if "last" not in result.checkpoints:
        assert "no checkpoint had been saved yet" in result.message
        return
    assert f"last good weights (epoch {result.history[-1]['epoch']})" in result.message
    kept = compile_graph(trainer.graph).model
    load_weights(kept, result.checkpoints["last"])
    assert all(torch.equal(a, b) for a, b in zip(kept.state_dict().values(), trainer.model.state_dict().values()))


def python_threads() -> set[threading.Thread]:
    """The live Python threads (a zombie training thread would stay in this set). A thread Python did
    not start (a QThread) stays listed after it ends, so it counts only while its OS thread lives."""
    return {t for t in threading.enumerate() if t.is_alive() and (
        not isinstance(t, threading._DummyThread) or os.path.exists(f"/proc/self/task/{t.native_id}"))}


class Bystander:
    """A healthy run in a background thread, for as long as the `with` block lasts.

    On leaving the block it checks that the run kept training after the block's fault (it
    reports more batches), then stops it, checks that it ended "stopped", not "failed", and that
    no Python thread is left running that was not there before.
    """

    def __init__(self, folder: Path):
        self.trainer = Trainer(moons(folder / "bystander"), out_dir=folder / "bystander" / "run", epochs=100_000,
                               threads=1, progress_every=1, callback=self._event)
        self.steps = 0
        self._moved = threading.Condition()
        self.result = None
        self.thread = threading.Thread(target=self._run, name="bystander", daemon=True)

    def _run(self) -> None:
        self.result = self.trainer.run()

    def _event(self, event) -> None:
        if isinstance(event, BatchProgress):
            with self._moved:
                self.steps = event.step
                self._moved.notify_all()
            time.sleep(PACE)  # a gentle neighbour: the faulty runs keep most of the CPU (and the GIL)

    def wait_for_step(self, step: int) -> None:
        with self._moved:
            assert self._moved.wait_for(lambda: self.steps >= step or not self.thread.is_alive(), JOIN_SECONDS)
        assert self.steps >= step, f"the bystander run ended: {self.result and self.result.message}"

    def __enter__(self) -> Bystander:
        self._threads_before = python_threads()
        self.thread.start()
        self.wait_for_step(1)
        return self

    def __exit__(self, kind, _value, _traceback) -> None:
        if kind is None:
            self.wait_for_step(self.steps + 3)  # still training after the fault
        self.trainer.stop()
        self.thread.join(JOIN_SECONDS)
        assert not self.thread.is_alive(), "the bystander run did not stop"
        assert python_threads() == self._threads_before, "a thread was left running"
        if kind is None:
            assert self.result.status == "stopped", self.result.message
