"""int8 ONNX for the edge: onnxruntime's quantization tools, and the float and int8 models side by side.

`quantize_onnx(float_path, int8_path, calibrate=..., batches=...)` writes an int8 copy of an
exported float model: "dynamic" (`onnxruntime.quantization.quantize_dynamic`: int8 weights,
activations quantized on the fly) or "static" (`quantize_static`: activations' ranges calibrated
on training batches through a `CalibrationDataReader`, QDQ format). `compare(...)` runs both files
in onnxruntime on the same validation batches and returns their sizes, speeds and validation
metric (accuracy, or MAE for a regression), for the `export --quantize` report and File > Export.
Nothing here writes anywhere but the paths it is given; the callers stage them (`output_paths`).
Importing this module imports onnxruntime: import it when quantizing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from engine.errors import UserError, reason

CALIBRATIONS = ("dynamic", "static")
CALIBRATION_SAMPLES = 512  # training samples the static ranges are calibrated on
TIMING_BATCH = 64
TIMING_REPEATS = 7


@dataclass(frozen=True)
class ModelFigures:
    """One ONNX file's size, speed and validation score."""

    path: Path
    bytes: int
    ms_per_batch: float  # median over repeats of a batch of `TIMING_BATCH` validation samples
    metric: str | None  # "val_accuracy" | "val_mae" | None (no validation data)
    score: float | None


@dataclass(frozen=True)
class QuantizeReport:
    calibrate: str
    float: ModelFigures
    int8: ModelFigures

    def lines(self) -> list[str]:
        """The side-by-side table a person reads, a line each."""
        def score(figures: ModelFigures) -> str:
            if figures.score is None:
                return "n/a"
            return f"{figures.score:.2%}" if figures.metric == "val_accuracy" else f"{figures.score:.4g}"

        metric = {"val_accuracy": "validation accuracy", "val_mae": "validation MAE"}.get(self.float.metric or "",
                                                                                          "validation")
        rows = [("", "float32", f"int8 ({self.calibrate})", "ratio"),
                ("size", _size(self.float.bytes), _size(self.int8.bytes), f"{self.int8.bytes / self.float.bytes:.2f}x"),
                (f"onnxruntime ms per batch of {TIMING_BATCH}", f"{self.float.ms_per_batch:.2f}",
                 f"{self.int8.ms_per_batch:.2f}", f"{self.float.ms_per_batch / self.int8.ms_per_batch:.2f}x the speed"),
                (metric, score(self.float), score(self.int8), "")]
        width = max(len(row[0]) for row in rows)
        return [f"  {a:<{width}}  {b:>10}  {c:>16}  {d}".rstrip() for a, b, c, d in rows]


    def sentences(self) -> list[str]:
        """The same figures as sentences, one a model, for a message box (no table alignment needed)."""
        def sentence(name: str, figures: ModelFigures) -> str:
            score = ""
            if figures.score is not None:
                score = (f", validation accuracy {figures.score:.2%}" if figures.metric == "val_accuracy"
                         else f", validation MAE {figures.score:.4g}")
            return f"{name}: {_size(figures.bytes)}, {figures.ms_per_batch:.2f} ms a batch of {TIMING_BATCH}{score}"

        return [sentence("float32", self.float), sentence(f"int8 ({self.calibrate})", self.int8)]


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n < 1024**2 else f"{n / 1024**2:.2f} MB"


class _Batches(CalibrationDataReader):
    """onnxruntime's calibration reader over input batches: {input name: array} per call."""

    def __init__(self, name: str, batches: Iterable[np.ndarray]):
        self._name, self._batches = name, iter(batches)

    def get_next(self):
        batch = next(self._batches, None)
        return None if batch is None else {self._name: batch}


def quantize_onnx(float_path: str | os.PathLike, int8_path: str | os.PathLike, *, calibrate: str = "dynamic",
                  calibration: Iterable[np.ndarray] | None = None) -> Path:
    """Write the int8 version of the float ONNX model at `float_path` to `int8_path`; "static" calibrates
    on `calibration` (input batches, e.g. training batches)."""
    if calibrate not in CALIBRATIONS:
        raise UserError(f"--calibrate must be one of {', '.join(CALIBRATIONS)}, got {calibrate!r}")
    float_path, int8_path = Path(float_path), Path(int8_path)
    if calibrate == "static" and calibration is None:
        raise UserError("static quantization calibrates on training batches, and none were given")
    try:
        with tempfile.TemporaryDirectory() as folder, _quiet_root_logger():
            prepared = Path(folder) / "prepared.onnx"  # shapes inferred and graph folded, as onnxruntime advises
            quant_pre_process(float_path, prepared)
            if calibrate == "dynamic":
                quantize_dynamic(prepared, int8_path, weight_type=QuantType.QInt8)
            else:
                quantize_static(prepared, int8_path, _Batches(_input_name(float_path), calibration), quant_format=QuantFormat.QDQ,
                                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    except Exception as error:  # onnxruntime's tools raise whatever the model trips them on
        raise UserError(f"onnxruntime could not quantize the model ({calibrate}): {reason(error)}") from None
    return int8_path


@contextlib.contextmanager
def _quiet_root_logger():
    """onnxruntime's tools log advice through the root logger (WARNING:root:...); a command's output is its own."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _input_name(path: Path) -> str:
    return _session(path).get_inputs()[0].name


def _session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # quiet: no warnings about unused initialisers
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:
        raise UserError(f"onnxruntime cannot load {path.name}: {reason(error)}") from None


def figures(path: str | os.PathLike, batches: list[tuple[np.ndarray, np.ndarray]], task: str | None,
            output_index: int = 0) -> ModelFigures:
    """Size, speed (a batch of validation samples) and validation metric of one ONNX file in onnxruntime."""
    path = Path(path)
    session = _session(path)
    name = session.get_inputs()[0].name
    outputs = [session.run(None, {name: x})[output_index] for x, _ in batches]
    metric = score = None
    if batches and task is not None:
        metric = "val_accuracy" if task == "classification" else "val_mae"
        score = _score(task, outputs, [y for _, y in batches])
    sample = _timing_batch(batches, session)
    session.run(None, {name: sample})  # warm up
    times = []
    for _ in range(TIMING_REPEATS):
        start = time.perf_counter()
        session.run(None, {name: sample})
        times.append((time.perf_counter() - start) * 1000)
    return ModelFigures(path, path.stat().st_size, statistics.median(times), metric, score)


def _score(task: str, outputs: list[np.ndarray], targets: list[np.ndarray]) -> float:
    if task == "classification":
        predicted = np.concatenate([o.reshape(len(o), -1).argmax(1) for o in outputs])
        true = np.concatenate([t.reshape(len(t), -1).argmax(1) if t.ndim > 1 and t.dtype.kind == "f"
                               else t.reshape(-1) for t in targets])
        return float((predicted == true).mean())
    errors = [np.abs(o.reshape(len(o), -1) - t.reshape(len(t), -1)).ravel() for o, t in zip(outputs, targets)]
    return float(np.concatenate(errors).mean())


def _timing_batch(batches: list[tuple[np.ndarray, np.ndarray]], session) -> np.ndarray:
    if batches:
        x = np.concatenate([x for x, _ in batches])[:TIMING_BATCH]
        return np.ascontiguousarray(x)
    spec = session.get_inputs()[0]
    shape = [TIMING_BATCH, *(d if isinstance(d, int) else 1 for d in spec.shape[1:])]
    return np.zeros(shape, dtype=np.int64 if "int64" in spec.type else np.float32)


def compare(float_path, int8_path, calibrate: str, batches: list[tuple[np.ndarray, np.ndarray]],
            task: str | None, output_index: int = 0) -> QuantizeReport:
    """Both files' figures on the same validation `batches` ((inputs, targets) arrays)."""
    return QuantizeReport(calibrate, figures(float_path, batches, task, output_index),
                          figures(int8_path, batches, task, output_index))


def dataset_batches(split, batch_size: int = 256, limit: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(inputs, targets) numpy batches of a dataset split, on the CPU, in order; up to `limit` samples."""
    seen = 0
    for x, y in split.to("cpu").batches(batch_size):
        if limit is not None and seen >= limit:
            return
        x, y = x.numpy(), y.numpy()
        if limit is not None:
            x, y = x[:limit - seen], y[:limit - seen]
        seen += len(x)
        yield np.ascontiguousarray(x), y


@dataclass(frozen=True)
class ValidationData:
    """What the figures are measured on: the project's data, fitted to the model."""

    calibration: list[np.ndarray]  # training input batches (static quantization)
    validation: list[tuple[np.ndarray, np.ndarray]]
    task: str


def project_data(compiled, training: dict, base_dir: Path) -> ValidationData:
    """The project's training and validation batches, shaped for `compiled`; a UserError if they can't be had."""
    from engine.data import fit_dataset
    from engine.data_shapes import load_training_data
    from engine.training.config import TrainingConfig

    dataset = fit_dataset(load_training_data(TrainingConfig.from_dict(training), base_dir), compiled)
    calibration = [x for x, _ in dataset_batches(dataset.train, 64, CALIBRATION_SAMPLES)]
    return ValidationData(calibration, list(dataset_batches(dataset.val)), dataset.task)


def export_quantized(compiled, path: str | os.PathLike, *, training: dict | None, base_dir: Path,
                     calibrate: str = "dynamic", opset: int | None = None, staging=None):
    """Export `compiled` to ONNX, quantize it to int8 at `path` and measure both; returns (OnnxExport of the
    float model, largest float difference from torch, QuantizeReport, a note or "").

    Static quantization needs the project's training data; without data, a dynamic one is still written
    and measured for size and speed, and the note says why there is no validation score."""
    from engine.export.onnx_export import MIN_OPSET, export_onnx, verify_onnx
    from engine.output_paths import StagedOutputs

    if calibrate not in CALIBRATIONS:
        raise UserError(f"--calibrate must be one of {', '.join(CALIBRATIONS)}, got {calibrate!r}")
    note, data = "", None
    try:
        if training is None or not isinstance(training.get("dataset"), dict):
            raise UserError("the project names no dataset")
        data = project_data(compiled, training, base_dir)
    except UserError as error:
        if calibrate == "static":
            raise UserError(f"static quantization calibrates on the project's training data, which cannot be "
                            f"loaded: {error}; use --calibrate dynamic") from None
        note = f"no validation score: {error}"
    if data is not None and not data.validation:
        note = "no validation score: val_split is 0, so there is no validation data"
    output_index = compiled.losses[0].output_index if compiled.losses else 0
    with tempfile.TemporaryDirectory() as folder:
        float_path = Path(folder) / "float32.onnx"
        result = export_onnx(compiled, float_path, opset=MIN_OPSET if opset is None else opset)
        difference = verify_onnx(compiled, float_path)
        with contextlib.nullcontext(staging) if staging else StagedOutputs() as staged:
            written = staged.temporary(path)
            quantize_onnx(float_path, written, calibrate=calibrate, calibration=data.calibration if data else None)
            validation = data.validation if data else []
            report = compare(float_path, written, calibrate, validation, data.task if data else None, output_index)
    return result, difference, report, note
