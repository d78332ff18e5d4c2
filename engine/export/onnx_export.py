"""ONNX export: one self-contained `.onnx` file with a dynamic batch axis, checked in onnxruntime.

Inputs are named after the Input nodes and outputs after the nodes producing
them, so a runtime feeds `{"x": array}` and reads `"fc"`. A model with units is traced as
the Python export writes it, a module per instance, so the file's node names are nested
(`/layer1/layer1.0/conv1/Conv`). Two torch exporters
exist and neither covers everything:
- the TorchScript exporter (`dynamo=False`, opset 17) takes ~0.1 s and handles
  LSTM, GRU and attention well, but is deprecated and refuses some ops (an
  AdaptiveAvgPool2d whose output size does not divide its input);
- the torch.export exporter (`dynamo=True`, opset 18 or newer) covers more ops
  but takes seconds (up to ~20 s for a recurrent stack on two cores).
`exporter="auto"` tries the fast one first and falls back to the other, saying
why in `OnnxExport.fallback_reason`. Either way `verify_onnx` runs the file in
onnxruntime against torch, and the exporters' chatter is kept off the console.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.check_sizes import CheckShapes, check_inputs, check_shapes, onnx_at_check_sizes
from engine.compiler import CompiledGraph
from engine.custom_layers.export import onnx_hint
from engine.errors import listing
from engine.export.model import ExportError, eval_copy, max_difference, run_model

MIN_OPSET = 17
DYNAMO_MIN_OPSET = 18  # the torch.export exporter writes opset 18 or newer
EXPORT_BATCH = 2  # the example batch traced at export; never 1, which would be specialised away
EXPORTERS = ("auto", "torchscript", "dynamo")
_NOISY_LOGGERS = ("torch.onnx", "torch.export", "torch._export", "torch._dynamo", "torch.fx", "onnxscript")


@dataclass(frozen=True)
class OnnxExport:
    """What `export_onnx` wrote."""

    path: Path
    opset: int  # the default-domain opset the file declares
    exporter: str  # "torchscript" or "dynamo"
    seconds: float  # time taken by the exporter that succeeded
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_batch: bool
    fallback_reason: str = ""  # why the TorchScript exporter was not used, when it was tried


def onnx_names(compiled: CompiledGraph) -> tuple[list[str], list[str]]:
    """(input names, output names): the Input node ids, and the ids of the nodes producing the outputs.

    An output that is an Input passed straight through is renamed `<id>_output`, since ONNX
    names must be unique.
    """
    inputs = list(compiled.inputs)
    outputs = [f"{name}_output" if name in inputs else name for name in compiled.outputs]
    return inputs, outputs


def export_onnx(compiled: CompiledGraph, path: str | os.PathLike, opset: int = MIN_OPSET,
                dynamic_batch: bool = True, exporter: str = "auto") -> OnnxExport:
    """Export the compiled model (eval mode, CPU) to a single `.onnx` file; raise ExportError if impossible.

    The file appears only once complete, so a failed export leaves an older file untouched.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")
    if opset < MIN_OPSET:
        raise ExportError(f"ONNX opset {opset} is too old: Neurocanvas writes opset {MIN_OPSET} or newer")
    path = Path(path)
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {path}: the folder {path.parent} does not exist")
    shapes = check_shapes(compiled, EXPORT_BATCH)
    model, inputs = _model_to_trace(compiled), check_inputs(compiled, EXPORT_BATCH, shapes=shapes)
    input_names, output_names = onnx_names(compiled)
    axes = _dynamic_axes(compiled, shapes, dynamic_batch)
    attempts = ("torchscript", "dynamo") if exporter == "auto" else (exporter,)
    failures = []
    inexact = _torchscript_inexact(compiled)
    if inexact and "torchscript" in attempts:
        failures.append(f"torchscript exporter: {inexact}")
        attempts = tuple(a for a in attempts if a != "torchscript")
    for name in attempts:
        temporary = path.with_name(f".{path.name}.{name}.tmp")
        start = time.perf_counter()
        try:
            with _quiet():
                _EXPORT[name](model, inputs, temporary, input_names, output_names, opset, axes)
                if shapes.reduced:
                    _declare_sizes(temporary, compiled)
            seconds = time.perf_counter() - start
            os.replace(temporary, path)
        except Exception as error:  # the exporters raise anything from torch internals
            failures.append(f"{name} exporter: {_first_line(error)}")
            continue
        finally:
            for leftover in (temporary, temporary.with_name(temporary.name + ".data")):
                leftover.unlink(missing_ok=True)
        return OnnxExport(path, _declared_opset(path), name, seconds, tuple(input_names), tuple(output_names),
                          dynamic_batch, "; ".join(failures))
    smaller = (f" (traced at the smaller input sizes {listing(shapes.shapes.values())}, with those sizes left "
               "free, since the declared ones would not fit in memory)" if shapes.reduced else "")
    raise ExportError(f"cannot export the model to ONNX{smaller}: {'; '.join(failures)}"
                      f"{onnx_hint(compiled.graph)}")  # engine.custom_layers: say when a custom layer is why


def _model_to_trace(compiled: CompiledGraph):
    """A CPU copy in eval mode; for a graph with units, one module per unit instance (so the file's node names
    are nested: `/layer1/layer1.0/conv1/Conv`), or the flat model if that cannot be written."""
    from engine.export.unit_classes import structured_model

    try:
        structured = structured_model(compiled)
    except ExportError:
        structured = None
    return structured if structured is not None else eval_copy(compiled)


def _torchscript_inexact(compiled: CompiledGraph) -> str:
    """Why the TorchScript exporter would write some node of the model inexactly, naming it; "" if none."""
    from engine.ops.activations import torchscript_onnx_inexact

    for node in compiled.graph.nodes() if compiled.graph is not None else ():
        reason = torchscript_onnx_inexact(node.type, node.resolved_params())
        if reason:
            return f"{reason} on node '{node.id}', so the file would not compute what the model does"
    return ""


def _dynamic_axes(compiled: CompiledGraph, shapes: CheckShapes, dynamic_batch: bool) -> list[dict[int, str]]:
    """Per input, then per output: axis -> name of each size the export leaves free. The batch when
    `dynamic_batch`; and the sizes the sample was made smaller in (`check_sizes`), so that the graph
    traced at the small size is the one for the declared size (`_declare_sizes` writes those back)."""
    axes = []
    for node_id in compiled.inputs:
        declared = compiled.shapes.info[node_id].outputs["out"].shape
        axes.append({axis: f"{node_id}_size_{axis}" for axis, (size, small) in
                     enumerate(zip(declared, shapes.shapes[node_id]), start=1) if size != small})
    for node_id, port in compiled.output_sources:
        declared = compiled.shapes.info[node_id].outputs[port].shape
        axes.append({axis: f"{node_id}_size_{axis}" for axis, (size, small) in
                     enumerate(zip(declared, shapes.output_shape(node_id, port)), start=1) if size != small})
    return [{0: "batch", **free} if dynamic_batch else free for free in axes]


def _declare_sizes(path: Path, compiled: CompiledGraph) -> None:
    """Write the Input nodes' sizes (and the outputs' sizes inferred from them) into an ONNX file that was
    traced with some sizes free; the batch stays as it was exported."""
    import onnx

    model = onnx.load(str(path))
    declared = [compiled.shapes.info[n].outputs["out"].shape for n in compiled.inputs] + [
        compiled.shapes.info[n].outputs[port].shape for n, port in compiled.output_sources]
    for info, shape in zip([*model.graph.input, *model.graph.output], declared):
        for dim, size in zip(info.type.tensor_type.shape.dim[1:], shape):
            dim.dim_value = size
    del model.graph.value_info[:]  # sizes traced at the small sample
    onnx.save(model, str(path))


def _export_torchscript(model, inputs, path, input_names, output_names, opset, axes) -> None:
    # output_names are required: without them a GraphModule with dynamic_axes fails on 'Graph.outputs'
    named = {name: free for name, free in zip(input_names + output_names, axes) if free}
    torch.onnx.export(model, inputs, str(path), dynamo=False, opset_version=opset, input_names=input_names,
                      output_names=output_names, dynamic_axes=named or None)


def _export_dynamo(model, inputs, path, input_names, output_names, opset, axes) -> None:
    # the tuple form: dict keys would have to match forward's argument names
    shapes = tuple({axis: torch.export.Dim(name) for axis, name in free.items()} for free in axes[:len(inputs)])
    torch.onnx.export(model, inputs, str(path), dynamo=True, opset_version=max(opset, DYNAMO_MIN_OPSET),
                      input_names=input_names, output_names=output_names,
                      dynamic_shapes=shapes if any(shapes) else None, external_data=False, verbose=False)


_EXPORT = {"torchscript": _export_torchscript, "dynamo": _export_dynamo}


@contextlib.contextmanager
def _quiet():
    """Silence the exporters' deprecation warnings, progress prints, log lines and native output.

    The TorchScript exporter prints its whole IR from C++ when it fails (and, through a
    torch bug, leaves that logging switched on), so the process's own stdout and stderr
    are pointed at /dev/null for the duration too.
    """
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    sink = io.StringIO()
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with (warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink),
              _native_output_silenced()):
            warnings.simplefilter("ignore")
            yield
    finally:
        switch_off_logging = getattr(torch._C, "_jit_set_onnx_log_enabled", None)  # private; may go away
        if switch_off_logging is not None:
            switch_off_logging(False)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def _native_output_silenced():
    """Point file descriptors 1 and 2 at /dev/null (where the process has them), then restore them."""
    saved = {}
    try:
        with open(os.devnull, "w") as devnull:
            for fd in (1, 2):
                try:
                    saved[fd] = os.dup(fd)
                    os.dup2(devnull.fileno(), fd)
                except OSError:  # no such descriptor (a windowed app without a console)
                    pass
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _declared_opset(path: Path) -> int:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), 0)


def verify_onnx(compiled: CompiledGraph, path: str | os.PathLike, batch: int = 1, seed: int = 0) -> float:
    """Check the file with onnx.checker, run it in onnxruntime (CPU) and in torch on the same random
    inputs, and return the largest absolute difference between their outputs.

    The default batch, 1, differs from the one traced (`EXPORT_BATCH`), so a batch size baked into the
    file shows, and it needs no more memory than the export did: the sizes `check_sizes` makes smaller
    here were made smaller for the export too. A file exported without a dynamic batch is run at the
    batch size it was exported with.
    Raise ExportError when the file is invalid or its inputs and outputs don't match the model.
    """
    import onnx
    import onnxruntime

    path = Path(path)
    try:
        onnx.checker.check_model(str(path))
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnx and onnxruntime raise their own exception types
        raise ExportError(f"{path} is not a valid ONNX model: {_first_line(error)}") from None
    input_names, output_names = onnx_names(compiled)
    file_inputs = [arg.name for arg in session.get_inputs()]
    file_outputs = [arg.name for arg in session.get_outputs()]
    if file_inputs != input_names or file_outputs != output_names:
        raise ExportError(f"{path} does not belong to this model: it has inputs {file_inputs} and outputs "
                          f"{file_outputs}, the model has {input_names} and {output_names}")
    fixed_batch = session.get_inputs()[0].shape[0]
    batch = fixed_batch if isinstance(fixed_batch, int) else batch
    shapes = check_shapes(compiled, batch, variant=1)  # not the sizes the export traced, where it made them small
    if shapes.reduced:  # the same file, with the sizes the check makes smaller declared free
        model = onnx.load(str(path))
        session = onnxruntime.InferenceSession(onnx_at_check_sizes(model, shapes, dict(zip(input_names,
                                               compiled.inputs))), providers=["CPUExecutionProvider"])
    inputs = check_inputs(compiled, batch, seed, shapes)
    expected = run_model(eval_copy(compiled), inputs)
    actual = session.run(output_names, {name: tensor.numpy() for name, tensor in zip(input_names, inputs)})
    return max_difference(expected, actual)
