"""`export PROJECT [--weights FILE] (--onnx FILE | --python FILE | --safetensors FILE)`.

Compiles the project, loads trained weights from a safetensors file (or, without
`--weights`, uses seeded random initial weights and says so), writes the export
and checks it: an ONNX file is run in onnxruntime and a Python file is imported
and run, each against the compiled model, and the largest difference is printed.
Exits 0 on success, 2 for bad input (unreadable project, invalid graph, missing
or mismatched weights), 1 when the export was written but does not reproduce
the model. torch is imported only when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.custom_layers.trust import add_trust_flag, code_loader
from engine.errors import UserError
from engine.output_paths import StagedOutputs, check_outputs, same_file
from graphs.project import load_project

MISMATCH_TOLERANCE = 1e-3  # beyond this, an export is reported as not reproducing the model
EXIT_MISMATCH = 1
KNOWN_MAX_OPSET = 23  # torch 2.13's ONNX_MAX_OPSET, should torch stop saying


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "export", help="export a project's model to ONNX, PyTorch code or safetensors",
        description="Export a project's model. Without --weights the model has random initial weights "
                    "(seeded). ONNX and Python exports are verified against the compiled model. No output may be "
                    "one of the inputs; a failed export leaves no file behind. Exits 0 on success, 1 if the "
                    "export does not reproduce the model, 2 for bad input.")
    parser.add_argument("project", help="project file (.json)")
    add_trust_flag(parser)  # engine.custom_layers: a project with its own code
    parser.add_argument("--weights", metavar="FILE", help="trained weights (.safetensors) to export")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--onnx", metavar="FILE", help="write an ONNX model with a dynamic batch axis")
    target.add_argument("--python", metavar="FILE",
                        help="write standalone PyTorch code (its weights go next to it as .safetensors)")
    target.add_argument("--safetensors", metavar="FILE", help="write the weights only")
    parser.add_argument("--opset", type=int, metavar="N",
                        help="ONNX opset version, from 17 to the newest torch writes (23 for torch 2.13; default 17)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seed for random weights without --weights (default 0)")
    parser.add_argument("--quantize", choices=["int8"],
                        help="with --onnx: write an int8 model (onnxruntime's quantization) and compare it with the "
                             "float one: size, speed, validation accuracy")
    parser.add_argument("--calibrate", choices=["dynamic", "static"], default=None,
                        help="with --quantize: dynamic (default) or static, calibrated on training batches")
    parser.set_defaults(handler=run)


def max_opset() -> int:
    """The newest ONNX opset torch's exporters write."""
    try:
        from torch.onnx import _constants  # not public, hence the fallback
    except ImportError:
        return KNOWN_MAX_OPSET
    return getattr(_constants, "ONNX_MAX_OPSET", KNOWN_MAX_OPSET)


def output_paths(args) -> dict[str, Path]:
    """Every file the command writes, described for messages."""
    if args.onnx:
        return {"the ONNX file (--onnx)": Path(args.onnx)}
    if args.python:
        code, weights = Path(args.python), python_weights_path(Path(args.python))
        if args.weights is not None and same_file(weights, args.weights):
            return {"the Python file (--python)": code}  # the trained weights go with the code, unchanged
        return {"the Python file (--python)": code, "the Python file's weights": weights}
    return {"the weights file (--safetensors)": Path(args.safetensors)}


def python_weights_path(code: Path) -> Path:
    return code.with_suffix(".safetensors")


def check_opset(opset: int) -> None:
    from engine.export.onnx_export import MIN_OPSET

    if not MIN_OPSET <= opset <= max_opset():
        raise UserError(f"ONNX opset {opset} cannot be written: Neurocanvas writes opsets {MIN_OPSET} to {max_opset()}")


def run(args) -> int:
    if args.opset is not None:
        if not args.onnx:
            raise UserError("--opset applies only to --onnx")
        check_opset(args.opset)
    check_outputs({"the project": args.project, "the weights (--weights)": args.weights}, output_paths(args))
    project = load_project(args.project, code_loader(args.trust_code))
    from engine.export import prepare_model
    from engine.predict.predictor import graph_with_shapes

    # Inputs and Targets left to the data take the run's shapes (or the data's), as in `train` and `check`
    compiled = prepare_model(graph_with_shapes(project, args.weights), args.weights, seed=args.seed)
    if args.quantize or args.calibrate:
        from engine.cli.export_quantized import quantized

        status = quantized(args, project, compiled)
    elif args.onnx:
        status = _onnx(compiled, Path(args.onnx), args.opset)
    elif args.python:
        status = _python(compiled, project, Path(args.python), args.weights)
    else:
        status = _safetensors(compiled, Path(args.safetensors))
    if args.weights is None:
        print(f"note: no --weights given, so the export holds randomly initialised weights (seed {args.seed})",
              file=sys.stderr)
    return status


def _onnx(compiled, path: Path, opset: int | None) -> int:
    from engine.export import export_onnx, verify_onnx
    from engine.export.onnx_export import MIN_OPSET

    with StagedOutputs() as staged:
        written = staged.temporary(path)
        result = export_onnx(compiled, written, opset=MIN_OPSET if opset is None else opset)
        if opset is not None and result.opset != opset:
            raise UserError(f"asked for ONNX opset {opset}, but the {result.exporter} exporter could only write "
                            f"opset {result.opset}; ask for --opset {result.opset} or leave --opset out")
        difference = verify_onnx(compiled, written)
    if result.fallback_reason:
        print(f"note: {result.fallback_reason}; used the {result.exporter} exporter instead", file=sys.stderr)
    print(f"wrote {path}: ONNX opset {result.opset}, {result.exporter} exporter, {result.seconds:.2f} s, "
          f"inputs {', '.join(result.input_names)}, outputs {', '.join(result.output_names)}, dynamic batch")
    return _report("onnxruntime", difference)


def _python(compiled, project, path: Path, trained: str | None = None) -> int:
    from engine.export import class_name_for, export_python, verify_python
    from engine.export.python_predict import predicting_part

    weights = python_weights_path(path)
    class_name = class_name_for(project.name)
    prediction = predicting_part(compiled, project.training, trained)
    with StagedOutputs() as staged:
        export_python(compiled, project.graph, path, weights_path=weights, class_name=class_name,
                      project_name=project.name, staging=staged, prediction=prediction)
        difference = verify_python(compiled, staged.temporary(path))
    print(f"wrote {path} (class {class_name}) and its weights {weights}")
    status = _report("the generated code", difference)
    if prediction is not None:
        what = {"images": "image files", "table": "CSV rows", "text": "text files", "audio": "WAV files"}[prediction.kind]
        print(f"it predicts from {what}, prepared as the run prepared its data: python {path} INPUT...")
    return status


def _safetensors(compiled, path: Path) -> int:
    from engine.export import export_safetensors

    export_safetensors(compiled, path)
    state = compiled.model.state_dict()
    parameters = sum(p.numel() for p in compiled.model.parameters())
    print(f"wrote {path}: {len(state)} tensors, {parameters:,} parameters")
    return 0


def _report(runner: str, difference: float) -> int:
    print(f"checked: largest absolute difference between {runner} and torch: {difference:.3g} (batch of 3)")
    if difference > MISMATCH_TOLERANCE:
        print(f"warning: the export differs from the compiled model by {difference:.3g} "
              f"(more than {MISMATCH_TOLERANCE:g})", file=sys.stderr)
        return EXIT_MISMATCH
    return 0
