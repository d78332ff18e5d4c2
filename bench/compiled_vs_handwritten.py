"""Section 1: a compiled model trains exactly as fast as the same model written by hand.

Forward + backward + Adam step throughput on the same data, batch and optimizer, the
two measured alternately; the figure is compiled/hand-written throughput. Each repeat
times every step and keeps the median step, so a burst from another process during a
few steps of one side doesn't decide the repeat."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from bench.common import Row, interleaved, summarise
from bench.models import cases
from engine.compiler import compile_graph

GOAL = 0.98


def train_steps(model: nn.Module, x, y, steps: int, clock=time.perf_counter, summary=statistics.median):
    """A callable running `steps` training steps and returning the median (or `summary`) seconds per step,
    timed by `clock` (wall time by default; `time.thread_time` counts only this thread's CPU time, which
    other processes on a busy machine cannot stretch, for a single-threaded CPU comparison)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def run() -> float:
        times = []
        for _ in range(steps):
            start = clock()
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            if x.is_cuda:
                torch.cuda.synchronize()
            times.append(clock() - start)
        return summary(times)
    return run


def run(device: str = "cpu", quick: bool = False) -> list[Row]:
    """On the CPU with one torch thread, as sections 2, 3 and 6: a second thread on a small shared
    machine adds more noise than speed, and the comparison is the same either way."""
    threads = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(1)
    try:
        return _compare_all(device, quick)
    finally:
        torch.set_num_threads(threads)


def _compare_all(device: str, quick: bool) -> list[Row]:
    rows = []
    batch = 128
    section = f"1. compiled vs hand-written ({device})"
    rounds = 9 if quick else 41
    for name, graph, hand_class, shape in cases():
        torch.manual_seed(0)
        compiled = compile_graph(graph).model.to(device).train()
        hand = hand_class().to(device).train()
        hand.load_state_dict(compiled.state_dict())
        x = torch.randn(batch, *shape, device=device)
        y = torch.randint(0, 10, (batch,), device=device)
        steps = 10 if quick else 20
        compiled_run, hand_run = train_steps(compiled, x, y, steps), train_steps(hand, x, y, steps)
        compiled_run(), hand_run()  # warm-up
        ratios = interleaved(hand_run, compiled_run, rounds=rounds)
        median, spread = summarise(ratios)
        rows.append(Row(section, name, median, "x", f">= {GOAL}",
                        median >= GOAL, spread, f"batch {batch}, Adam, median step of {steps} per repeat"
                        + (", 1 thread" if device == "cpu" else "")))
        if name == "digits CNN":
            twin = hand_class().to(device).train()
            twin.load_state_dict(hand.state_dict())
            twin_run = train_steps(twin, x, y, steps)
            twin_run()
            median, spread = summarise(interleaved(hand_run, twin_run, rounds=rounds))
            rows.append(Row(section, "digits CNN, hand-written vs hand-written (noise floor)", median, "x", "",
                            None, spread, "two copies of the same module: how far this machine's noise moves a ratio"))
    return rows
