"""The headless command line: `python main.py COMMAND ...`.

Each command lives in its own module here with `add_parser(subparsers)` and
`run(args) -> int`. Errors caused by the input (an unreadable project, an
invalid graph, a bad data file) print one clear line to stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from engine.errors import UserError
from graphs.errors import GraphError, ProjectFormatError

# command modules, in the order `--help` lists them
COMMANDS = ["check", "train", "export", "import_onnx", "import_torch", "launch_script", "sweep", "predict"]
COMMANDS += ["runs", "diff"]  # the run history (engine.history)
COMMANDS += ["explain"]  # heat maps of what an image model looks at (engine.explain)
COMMANDS += ["fix"]  # one-click fixes for shape errors (engine.fixes)
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurocanvas",
        description="Neurocanvas: build deep-learning models on a node canvas, train them, export them. "
                    "Run with no command (or with a PROJECT file) to open the editor.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"engine.cli.{name}").add_parser(sub)
    return parser


def _escape_unencodable_output() -> None:
    """Print text the terminal cannot encode (a lone surrogate in a project's name, a file name
    that is not UTF-8) escaped, instead of failing on it."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def run(argv: list[str]) -> int:
    _escape_unencodable_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except (ProjectFormatError, UserError) as error:
        print(f"neurocanvas {args.command}: error: {error}", file=sys.stderr)
    except GraphError as error:
        where = f"node '{error.node}': " if error.node else ""
        print(f"neurocanvas {args.command}: error: {where}{error.message}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"neurocanvas {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`check --json | head -c 100`): stop quietly, as `cat` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush fails nowhere
        return EXIT_BROKEN_PIPE
    return EXIT_USAGE
