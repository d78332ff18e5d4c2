"""`import-torch module:Class PROJECT.json [--input-shape 1,8,8] [--weights IN] [--weights-out OUT]`.

Imports `module` (its code runs, as any Python import does: only for code you trust) from
the current folder or PYTHONPATH, creates `Class()` (no arguments), traces it with torch.fx
and writes a Neurocanvas project with the module's weights beside it (`PROJECT.safetensors`,
or `--weights-out`, keys renamed to `<node_id>.<param>`). `--weights` reads the module's own
weights from a safetensors file first (`--output-weights` is the old spelling of
`--weights-out`). `--input-shape` (once per forward argument) gives each input's shape
without the batch. The module's own classes become units (`--flat`: one node per layer in
the model itself; see docs/import.md, "Units"). Before writing, the imported graph is run
against the module on random inputs. Exits 0 when written, 2 for bad input (unimportable module, untraceable forward,
unsupported parts: each is named with its fx target), 1 when the import does not reproduce
the module.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.machinery import PathFinder

from engine.cli.import_onnx import EXIT_MISMATCH, add_flat, add_weights_out, check_paths, summary, weights_out

RUNS_CODE = ("This imports the module, which runs its Python code with your permissions: use it only on code "
             "you trust.")


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "import-torch", help="turn a PyTorch nn.Module (module:Class) into a Neurocanvas project; runs the module's "
                             "code, so only for code you trust",
        description="Trace module:Class (created with no arguments) with torch.fx and write a project with its "
                    "weights in PROJECT.safetensors (or --weights-out). " + RUNS_CODE + " Parts with no "
                    "Neurocanvas node make the import fail, naming each with its fx target. Exits 0 on success, 2 "
                    "for bad input or unsupported parts, 1 if the imported graph does not reproduce the module.")
    parser.add_argument("spec", metavar="module:Class", help="the model class, e.g. mymodels:Net (its module is "
                                                              "imported: its code runs)")
    parser.add_argument("project", help="project file to write (.json)")
    parser.add_argument("--input-shape", action="append", metavar="SHAPE", dest="input_shapes",
                        help="shape of an input without the batch, e.g. 1,8,8 (once per forward argument; may be "
                             "left out when a Linear layer reads the input first)")
    parser.add_argument("--weights", metavar="FILE", help="load the module's weights from this .safetensors file first")
    add_weights_out(parser)
    parser.add_argument("--keep-custom", action="store_true",
                        help="keep a custom module that has no Neurocanvas node as a custom layer node of its class "
                             "(its file is copied beside the project; see docs/custom_layers.md) instead of failing")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip running the imported graph against the module before writing")
    add_flat(parser)
    parser.set_defaults(handler=run, old_weights_out_flag="--output-weights")
    parser.add_argument("--output-weights", dest="old_weights_out", metavar="FILE", help=argparse.SUPPRESS)


def module_file(spec: str) -> str | None:
    """The source file of `module` in 'module:Class', found the way the import will find it (the current
    folder first) but without running any of its code; None when there is none."""
    parts = spec.partition(":")[0].split(".")
    if not all(part.isidentifier() for part in parts):
        return None
    search, found = [os.getcwd(), *sys.path], None
    for depth in range(1, len(parts) + 1):
        found = PathFinder.find_spec(".".join(parts[:depth]), search)
        if found is None:
            return None
        search = list(found.submodule_search_locations or [])
    return found.origin if found.has_location else None


def run(args) -> int:
    weights = weights_out(args)
    check_paths({"the module's source": module_file(args.spec), "the weights (--weights)": args.weights},
                args.project, weights)
    from engine.importers.common import ImportMismatch
    from engine.importers.torch_import import import_torch_file, parse_shape

    shapes = [parse_shape(s) for s in args.input_shapes] if args.input_shapes else None
    try:
        files = import_torch_file(args.spec, args.project, shapes, args.weights, weights,
                                  verify=not args.no_verify, keep_custom=args.keep_custom, units=not args.flat)
    except ImportMismatch as error:
        print(f"neurocanvas import-torch: error: {error}", file=sys.stderr)
        return EXIT_MISMATCH
    for line in summary(files):
        print(line)
    return 0
