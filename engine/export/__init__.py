"""Export a compiled model: ONNX, standalone PyTorch code, safetensors weights.

The GUI's File > Export and the `export` command call the same functions:

    compiled = prepare_model(project.graph, weights="run/best.safetensors")  # or weights=None: seeded random
    result = export_onnx(compiled, "model.onnx")        # -> OnnxExport (opset, exporter, seconds)
    difference = verify_onnx(compiled, "model.onnx")    # onnxruntime vs torch, max abs difference
    export_python(compiled, project.graph, "model.py", weights_path="model.safetensors",
                  project_name=project.name)
    difference = verify_python(compiled, "model.py")
    export_safetensors(compiled, "model.safetensors")

Every problem a person can fix (bad weights file, unwritable folder, a graph that
does not compile, an op an exporter refuses) raises `engine.errors.UserError`
(`ExportError` is one) with a one-line message. Exports never change the model
passed in: they work on a CPU copy in eval mode. Each file appears complete or not
at all (the Python file and its weights together); callers check first, with
`engine.output_paths.check_outputs`, that no output is one of their inputs (the
project, the trained weights), and may stage several files to check them before they
appear (`export_python(..., staging=StagedOutputs())`).
"""

from engine.export.model import ExportError, export_safetensors, prepare_model
from engine.export.onnx_export import OnnxExport, export_onnx, verify_onnx
from engine.export.python_code import class_name_for, export_python, python_source, verify_python

__all__ = [
    "ExportError", "OnnxExport", "class_name_for", "export_onnx", "export_python", "export_safetensors",
    "prepare_model", "python_source", "verify_onnx", "verify_python",
]
