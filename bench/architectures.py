"""Section 9: the standard architectures, imported and compiled, train as fast as written by hand;
a ResNet-50-sized model imports in seconds.

Training rows: each hand-written model of `bench.architectures_models` is imported with the
torch.fx importer (so the row measures both the compiled graph and the import), the imported
model must reproduce the original within 1e-5 before anything is timed, and then three models
train side by side, step by step (`bench.paired`): the hand-written one, the imported one and an
identical copy of the hand-written one, one Adam step each on the same batch in a rotating order,
timed in the training thread's CPU time with one torch thread. The figure is the median over
steps of hand-written/imported step time (imported throughput over hand-written), with its 95%
confidence interval; the copy gives the noise floor of the same run (hand-written vs itself). The
goal counts as met only when the whole interval is at or above it (not judged with --quick, whose 20
steps leave the interval too wide). A model the importer refuses gets a row without a figure and the
refusal as its note.

Import rows: a full ResNet-50 (random weights) imported from the module by torch.fx and from
ONNX files written by torch's exporters, each including the check against the original
(torch for fx, onnxruntime for ONNX), in seconds: the slowest of a few repeats, as the first
import in a process pays one-time costs that a user importing once pays too.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from bench.architectures_models import architectures, example_input, resnet50, settle_batch_norm
from bench.common import Row, summarise
from bench.paired import paired_times, throughput_ratio, training_step
from engine.errors import UserError
from engine.importers.common import ImportResult
from engine.importers.onnx_import import import_onnx, verify_import
from engine.importers.torch_import import import_module, verify_module_import

GOAL = 0.98
IMPORT_GOAL_S = 5.0
TOLERANCE = 1e-5
SECTION = "9. standard architectures (cpu)"
RESNET50_INPUT = (3, 224, 224)


def run(quick: bool = False) -> list[Row]:
    """On the CPU with one torch thread, as sections 1, 2, 3 and 6."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return training_rows(quick) + import_rows(quick)
    finally:
        torch.set_num_threads(threads)


def imported_twin(model: nn.Module, shape, dtype) -> ImportResult:
    """`model` imported with the torch.fx importer; `ImportRefused` (a UserError) if it cannot be."""
    return import_module(model, [shape], input_dtypes=["int64" if dtype == torch.int64 else "float32"])


def largest_difference(model: nn.Module, imported: nn.Module, x: torch.Tensor) -> float:
    """Max absolute output difference of the two models in eval mode (left in train mode after)."""
    model.eval()
    imported.eval()
    with torch.no_grad():
        difference = (model(x) - imported(x)).abs().max().item()
    model.train()
    imported.train()
    return difference


def training_rows(quick: bool) -> list[Row]:
    rows = []
    rounds = 20 if quick else 150
    for name, factory, shape, dtype, batch in architectures():
        torch.manual_seed(0)
        hand = settle_batch_norm(factory(), shape, dtype)
        try:
            imported = imported_twin(hand, shape, dtype).compiled.model
        except UserError as refusal:
            rows.append(Row(SECTION, f"{name}, imported vs hand-written", None, "x", f">= {GOAL}", False,
                            note=f"not imported: {refusal.message}"))
            continue
        difference = largest_difference(hand, imported, example_input(shape, dtype, 8, seed=1))
        if difference > TOLERANCE:
            raise AssertionError(f"{name}: the imported model differs from the hand-written one by {difference:.3g}")
        x = example_input(shape, dtype, batch)
        y = torch.randint(0, 10, (batch,), generator=torch.Generator().manual_seed(2))
        twin = copy.deepcopy(hand)
        times = paired_times([training_step(model, x, y) for model in (hand, imported, twin)], rounds)
        ratio, floor = throughput_ratio(times, 0, 1), throughput_ratio(times, 0, 2)
        step_ms = statistics.median(row[0] for row in times) * 1000
        rows.append(Row(SECTION, f"{name}, imported vs hand-written", ratio.median, "x", f">= {GOAL}",
                        None if quick else ratio.low >= GOAL, ratio.spread(),
                        f"median of paired step ratios; batch {batch}, Adam, 1 thread, thread CPU time, "
                        f"{step_ms:.0f} ms a step; noise floor {floor.median:.3f}x; largest output difference "
                        f"{difference:.1g}", {"parameters": _parameters(hand), "low": ratio.low, "high": ratio.high}))
        rows.append(Row(SECTION, f"{name.split(' (')[0]}, hand-written vs hand-written (noise floor)", floor.median,
                        "x", "", None, floor.spread(), "an identical copy timed in the same rounds: how far this "
                        "machine's noise moves a ratio", {"noise floor": True, "low": floor.low, "high": floor.high}))
    return rows


def import_rows(quick: bool) -> list[Row]:
    """ResNet-50 imported from torch.fx and from ONNX (legacy and dynamo exporters), verification included."""
    repeats = 1 if quick else 3
    torch.manual_seed(0)
    model = settle_batch_norm(resnet50(), (3, 64, 64), torch.float32, batches=2).eval()
    size = (f"ResNet-50, {_parameters(model) / 1e6:.1f} M parameters, {_leaf_modules(model)} leaf modules, "
            f"input {'x'.join(map(str, RESNET50_INPUT))}")
    rows = [_import_row("ResNet-50 import from torch.fx, verified", size, repeats,
                        lambda: _fx_import(model))]
    with tempfile.TemporaryDirectory() as folder:
        for exporter in ("legacy", "dynamo"):
            path = Path(folder) / f"resnet50_{exporter}.onnx"
            try:
                _export(model, path, exporter)
            except Exception as error:  # noqa: BLE001 - the exporter's own failure is the row's note
                rows.append(Row(SECTION, f"ResNet-50 import from ONNX ({exporter} exporter), verified", None, "s",
                                f"< {IMPORT_GOAL_S:.0f} s", None, note=f"export failed: {error}"))
                continue
            rows.append(_import_row(f"ResNet-50 import from ONNX ({exporter} exporter), verified", size, repeats,
                                    lambda path=path: _onnx_import(path)))
    return rows


def _import_row(name: str, size: str, repeats: int, importer) -> Row:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            nodes = len(importer().project.graph)
        except UserError as refusal:
            return Row(SECTION, name, None, "s", f"< {IMPORT_GOAL_S:.0f} s", False, note=f"not imported: {refusal.message}")
        seconds.append(time.perf_counter() - start)
    slowest = max(seconds)
    return Row(SECTION, name, slowest, "s", f"< {IMPORT_GOAL_S:.0f} s", slowest < IMPORT_GOAL_S,
               summarise(seconds, 2)[1], f"{size}, {nodes} nodes imported; the slowest repeat, 1 thread")


def _fx_import(model: nn.Module) -> ImportResult:
    result = import_module(model, [RESNET50_INPUT])
    _require(verify_module_import(model, result))
    return result


def _onnx_import(path: Path) -> ImportResult:
    result = import_onnx(path)
    _require(verify_import(path, result))
    return result


def _require(verification) -> None:
    if verification is None or not verification.ok:
        raise AssertionError(f"the imported ResNet-50 does not reproduce the original: {verification}")


def _export(model: nn.Module, path: Path, exporter: str) -> None:
    sample = torch.randn(2, *RESNET50_INPUT)
    options = {"dynamo": False} if exporter == "legacy" else {"dynamo": True, "external_data": False, "verbose": False}
    torch.onnx.export(model, (sample,), str(path), input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}} if exporter == "legacy" else None,
                      dynamic_shapes=({0: torch.export.Dim("batch")},) if exporter == "dynamo" else None,
                      **options)


def _parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _leaf_modules(model: nn.Module) -> int:
    return sum(1 for module in model.modules() if not list(module.children()))
