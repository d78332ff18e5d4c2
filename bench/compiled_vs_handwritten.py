"""Section 1: a compiled model trains exactly as fast as the same model written by hand.

Forward + backward + Adam step throughput on the same data, batch and optimizer, the
two measured alternately; the figure is compiled/hand-written throughput."""

from __future__ import annotations

import torch
from torch import nn

from bench.common import Row, interleaved, summarise, timed
from bench.models import cases
from engine.compiler import compile_graph

GOAL = 0.98


def train_steps(model: nn.Module, x, y, steps: int):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def run():
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        if x.is_cuda:
            torch.cuda.synchronize()
    return run


def run(device: str = "cpu", quick: bool = False) -> list[Row]:
    rows = []
    batch = 128
    for name, graph, hand_class, shape in cases():
        torch.manual_seed(0)
        compiled = compile_graph(graph).model.to(device).train()
        hand = hand_class().to(device).train()
        hand.load_state_dict(compiled.state_dict())
        x = torch.randn(batch, *shape, device=device)
        y = torch.randint(0, 10, (batch,), device=device)
        steps = 20 if quick else 60
        compiled_run, hand_run = train_steps(compiled, x, y, steps), train_steps(hand, x, y, steps)
        compiled_run(), hand_run()  # warm-up
        ratios = interleaved(lambda h=hand_run: timed(h), lambda c=compiled_run: timed(c), rounds=5 if quick else 9)
        median, spread = summarise(ratios)
        rows.append(Row(f"1. compiled vs hand-written ({device})", name, median, "x", f">= {GOAL}",
                        median >= GOAL, spread, f"batch {batch}, Adam, {steps} steps per repeat"))
    return rows
