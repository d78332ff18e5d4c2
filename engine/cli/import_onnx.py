"""`import-onnx MODEL.onnx PROJECT.json [--weights-out FILE] [--no-verify] [--flat]`.

Turns an ONNX model into a Neurocanvas project laid out left to right, with its
weights written as safetensors beside the project (`PROJECT.safetensors`, keys
`<node_id>.<param>`, or `--weights-out`). `--weights` names weights to *read* in
every command, so its old meaning here (where to write) still works with a warning. Before writing, the imported graph is run in torch against
the original in onnxruntime on random inputs. Exits 0 when written, 2 for bad
input (unreadable file, unmapped operators: each is listed with its count), 1
when the import does not reproduce the model (nothing is written then). Where torch's
exporter recorded the module hierarchy, the model's own classes become units (`--flat`: not).
onnx and torch are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from engine.errors import UserError
from engine.output_paths import check_outputs

EXIT_MISMATCH = 1


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "import-onnx", help="turn an ONNX model into a Neurocanvas project with its weights",
        description="Import an ONNX model as a project (laid out left to right) with its weights in "
                    "PROJECT.safetensors (or --weights-out). Operators with no Neurocanvas node make the import "
                    "fail, listing each with its count. Exits 0 on success, 2 for bad input or unmapped operators, 1 if the "
                    "imported graph does not reproduce the model.")
    parser.add_argument("model", help="ONNX model (.onnx)")
    parser.add_argument("project", help="project file to write (.json)")
    add_weights_out(parser)
    parser.add_argument("--no-verify", action="store_true",
                        help="skip running the imported graph against onnxruntime before writing")
    add_flat(parser)
    parser.set_defaults(handler=run, old_weights_out_flag="--weights")
    parser.add_argument("--weights", dest="old_weights_out", metavar="FILE", help=argparse.SUPPRESS)


def add_weights_out(parser) -> None:
    parser.add_argument("--weights-out", metavar="FILE",
                        help="where to write the project's weights (default: the project path with .safetensors)")


def weights_out(args) -> str | None:
    """`--weights-out`, or the deprecated spelling of it (with a one-line warning)."""
    old = args.old_weights_out
    if old is None:
        return args.weights_out
    print(f"warning: {args.command} {args.old_weights_out_flag} FILE is deprecated: it says where the weights are "
          "written, use --weights-out FILE", file=sys.stderr)
    if args.weights_out is not None and args.weights_out != old:
        raise UserError(f"{args.old_weights_out_flag} and --weights-out name different files; give only --weights-out")
    return old


def check_paths(inputs: dict, project: str, weights: str | None) -> None:
    """Refuse a project file not ending in .json, and outputs that are inputs or one file."""
    from engine.importers.common import weights_path_for

    project_path = Path(project)
    if project_path.suffix.lower() != ".json":
        raise UserError(f"the project file {project_path} should end in .json")
    check_outputs(inputs, {"the project": project_path,
                           "the weights": Path(weights) if weights else weights_path_for(project_path)})


def add_flat(parser) -> None:
    parser.add_argument("--flat", action="store_true",
                        help="import every layer into the model itself, without making units of the model's own "
                             "classes (see docs/import.md, Units)")


def summary(files) -> list[str]:
    nodes = files.result.project.graph.nodes()
    counts = Counter(n.type for n in nodes if n.type != "Input")
    kinds = ", ".join(f"{t} x{c}" if c > 1 else t for t, c in counts.most_common())
    parameters = sum(t.numel() for k, t in files.result.weights.items() if not k.endswith("num_batches_tracked"))
    lines = [f"wrote {files.project_path}: {len(nodes)} nodes ({kinds})",
             f"wrote {files.weights_path}: {len(files.result.weights)} tensors, {parameters:,} values"]
    from engine.importers.unit_check import unit_summary
    from engine.importers.unit_grouping import FLAT_NOTE
    from graphs.errors import printable

    if files.result.project.graph.units:
        lines.append(f"units (instances): {unit_summary(files.result.project.graph)}")
    lines += [f"note: {printable(note)}" for note in files.result.notes if note.startswith(FLAT_NOTE)]
    if files.verification is not None:
        lines.append(f"checked against {files.verification.against} on random inputs: largest difference "
                     f"{files.verification.difference:.2g}")
    return lines


def run(args) -> int:
    weights = weights_out(args)
    check_paths({"the model being imported": args.model}, args.project, weights)
    from engine.importers.common import ImportMismatch
    from engine.importers.onnx_import import import_onnx_file

    try:
        files = import_onnx_file(args.model, args.project, weights, verify=not args.no_verify,
                                 units=not args.flat)
    except ImportMismatch as error:
        print(f"neurocanvas import-onnx: error: {error}", file=sys.stderr)
        return EXIT_MISMATCH
    for line in summary(files):
        print(line)
    if args.no_verify is False and files.verification is None:
        print("note: onnxruntime could not run the original model, so the import was not checked", file=sys.stderr)
    return 0
