"""`import-torch module:Class PROJECT.json [--input-shape 1,8,8] [--weights FILE.safetensors]`.

Creates `Class()` (no arguments) from a module importable from the current
folder or PYTHONPATH, traces it with torch.fx and writes a Neurocanvas project
with the module's weights beside it (`PROJECT.safetensors`, keys renamed to
`<node_id>.<param>`). `--input-shape` (once per forward argument) gives each
input's shape without the batch. Before writing, the imported graph is run
against the module on random inputs. Exits 0 when written, 2 for bad input
(unimportable module, untraceable forward, unsupported parts: each is named with
its fx target), 1 when the import does not reproduce the module.
"""

from __future__ import annotations

import sys

from engine.cli.import_onnx import EXIT_MISMATCH, check_paths, summary


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "import-torch", help="turn a PyTorch nn.Module (module:Class) into a Neurocanvas project",
        description="Trace module:Class (created with no arguments) with torch.fx and write a project with its "
                    "weights in PROJECT.safetensors. Parts with no Neurocanvas node make the import fail, naming "
                    "each with its fx target. Exits 0 on success, 2 for bad input or unsupported parts, 1 if the "
                    "imported graph does not reproduce the module.")
    parser.add_argument("spec", metavar="module:Class", help="the model class, e.g. mymodels:Net")
    parser.add_argument("project", help="project file to write (.json)")
    parser.add_argument("--input-shape", action="append", metavar="SHAPE", dest="input_shapes",
                        help="shape of an input without the batch, e.g. 1,8,8 (once per forward argument; may be "
                             "left out when a Linear layer reads the input first)")
    parser.add_argument("--weights", metavar="FILE", help="load the module's weights from this .safetensors file first")
    parser.add_argument("--output-weights", metavar="FILE",
                        help="where to write the project's weights (default: the project path with .safetensors)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip running the imported graph against the module before writing")
    parser.set_defaults(handler=run)


def run(args) -> int:
    check_paths(args.spec, args.project, args.output_weights)
    from engine.importers.common import ImportMismatch
    from engine.importers.torch_import import import_torch_file, parse_shape

    shapes = [parse_shape(s) for s in args.input_shapes] if args.input_shapes else None
    try:
        files = import_torch_file(args.spec, args.project, shapes, args.weights, args.output_weights,
                                  verify=not args.no_verify)
    except ImportMismatch as error:
        print(f"neurocanvas import-torch: error: {error}", file=sys.stderr)
        return EXIT_MISMATCH
    for line in summary(files):
        print(line)
    return 0
