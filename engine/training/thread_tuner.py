"""Chooses torch's CPU threads for a run on the CPU by timing the run's own training steps.

A run nobody chose threads for starts on every core but one (`devices.default_threads`): while an
image folder's first epoch decodes in worker processes, or another program keeps a core busy, a
thread on that core makes every step wait for it (a small CNN's step up to 10x slower). Once the data
comes from memory and the machine is quiet, the last core makes the same step about 1.3-1.5x faster
(bench section 10). No rule tells which holds on a user's machine, so `ThreadTuner` measures: at the
start of the first epoch whose data comes without worker processes (an image folder's second, once its
cache is full) and again after `hold` steps, it trains short blocks of steps on each choice in ABBA
order, so a drift of the machine's load weighs on both alike, and keeps the faster. A tie goes to fewer
threads, leaving a core to the machine. While worker processes make the batches, the fewest threads
train: the workers need the spare core, and a probe would time steps fed from batches the workers made
before it started.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


class ThreadTuner:
    """Alternates `choices` (thread counts, fewest first) over the probe's blocks and keeps the fastest.

    The trainer calls `start_epoch` before each epoch, `before_step` before reading a batch and
    `after_step(samples)` after training on it; the time in between counts, the batch's preparation
    included. The first step of each block is not counted: it pays for waking or parking threads. A step far slower
    than the fewest threads' ends the probe at once (see `_far_slower`)."""

    def __init__(self, choices: tuple[int, ...], *, block: int = 4, rounds: int = 4, hold: int = 2000,
                 margin: float = 0.05, abort_factor: float = 2.0, clock: Callable[[], float] = time.perf_counter,
                 set_threads: Callable[[int], None] = torch.set_num_threads):
        if len(choices) < 1 or block < 2 or rounds < 1:
            raise ValueError("a tuner needs a choice, blocks of 2 steps or more and a round")
        self.choices, self.block, self.rounds, self.hold, self.margin = tuple(choices), block, rounds, hold, margin
        self.abort_factor = abort_factor
        self._clock, self._set_threads = clock, set_threads
        self.threads = self.choices[0]
        self.decisions: list[tuple[int, int]] = []  # (epoch, threads) each time a probe ended
        self._plan: list[tuple[int, bool]] = []  # the coming probe steps: (threads, counted)
        self._seconds: dict[int, float] = {}
        self._samples: dict[int, int] = {}
        self._held = 0
        self._epoch = 0
        self._started: float | None = None
        self._set_threads(self.threads)

    @property
    def probing(self) -> bool:
        return bool(self._plan)

    def start_epoch(self, epoch: int, workers: bool = False) -> None:
        """Before epoch `epoch`; `workers`: its batches come from the data's worker processes."""
        self._epoch = epoch
        if workers:
            self._plan = []
            self._use(self.choices[0])
            return
        if len(self.choices) > 1 and not self._plan and (not self.decisions or self._held >= self.hold):
            for round_ in range(self.rounds):
                order = self.choices if round_ % 2 == 0 else self.choices[::-1]
                for threads in order:
                    self._plan += [(threads, False)] + [(threads, True)] * (self.block - 1)
            self._seconds = dict.fromkeys(self.choices, 0.0)
            self._samples = dict.fromkeys(self.choices, 0)

    def before_step(self) -> None:
        if self._plan:
            self._use(self._plan[0][0])
            self._started = self._clock()

    def after_step(self, samples: int) -> None:
        if not self._plan:
            self._held += 1
            return
        threads, counted = self._plan.pop(0)
        seconds = self._clock() - self._started if self._started is not None else None
        self._started = None
        if seconds is not None and self._far_slower(threads, seconds / max(samples, 1)):
            self._plan = []  # a step at this count cost far more than at the fewest: stop paying for the probe
            self._settle(self.choices[0])
            return
        if counted and seconds is not None:
            self._seconds[threads] += seconds
            self._samples[threads] += samples
        if not self._plan:
            self._decide()

    def _far_slower(self, threads: int, seconds_per_sample: float) -> bool:
        """Whether a step at `threads` took over `abort_factor` times the fewest threads' mean (its blocks come
        first): while worker processes or another program keep the cores busy, one such step can cost 10x."""
        fewest = self.choices[0]
        if threads == fewest or not self._samples[fewest]:
            return False
        return seconds_per_sample > self.abort_factor * self._seconds[fewest] / self._samples[fewest]

    def _decide(self) -> None:
        speeds = {threads: self._samples[threads] / self._seconds[threads]
                  for threads in self.choices if self._seconds[threads] > 0}
        best = self.choices[0]
        for threads in self.choices[1:]:  # more threads only when clearly faster
            if threads in speeds and speeds[threads] > speeds.get(best, 0.0) * (1 + self.margin):
                best = threads
        self._settle(best)

    def _settle(self, threads: int) -> None:
        """End the probe on `threads`, held from now on until the next probe."""
        self._use(threads)
        self._held = 0
        self.decisions.append((self._epoch, threads))

    def _use(self, threads: int) -> None:
        if threads != self.threads:
            self._set_threads(threads)
            self.threads = threads


def auto_threads(device: torch.device, world=None) -> ThreadTuner | None:
    """Threads for a run nobody chose them for: every core but one, and a tuner that tries every core too
    for a single-process run on the CPU (on a GPU, or in a distributed run, the CPU threads stay put)."""
    from engine.training.devices import default_threads, usable_cores

    fewer, every = default_threads(), usable_cores()
    if device.type != "cpu" or world is not None or every == fewer:
        torch.set_num_threads(fewer)
        return None
    return ThreadTuner((fewer, every))
