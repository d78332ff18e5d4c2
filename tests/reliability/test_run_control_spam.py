"""Stop and pause spam: a run asked to stop a hundred times stops once, cleanly; a run paused and
resumed hundreds of times from other threads still trains every batch exactly once and finishes
(or stops, when the last word is a stop). Every run reports its end exactly once, writes weights
that load, and leaves no thread behind.
"""

from __future__ import annotations

import random
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.training import BatchProgress, Paused, Resumed, Trainer, read_metadata
from tests.reliability.tally import count, rounds
from tests.reliability.training import (
    JOIN_SECONDS,
    TRAIN_BATCHES,
    assert_checkpoints_load,
    assert_ended_once,
    moons,
    python_threads,
)

SUBJECT = "stop and pause spam"
PRESSES = 100


class Background:
    """A run in a background thread; `first_batch` is set when it reports its first batch."""

    def __init__(self, folder, epochs: int):
        self.events: list = []
        self.first_batch = threading.Event()
        self.trainer = Trainer(moons(folder), out_dir=folder / "run", epochs=epochs, threads=1, progress_every=1,
                               callback=self._event)
        self.result = None
        self.threads_before = python_threads()
        self.thread = threading.Thread(target=self._run, name="training", daemon=True)
        self.thread.start()

    def _event(self, event) -> None:
        self.events.append(event)
        if isinstance(event, BatchProgress):
            self.first_batch.set()

    def _run(self) -> None:
        self.result = self.trainer.run()

    def join(self):
        self.thread.join(JOIN_SECONDS)
        assert not self.thread.is_alive(), "the run neither finished nor stopped"
        assert python_threads() == self.threads_before, "a thread was left running"
        assert_ended_once(self.result, self.events)
        return self.result

    def steps(self) -> list[int]:
        return [e.step for e in self.events if isinstance(e, BatchProgress)]


def in_threads(action, threads: int = 4) -> None:
    """Run `action` in `threads` threads at once and join them."""
    workers = [threading.Thread(target=action) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(JOIN_SECONDS)
        assert not worker.is_alive()


def assert_stopped_cleanly(trainer, result) -> None:
    assert result.status == "stopped" and result.message.startswith("stopped by request at epoch "), result.message
    assert result.weights_from == "partial" and result.weights.exists()
    assert read_metadata(result.weights)["epoch"].endswith(f"(stopped after batch {trainer._batch})")
    assert_checkpoints_load(trainer, result)


# ---- stop ----------------------------------------------------------------------------

def test_stop_pressed_100_times_from_four_threads_mid_run(tmp_path):
    run = Background(tmp_path, epochs=10_000)
    assert run.first_batch.wait(JOIN_SECONDS)
    in_threads(lambda: [run.trainer.stop() for _ in range(PRESSES // 4)])
    steps_when_stopped = len(run.steps())
    result = run.join()
    assert_stopped_cleanly(run.trainer, result)
    assert len(run.steps()) - steps_when_stopped <= 1  # at most the batch that was running
    count(SUBJECT, f"stop x{PRESSES} from 4 threads mid-run: stopped once, weights load")


@settings(max_examples=rounds(6, 60))
@given(step=st.integers(1, 3 * TRAIN_BATCHES))
def stop_spam_from_the_callback(step):
    with tempfile.TemporaryDirectory() as folder:
        events, trainer = [], None

        def callback(event):
            events.append(event)
            if isinstance(event, BatchProgress) and event.step == step:
                for _ in range(PRESSES):
                    trainer.stop()

        trainer = Trainer(moons(Path(folder)), out_dir=Path(folder) / "run", epochs=4, threads=1, progress_every=1,
                          callback=callback)
        result = trainer.run()
        assert_ended_once(result, events)
        assert_stopped_cleanly(trainer, result)
        assert [e.step for e in events if isinstance(e, BatchProgress)][-1] == step  # no batch after the stop
    count(SUBJECT, f"stop x{PRESSES} from the callback: stopped at that batch, weights load")


def test_stop_pressed_100_times_from_the_callback():
    stop_spam_from_the_callback()


def test_stop_pressed_100_times_before_the_start_and_after_the_end(tmp_path):
    trainer = Trainer(moons(tmp_path), out_dir=tmp_path / "early", epochs=3, threads=1)
    for _ in range(PRESSES):
        trainer.stop()
    result = trainer.run()
    assert result.status == "stopped" and result.message == "stopped by request at epoch 1, batch 0"
    assert_checkpoints_load(trainer, result)
    late = Trainer(moons(tmp_path), out_dir=tmp_path / "late", epochs=1, threads=1)
    finished = late.run()
    for _ in range(PRESSES):
        late.stop()
    assert finished.status == "finished" and late.model is not None
    count(SUBJECT, f"stop x{PRESSES} before the start and after the end: no effect beyond a stop", 2)


# ---- pause and resume ------------------------------------------------------------------

def spam(trainer, rng: random.Random, presses: int, last) -> None:
    """`presses` random pauses and resumes, mostly a millisecond or two apart (so they spread over
    many batches), then `last(trainer)`."""
    rest = threading.Event()
    for _ in range(presses):
        rng.choice((trainer.pause, trainer.resume))()
        rest.wait(rng.choice((0, 0.001, 0.002)))
    last(trainer)


def assert_pauses_pair_up(events, stopped: bool) -> None:
    """The run paused, and Paused and Resumed alternate; only a stop may leave the last pause open."""
    kinds = [type(e) for e in events if isinstance(e, (Paused, Resumed))]
    assert kinds, "the spam never paused the run"
    assert kinds[0::2] == [Paused] * len(kinds[0::2]) and kinds[1::2] == [Resumed] * len(kinds[1::2]), kinds
    assert len(kinds) % 2 == 0 or stopped


@pytest.mark.parametrize("seed", range(rounds(3, 30)))
def test_pause_resume_spam_from_other_threads_then_the_run_finishes(seed, tmp_path):
    run = Background(tmp_path, epochs=3)
    assert run.first_batch.wait(JOIN_SECONDS)
    rng = random.Random(seed)
    in_threads(lambda: spam(run.trainer, random.Random(rng.random()), 150, Trainer.resume), threads=2)
    result = run.join()
    assert result.status == "finished" and len(result.history) == 3, result.message
    losses = [loss for e in run.events if isinstance(e, BatchProgress) for loss in e.losses]
    assert len(losses) == 3 * TRAIN_BATCHES and run.steps() == list(range(1, 3 * TRAIN_BATCHES + 1))
    assert_pauses_pair_up(run.events, stopped=False)
    count(SUBJECT, "pause/resume x300 from 2 threads: finished, every batch once")


@pytest.mark.parametrize("seed", range(rounds(2, 20)))
def test_pause_resume_spam_ending_in_a_stop(seed, tmp_path):
    run = Background(tmp_path, epochs=10_000)
    assert run.first_batch.wait(JOIN_SECONDS)
    in_threads(lambda: spam(run.trainer, random.Random(seed), 150, Trainer.stop), threads=2)
    result = run.join()
    assert_stopped_cleanly(run.trainer, result)
    assert_pauses_pair_up(run.events, stopped=True)
    count(SUBJECT, "pause/resume x300 from 2 threads, then stop: stopped cleanly, weights load")
