"""The thread tuner: it times the run's own steps on each choice and keeps the faster, at little cost."""

from __future__ import annotations

import os

import pytest
import torch

from engine.training.thread_tuner import ThreadTuner, auto_threads


class FakeMachine:
    """A clock that advances by the step time of the current thread count, and a record of the settings."""

    def __init__(self, seconds_per_step: dict[int, float]):
        self.seconds_per_step, self.now, self.threads, self.settings = seconds_per_step, 0.0, None, []

    def clock(self) -> float:
        return self.now

    def set_threads(self, threads: int) -> None:
        self.threads = threads
        self.settings.append(threads)

    def train(self, tuner: ThreadTuner, steps: int, samples: int = 64) -> list[int]:
        """The thread count of each step, as the trainer's loop calls the tuner."""
        used = []
        for _ in range(steps):
            tuner.before_step()
            self.now += self.seconds_per_step[self.threads]
            used.append(self.threads)
            tuner.after_step(samples)
        return used


def tuner_on(machine: FakeMachine, **options) -> ThreadTuner:
    return ThreadTuner((1, 2), clock=machine.clock, set_threads=machine.set_threads, **options)


def test_it_keeps_the_faster_count_after_an_abba_probe():
    machine = FakeMachine({1: 0.010, 2: 0.007})
    tuner = tuner_on(machine, block=3, rounds=4)
    tuner.start_epoch(1)
    used = machine.train(tuner, 40)
    assert used[:12] == [1, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1, 1]  # ABBA blocks of 3
    assert not tuner.probing and tuner.threads == 2 and set(used[24:]) == {2}
    assert tuner.decisions == [(1, 2)]


def test_a_tie_or_a_small_gain_leaves_a_core_free():
    machine = FakeMachine({1: 0.010, 2: 0.0098})  # 2% faster: under the 5% margin
    tuner = tuner_on(machine)
    tuner.start_epoch(1)
    used = machine.train(tuner, 100)
    assert tuner.threads == 1 and set(used[40:]) == {1} and tuner.decisions == [(1, 1)]


def test_a_far_slower_step_ends_the_probe_at_once():
    machine = FakeMachine({1: 0.010, 2: 0.300})  # a busy core: the second thread waits on it
    tuner = tuner_on(machine, block=4, rounds=4)
    tuner.start_epoch(1)
    used = machine.train(tuner, 50)
    assert used.count(2) == 1  # one step paid, the probe's other 15 skipped
    assert tuner.threads == 1 and not tuner.probing and tuner.decisions == [(1, 1)]


def test_it_probes_in_the_first_epoch_then_after_hold_steps():
    machine = FakeMachine({1: 0.010, 2: 0.005})
    tuner = tuner_on(machine, block=2, rounds=2, hold=20)
    for epoch in (1, 2, 3):
        tuner.start_epoch(epoch)
        machine.train(tuner, 10)
    assert tuner.decisions == [(1, 2)]  # epoch 2 and 3: the choice is 2 and 12 steps old
    machine.seconds_per_step = {1: 0.010, 2: 0.050}  # the machine got busy
    tuner.start_epoch(4)  # the choice made in epoch 1 has been held for 22 steps
    machine.train(tuner, 10)
    assert tuner.decisions[-1] == (4, 1) and tuner.threads == 1


def test_while_workers_make_the_batches_the_fewest_threads_train_and_the_probe_waits():
    machine = FakeMachine({1: 0.010, 2: 0.005})
    tuner = tuner_on(machine, block=2, rounds=2)
    tuner.start_epoch(1, workers=True)  # an image folder's first epoch: the workers fill its cache
    assert set(machine.train(tuner, 20)) == {1} and tuner.decisions == []
    tuner.start_epoch(2)  # from the full cache
    machine.train(tuner, 20)
    assert tuner.decisions == [(2, 2)]
    tuner.start_epoch(3, workers=True)  # augmentation that runs in the workers every epoch, say
    assert set(machine.train(tuner, 5)) == {1}


def test_a_probe_carries_over_epochs_shorter_than_it():
    machine = FakeMachine({1: 0.010, 2: 0.005})
    tuner = tuner_on(machine, block=4, rounds=4)  # 32 probe steps
    for epoch in range(2, 7):  # 10 steps an epoch, from the second epoch (the first one's probe restarts)
        tuner.start_epoch(epoch)
        machine.train(tuner, 10)
    assert tuner.decisions == [(5, 2)] and tuner.threads == 2


@pytest.mark.parametrize("device, cores, expect_tuner", [("cpu", 2, True), ("cpu", 1, False), ("cuda", 2, False)])
def test_auto_threads_tunes_only_a_cpu_run_with_a_core_to_spare(device, cores, expect_tuner, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)))
    before = torch.get_num_threads()
    try:
        tuner = auto_threads(torch.device(device))
        assert (tuner is not None) == expect_tuner
        assert torch.get_num_threads() == max(1, cores - 1)
        if tuner is not None:
            assert tuner.choices == (1, 2)
    finally:
        torch.set_num_threads(before)


def test_a_trainer_on_auto_threads_tunes_its_steps_and_finishes(moons_project, tmp_path, monkeypatch):
    from engine.training import Trainer

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    before = torch.get_num_threads()
    try:
        moons_project.training["batch_size"] = 2  # 64 steps an epoch: the probe (32 steps at most) ends in it
        trainer = Trainer(moons_project, epochs=3, out_dir=tmp_path / "run", threads="auto")
        result = trainer.run()
        assert result.status == "finished", result.message
        assert [epoch for epoch, _ in trainer.thread_tuner.decisions] == [1]  # in memory: no workers
        assert torch.get_num_threads() == trainer.thread_tuner.threads in (1, 2)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [0, "many", 1.5])
def test_threads_must_be_auto_or_a_positive_count(moons_project, threads):
    from engine.errors import UserError
    from engine.training import Trainer

    with pytest.raises(UserError, match="threads must be 'auto' or at least 1"):
        Trainer(moons_project, threads=threads)
