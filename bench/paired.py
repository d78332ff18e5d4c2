"""Timing two (or more) models' training steps paired step by step, for a ratio that noise can't tilt.

`paired_times(steps, rounds)` runs one training step of each model in turn, the order rotating
every round, so every pair of steps compared ran side by side in time, on the same batch, and a
burst from another process falls on both (or, once in a while, on one pair only, which the
median ignores). Each step is timed in the CPU time of this thread (`time.thread_time`): with one
torch thread that is all of a step's work, and it does not grow while another process holds the
core. The figure is the median over rounds of the per-round ratios, with a distribution-free 95%
confidence interval of that median (order statistics of the binomial, no resampling), so a goal
can be judged "met beyond noise" by the interval's lower end.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


def training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], float]:
    """A callable doing one Adam step of `model` on (x, y) with cross-entropy; returns its thread CPU time."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> float:
        start = time.thread_time()
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
        if x.is_cuda:
            torch.cuda.synchronize()
        return time.thread_time() - start

    return step


def paired_times(steps: list[Callable[[], float]], rounds: int, warmup: int = 3) -> list[list[float]]:
    """Per round, each step's seconds (in the order given); within a round the steps run in a rotated
    order (round r starts with step r mod k) and every other round backwards, so no step always goes
    first or always follows the same one."""
    for _ in range(warmup):
        for step in steps:
            step()
    count, times = len(steps), []
    for round_ in range(rounds):
        order = [(round_ + i) % count for i in range(count)]
        if round_ % 2:
            order.reverse()
        seconds = [0.0] * count
        for index in order:
            seconds[index] = steps[index]()
        times.append(seconds)
    return times


@dataclass(frozen=True)
class Ratio:
    """The median of paired ratios and its 95% confidence interval."""

    median: float
    low: float
    high: float
    pairs: int

    def spread(self) -> str:
        return f"95% CI {self.low:.3f}-{self.high:.3f} over {self.pairs} paired steps"


def median_ratio(ratios: list[float]) -> Ratio:
    """The median of `ratios` with a distribution-free 95% confidence interval: the order statistics
    n/2 -+ 1.96 sqrt(n)/2 (the normal approximation of the binomial; exact enough from ~20 pairs)."""
    ordered = sorted(ratios)
    n = len(ordered)
    half_width = 1.96 * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half_width))
    high = min(n - 1, math.ceil(n / 2 + half_width) - 1)
    return Ratio(statistics.median(ordered), ordered[low], ordered[high], n)


def throughput_ratio(times: list[list[float]], baseline: int, candidate: int) -> Ratio:
    """Candidate/baseline throughput (baseline seconds over candidate seconds), paired by round."""
    return median_ratio([row[baseline] / row[candidate] for row in times])
