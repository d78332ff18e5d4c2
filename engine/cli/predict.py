"""`predict PROJECT --weights W INPUT... [--json] [--top-k K] [--text-file F]`.

Runs a trained model on new inputs (image files or folders, WAV files, CSV files of
rows, or with `--text-file` a file of texts, one a line), prepared exactly as the run
prepared its training data (see `engine.predict`). Prints one line per input: the label
and the top-k probabilities, or the value for a regression; `--json` prints one object a
line instead. An input that can't be read is reported on stderr and the others go on.
Exits 0 when every input got an answer, 2 for bad input (the wrong kind of input for the
model, weights from another graph, a missing or damaged file). torch is imported only
when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.custom_layers.trust import add_trust_flag, code_loader
from engine.errors import UserError
from graphs.project import load_project

EXIT_BAD_INPUT = 2


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "predict", help="run a trained model on new images, sounds, texts or table rows",
        description="Run a trained model on new inputs, prepared as its training data was (image size and "
                    "normalisation, tokenizer, audio features, column transforms, all read from the weights file). "
                    "Prints the label and the top-k probabilities per input, or the value for a regression. "
                    "Exits 0 when every input got an answer, 2 for bad input.")
    parser.add_argument("--weights", metavar="FILE", required=True,
                        help="trained weights (.safetensors), e.g. runs/NAME/weights.safetensors")
    parser.add_argument("project", help="project file (.json)")
    add_trust_flag(parser)  # engine.custom_layers: a project with its own code
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="image files or folders, WAV files or folders, or CSV files of rows with a header")
    parser.add_argument("--text-file", metavar="FILE", help="a UTF-8 file of texts, one a line (for text models)")
    parser.add_argument("--top-k", type=int, default=3, metavar="K", help="classes shown per input (default 3)")
    parser.add_argument("--batch-size", type=int, default=256, metavar="N", help="inputs run at once (default 256)")
    parser.add_argument("--json", action="store_true", help="print one JSON object a line")
    parser.set_defaults(handler=run)
    parser.__class__ = _Intermixed  # INPUTs may follow the options: `predict P --weights W a.png b.png`


class _Intermixed(argparse.ArgumentParser):
    """A parser whose positionals may come before and after options (argparse's intermixed parsing,
    which a subcommand's parser otherwise never uses)."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inside:  # parse_known_intermixed_args calls back here
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def run(args) -> int:
    if args.top_k < 1:
        raise UserError(f"--top-k must be at least 1, got {args.top_k}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    project = load_project(args.project, code_loader(args.trust_code))
    from engine.predict import Predictor

    predictor = Predictor.load(project, args.weights)
    failed = 0
    for prediction in predictor.run(predictor.batches(args.inputs, args.text_file, args.batch_size), args.top_k):
        if prediction.error is not None:
            failed += 1
            print(f"neurocanvas predict: error: {prediction.error}", file=sys.stderr)
        if args.json:
            print(json.dumps(prediction.as_dict(), ensure_ascii=False))
        elif prediction.error is None:
            print(prediction.line())
    if failed:
        print(f"neurocanvas predict: {failed} input{'s' if failed > 1 else ''} could not be read", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0
