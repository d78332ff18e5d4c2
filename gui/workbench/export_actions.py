"""File > Export: the trained model as ONNX, as PyTorch code, or as safetensors weights.

Each export goes through the engine's exporters (`engine.export`) on a
background thread, then says what it wrote in a message box and the status
bar. An ONNX file is run once in onnxruntime against torch on the same random
inputs, and a Python file is imported and run likewise; the largest
difference is reported. What is exported is the selected run's model (its
trained graph and final weights), else the newest run that has weights, else
the graph on the canvas with its random initial weights, which the message
then says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.errors import UserError
from engine.output_paths import check_outputs, same_file
from gui import files
from gui.workbench.protocol import WorkbenchWindow
from gui.workbench.tasks import TaskRunner

MISMATCH_TOLERANCE = 1e-3  # the export command's threshold for "does not reproduce the model"


@dataclass
class ModelSource:
    """A graph and its weights (None: seeded random initial weights), and how to name them to a person."""

    graph: object
    weights: Path | None
    label: str
    project_name: str = "model"
    training: dict | None = None  # the project's training settings (the data an int8 export is measured on)
    base_dir: Path | None = None  # what relative data paths in `training` are relative to


def _checked(difference: float, runtime: str) -> str:
    verdict = "matches" if difference <= MISMATCH_TOLERANCE else "DOES NOT match"
    return f"Checked in {runtime}: the largest difference from torch is {difference:.3g} ({verdict})."


def export_onnx_file(source: ModelSource, path: Path) -> str:
    from engine.export import export_onnx, prepare_model, verify_onnx

    compiled = prepare_model(source.graph, source.weights)
    result = export_onnx(compiled, path)
    difference = verify_onnx(compiled, path)
    note = f"\n(The fast exporter refused: {result.fallback_reason}.)" if result.fallback_reason else ""
    return (f"Wrote {path.name}: ONNX opset {result.opset}, {result.exporter} exporter, dynamic batch, "
            f"inputs {', '.join(result.input_names)}, outputs {', '.join(result.output_names)}.\n"
            f"{_checked(difference, 'onnxruntime')}{note}")


def export_python_file(source: ModelSource, path: Path) -> str:
    from engine.export import class_name_for, export_python, prepare_model, verify_python
    from engine.export.python_predict import predicting_part

    compiled = prepare_model(source.graph, source.weights)
    weights = path.with_suffix(".safetensors")
    class_name = class_name_for(source.project_name)
    prediction = predicting_part(compiled, source.training, source.weights)
    export_python(compiled, source.graph, path, weights_path=weights, class_name=class_name,
                  project_name=source.project_name, prediction=prediction)
    difference = verify_python(compiled, path)
    predicts = f"\nIt predicts from files: python {path.name} INPUT..." if prediction is not None else ""
    return (f"Wrote {path.name} (class {class_name}) and its weights {weights.name}.\n"
            f"{_checked(difference, 'the generated code')}{predicts}")


def export_weights_file(source: ModelSource, path: Path) -> str:
    from engine.export import export_safetensors, prepare_model

    export_safetensors(prepare_model(source.graph, source.weights), path)
    return f"Wrote the weights to {path.name} (safetensors)."


def export_int8_file(source: ModelSource, path: Path, calibrate: str) -> str:
    """An int8 ONNX file (see `engine.export.quantize`), and the float and int8 models side by side."""
    from engine.export import prepare_model
    from engine.export.quantize import export_quantized

    compiled = prepare_model(source.graph, source.weights)
    result, difference, report, note = export_quantized(compiled, path, training=source.training,
                                                        base_dir=source.base_dir or Path("."), calibrate=calibrate)
    lines = [f"Wrote {path.name}: int8 ONNX ({calibrate} quantization by onnxruntime), opset {result.opset}, "
             "dynamic batch.", *report.sentences(), *([f"({note}.)"] if note else []),
             _checked(difference, "onnxruntime (the float model)")]
    return "\n".join(lines)


FORMATS = {  # key -> (menu text, dialog filter, suffix, job)
    "onnx": ("&ONNX…", "ONNX models (*.onnx)", ".onnx", export_onnx_file),
    "python": ("&PyTorch Code…", "Python files (*.py)", ".py", export_python_file),
    "weights": ("&Weights (safetensors)…", "safetensors weights (*.safetensors)", ".safetensors",
                export_weights_file),
    "onnx_int8": ("ONNX &int8, Dynamic Quantization…", "ONNX models (*.onnx)", ".onnx",
                  lambda source, path: export_int8_file(source, path, "dynamic")),
    "onnx_int8_static": ("ONNX int8, &Static (Calibrated on Training Data)…", "ONNX models (*.onnx)", ".onnx",
                         lambda source, path: export_int8_file(source, path, "static")),
}


class ExportActions(QObject):
    """The File > Export actions; `source()` (from the workbench) says which model to export."""

    def __init__(self, window: WorkbenchWindow, tasks: TaskRunner, source, parent: QObject | None = None):
        super().__init__(parent)
        self.window, self.tasks, self.source = window, tasks, source
        self.actions: dict[str, QAction] = {}
        self.last_message = ""
        menu = window.menus["export"]
        for action in list(menu.actions()):  # the editor's "Nothing to export yet" placeholder
            if not action.isEnabled():
                menu.removeAction(action)
        for key, (text, _filter, _suffix, _job) in FORMATS.items():
            action = QAction(text, window)
            action.setStatusTip(f"Export the trained model: {text.strip('&…').replace('&', '')}")
            action.triggered.connect(lambda _checked=False, k=key: self.export(k))
            menu.addAction(action)
            self.actions[key] = action
        self.busy = False

    def export(self, key: str, path: str | None = None) -> bool:
        """Ask where (unless `path` is given) and export in the background."""
        if self.busy:
            self.window.show_message("An export is already running")
            return False
        text, file_filter, suffix, job = FORMATS[key]
        source: ModelSource = self.source()
        if path is None:
            name = f"{source.project_name or 'model'}{suffix}".replace(" ", "_")
            start = files.start_folder(self.window.document.project.path) / name
            path, _ = QFileDialog.getSaveFileName(self.window, f"Export {source.label}", str(start), file_filter)
            if not path:
                return False
            files.remember_folder(path)
        target = Path(path)
        if target.suffix.lower() != suffix:
            target = target.with_name(target.name + suffix)
        try:
            check_outputs(*self._paths(key, source, target))
        except UserError as error:
            self._failed(error)
            return False
        self.busy = True
        self.window.show_message(f"Exporting {source.label} to {target.name}…", 0)
        self.tasks.submit(lambda: job(source, target), lambda message: self._done(source, message),
                          self._failed, writes=True)
        return True

    def _paths(self, key: str, source: ModelSource, target: Path) -> tuple[dict, dict]:
        """What the export reads and what it writes, for the output-path rule every writing command follows."""
        inputs = {"the project": self.window.document.project.path, "the trained weights": source.weights}
        outputs = {"the file": target}
        sibling = target.with_suffix(".safetensors")
        if key == "python" and not (source.weights and same_file(sibling, source.weights)):
            outputs["its weights"] = sibling  # the trained weights themselves are referred to, not rewritten
        return inputs, outputs

    def _done(self, source: ModelSource, message: str) -> None:
        self.busy = False
        self.last_message = f"Exported {source.label}.\n{message}"
        self.window.show_message(self.last_message.replace("\n", " "))
        QMessageBox.information(self.window, "Export finished", self.last_message)

    def _failed(self, error: BaseException) -> None:
        self.busy = False
        self.last_message = f"The export failed: {error}"
        self.window.show_message(self.last_message)
        QMessageBox.critical(self.window, "Export failed", self.last_message)
