"""Section 16: the memory check's estimate (engine.memory_estimate) against the real peak of training.

Each model is measured in a fresh subprocess with one torch thread: the example projects
(resources/examples/*.json, the graph as `train` sees it, random data of the inferred shapes) and
the standard architectures of section 9 (imported with the torch.fx importer; their loss is the
output's sum, which keeps nothing). The subprocess first runs one warm-up step on a throw-away
copy of the model at batch 2, so that torch's kernels and thread pools are loaded, then resets
the kernel's peak-RSS mark (writing 5 to /proc/self/clear_refs) and notes its resident memory.
It then builds the model, the optimiser (the project's; Adam for the architectures) and a batch,
and runs two training steps; the measured peak is the peak resident memory (VmHWM) less the
memory before (glibc's malloc with a fixed mmap threshold: see MALLOC_ENV). The batch size is chosen so that the estimate is about 256 MB (96 MB with
--quick; never below the project's own), large enough that the allocator's and the library's few
megabytes of their own do not decide the ratio. On CUDA the same script measures
torch.cuda.max_memory_allocated after reset_peak_memory_stats (`--device cuda`; not measured
here, the machine has no GPU). Goal (issue 16): estimate / measured within 0.75-1.25.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.common import Row

SECTION = "16. Memory estimate vs real peak"
ROOT = Path(__file__).resolve().parents[1]
LOW, HIGH = 0.75, 1.25
# glibc's malloc raises its mmap threshold as memory is freed, after which large blocks come from the
# heap and freed ones stay resident: the peak RSS then depends on the order of frees. A fixed threshold
# maps every block over 128 KiB and unmaps it when freed, so the resident memory follows what is live.
MALLOC_ENV = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
ARCHITECTURES = ("ResNet-18", "MobileNetV2", "ViT", "Transformer text classifier")

# Run in a subprocess: argv = what (a project path or "arch:NAME"), target bytes, device.
# Prints {"estimate": {...}, "measured": bytes, "batch_size": int}.
MEASURE = r"""
import copy, gc, json, sys
import torch
torch.set_num_threads(1)
from engine.compiler import compile_graph
from engine.memory_estimate import estimate_training, largest_batch
from engine.shapes import infer
what, target, device = sys.argv[1], int(sys.argv[2]), torch.device(sys.argv[3])

def rss(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) * 1024

if what.startswith("arch:"):
    from bench.architectures import imported_twin
    from bench.architectures_models import architectures
    name, factory, shape, dtype, batch = next(a for a in architectures() if a[0].startswith(what[5:]))
    torch.manual_seed(0)
    graph = imported_twin(factory(), shape, dtype).project.graph
    training, least = {"optimizer": {"type": "Adam"}}, batch
else:
    from engine.cli.check import graph_to_check
    from graphs.project import load_project
    project = load_project(what)
    graph, _, _ = graph_to_check(project)
    training, least = project.training, project.training.get("batch_size", 64)
shapes = infer(graph)
batch = max(least, largest_batch(graph, shapes, training, target))

def inputs(compiled, batch):
    def tensor(spec):
        if spec.dtype == "int64":
            return torch.zeros((batch, *spec.shape), dtype=torch.int64, device=device)
        return torch.rand((batch, *spec.shape), device=device)
    xs = [tensor(compiled.shapes.info[i].outputs["out"]) for i in compiled.inputs]
    ys = {t: tensor(compiled.shapes.info[t].outputs["out"]) for t in compiled.targets}
    return xs, ys

def train(batch, steps):
    from engine.training.optim import build_optimizer
    compiled = compile_graph(graph)
    model = compiled.model.to(device).train()
    optimizer = build_optimizer(training.get("optimizer", {"type": "Adam"}), model.parameters())
    for _ in range(steps):
        xs, ys = inputs(compiled, batch)
        outputs = model(*xs)
        loss = compiled.compute_loss(outputs, ys) if compiled.losses else sum(
            o.float().sum() for o in (outputs if isinstance(outputs, tuple) else (outputs,)))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        del xs, ys, outputs, loss

train(2, 1)  # loads the kernels
gc.collect()
if device.type == "cuda":
    torch.cuda.synchronize(); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    train(batch, 2)
    torch.cuda.synchronize()
    measured = torch.cuda.max_memory_allocated() - before
else:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = rss("VmRSS:")
    train(batch, 2)
    measured = rss("VmHWM:") - before
print(json.dumps({"estimate": estimate_training(graph, shapes, training, batch).as_dict(),
                  "measured": measured, "batch_size": batch}))
"""


def measure(what: str, target: int, device: str = "cpu") -> dict:
    """The estimate and the measured peak of one model (a project path or 'arch:NAME') in a fresh process."""
    done = subprocess.run([sys.executable, "-c", MEASURE, what, str(target), device], cwd=ROOT, env=MALLOC_ENV,
                          capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def models(quick: bool) -> list[tuple[str, str]]:
    """(row name, what to measure) for every example project and standard architecture."""
    examples = sorted((ROOT / "resources" / "examples").glob("*.json"))
    if quick:
        examples = [p for p in examples if p.stem in ("iris_mlp", "digits_cnn", "digits_lstm", "digits_vit",
                                                       "digits_mobilenetv2")]
    chosen = [(p.stem, str(p)) for p in examples]
    return chosen + [(name, f"arch:{name}") for name in (ARCHITECTURES[:2] if quick else ARCHITECTURES)]


def run(quick: bool = False) -> list[Row]:
    """Every model on the CPU, and on the GPU too where torch sees one."""
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    return [row for device in devices for row in device_rows(quick, device)]


def device_rows(quick: bool, device: str) -> list[Row]:
    target = (96 if quick else 256) * 2**20
    rows = []
    for name, what in models(quick):
        name = name if device == "cpu" else f"{name} ({device})"
        try:
            result = measure(what, target, device)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as error:
            rows.append(Row(SECTION, name, None, "x", f"{LOW}-{HIGH}", None, note=f"not measured: {error}"))
            continue
        estimate, measured = result["estimate"]["total"], result["measured"]
        ratio = estimate / measured if measured > 0 else None
        rows.append(Row(SECTION, name, ratio, "x", f"{LOW}-{HIGH}",
                        None if ratio is None else LOW <= ratio <= HIGH,
                        note=f"estimate {estimate / 2**20:,.1f} MiB, measured {measured / 2**20:,.1f} MiB "
                             f"at batch {result['batch_size']} on {device}",
                        extra=result))
    return rows
