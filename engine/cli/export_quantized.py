"""`export PROJECT --onnx FILE --quantize int8 [--calibrate dynamic|static]`: the int8 ONNX export and its report."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.errors import UserError


def quantized(args, project, compiled) -> int:
    """Write the int8 model at `--onnx` and print the float and int8 models side by side."""
    if not args.onnx:
        raise UserError("--quantize and --calibrate apply only to --onnx")
    if not args.quantize:
        raise UserError("--calibrate applies only with --quantize int8")
    from engine.cli.export import _report
    from engine.export.quantize import export_quantized

    base_dir = project.path.parent if project.path else Path(".")
    calibrate = args.calibrate or "dynamic"
    result, difference, report, note = export_quantized(compiled, args.onnx, training=project.training,
                                                        base_dir=base_dir, calibrate=calibrate, opset=args.opset)
    print(f"wrote {args.onnx}: int8 ONNX ({calibrate} quantization by onnxruntime) of the opset {result.opset} "
          f"float model, inputs {', '.join(result.input_names)}, outputs {', '.join(result.output_names)}, "
          "dynamic batch")
    print("\n".join(report.lines()))
    if note:
        print(f"note: {note}", file=sys.stderr)
    return _report("onnxruntime (float model)", difference)
