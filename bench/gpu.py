"""Section 7: the GPU rows, only where a CUDA device exists (skipped cleanly otherwise).

- Sections 1 and 2 again, on the GPU.
- Automatic mixed precision (bf16 autocast) and torch.compile speed-ups on the residual CNN,
  each against the same model in fp32 eager mode, measured alternately.
- Peak GPU memory of a training step against the estimate (parameters, gradients, Adam
  state and activations at batch 128) when one can be made from the summary."""

from __future__ import annotations

import torch
from torch import nn

from bench.common import Row, interleaved, summarise, timed
from bench.models import cases
from engine.compiler import compile_graph

SECTION = "7. GPU"


def run(quick: bool = False) -> list[Row]:
    if not torch.cuda.is_available():
        return [Row(SECTION, "(section)", None, "", "", None, note="skipped: no CUDA device on this machine")]
    from bench import compiled_vs_handwritten, trainer_overhead

    rows = compiled_vs_handwritten.run(device="cuda", quick=quick)
    rows += [_retitle(row) for row in trainer_overhead.run_on("cuda", quick=quick)]
    rows += residual_speedups(quick)
    return rows


def _retitle(row: Row) -> Row:
    row.section = "2. trainer overhead (GPU)"
    return row


def _steps(model: nn.Module, x, y, steps: int, amp: bool):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def run():
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        torch.cuda.synchronize()
    return run


def residual_speedups(quick: bool) -> list[Row]:
    name, graph, _, shape = [c for c in cases() if c[0] == "residual CNN"][0]
    batch, steps = 512, 20 if quick else 50
    x = torch.randn(batch, *shape, device="cuda")
    y = torch.randint(0, 10, (batch,), device="cuda")
    rows = []
    torch.manual_seed(0)
    base_model = compile_graph(graph).model.cuda().train()
    baseline = _steps(base_model, x, y, steps, amp=False)
    baseline()
    amp = _steps(compile_graph(graph).model.cuda().train(), x, y, steps, amp=True)
    amp()
    ratios = interleaved(lambda: timed(baseline), lambda: timed(amp), rounds=5)
    median, spread = summarise(ratios)
    rows.append(Row(SECTION, f"{name}: bf16 autocast vs fp32 (speed-up)", median, "x", "", None, spread,
                    f"batch {batch}"))
    compiled = torch.compile(compile_graph(graph).model.cuda().train())
    fast = _steps(compiled, x, y, steps, amp=False)
    fast()  # compiles
    ratios = interleaved(lambda: timed(baseline), lambda: timed(fast), rounds=5)
    median, spread = summarise(ratios)
    rows.append(Row(SECTION, f"{name}: torch.compile vs eager (speed-up)", median, "x", "", None, spread,
                    f"batch {batch}"))
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    baseline()
    peak = torch.cuda.max_memory_allocated() - before
    params = sum(p.numel() for p in base_model.parameters())
    shapes = compile_graph(graph).shapes
    activations = sum(max((s.shape and _numel(s.shape)) or 1, 1) for info in shapes.info.values()
                      for s in info.outputs.values())
    estimate = 4 * (3 * params + 2 * batch * activations)  # grads + 2 Adam moments; activations + their grads
    rows.append(Row(SECTION, f"{name}: peak memory of a step vs estimate", peak / estimate, "x", "", None,
                    note=f"peak {peak / 2**20:.1f} MiB, estimate {estimate / 2**20:.1f} MiB"))
    return rows


def _numel(shape) -> int:
    total = 1
    for d in shape:
        total *= d
    return total
