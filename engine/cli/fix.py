"""`fix PROJECT OUT [--all]`: apply the suggested fix of each shape error and write the result to OUT.

The fixes are `engine.fixes`' (the same `check --json` lists); each one is the first fix offered
for an error, checked to remove that error and introduce none. With `--all` a fix may also uncover
errors that the fixed one hid further on (on nodes that could not be inferred), and those are fixed
in turn, a bounded number of rounds. OUT must be a new file: the input
is never overwritten. Exits 0 when the written project is valid, 1 when errors remain in it, 2
for bad input or when no error could be fixed (nothing is written then).
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.cli.check import graph_to_check
from engine.custom_layers.trust import add_trust_flag, code_loader
from engine.errors import UserError
from engine.fixes import apply_edits, suggest
from engine.output_paths import StagedOutputs, check_outputs
from engine.shapes import describe, infer
from graphs.errors import printable
from graphs.project import load_project

MAX_ROUNDS = 16  # --all: passes over the remaining errors, each of which must fix at least one


def add_parser(sub) -> None:
    parser = sub.add_parser("fix", help="apply the suggested fix of each shape error and write the result",
                            description="Apply the first suggested fix of each error of PROJECT (those `check "
                                        "--json` lists under \"fixes\") and write the fixed project to OUT, a new "
                                        "file. Exits 0 when OUT is valid, 1 when errors remain in it, 2 for bad "
                                        "input or when nothing could be fixed.")
    parser.add_argument("project", help="project file to fix (.json); never changed")
    add_trust_flag(parser)  # engine.custom_layers: a project with its own code
    parser.add_argument("out", help="the fixed project to write (.json, a new file)")
    parser.add_argument("--all", action="store_true",
                        help="also take fixes that uncover errors the fixed one hid further on, and repeat until "
                             "no fixable error remains")
    parser.set_defaults(handler=run)


def fix_pass(project, graph, reveal: bool, seen: list) -> list[tuple[str, str]]:
    """Apply the first fix of each error of `graph` (the graph as trained) to it and to the project's
    graph, skipping fixes that lead back to a graph in `seen`; (the error, the fix's title) of each."""
    pending = {(e.node, e.message) for e in infer(graph).errors}
    done = []
    while pending:
        result = infer(graph)
        for error in result.errors:
            if (error.node, error.message) not in pending:
                continue
            pending.discard((error.node, error.message))
            fix = next((f for f in suggest(graph, result, error, reveal=reveal) if _leads_elsewhere(graph, f, seen)),
                       None)
            if fix is not None:
                apply_edits(graph, fix.edits)
                seen.append(graph.snapshot())
                if project.graph is not graph:  # shapes from the data: a copy, which the file must follow
                    apply_edits(project.graph, fix.edits)
                done.append((describe(error), fix.title))
                break  # the graph changed: infer again before the next error
        else:
            break
    return done


def _leads_elsewhere(graph, fix, seen: list) -> bool:
    """Whether `fix` makes a graph not met before (so that --all never goes round in circles)."""
    trial = graph.copy()
    apply_edits(trial, fix.edits)
    return trial.snapshot() not in seen


def run(args) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise UserError(f"the fixed project {printable(str(out))} should end in .json")
    check_outputs({"the project": args.project}, {"the fixed project": out})
    if os.path.lexists(out):
        raise UserError(f"the fixed project {printable(str(out))} already exists; choose a new file")
    project = load_project(args.project, code_loader(args.trust_code))
    graph, _, load_errors = graph_to_check(project)
    if load_errors:
        raise UserError(describe(load_errors[0]))
    done: list[tuple[str, str]] = []
    seen = [graph.snapshot()]
    for _ in range(MAX_ROUNDS if args.all else 1):
        fixed = fix_pass(project, graph, args.all, seen)
        done += fixed
        if not fixed or infer(graph).valid:
            break
    remaining = infer(graph).errors
    if remaining and not done:
        raise UserError(f"no suggested fix for {describe(remaining[0])}")
    with StagedOutputs() as staged:
        staged.temporary(out).write_text(project.to_json(), encoding="utf-8")
    for error, title in done:
        print(f"fixed {printable(error)}\n  by: {printable(title)}")
    print(f"wrote {printable(str(out))}: {len(done)} fix(es)" + (f", {len(remaining)} error(s) remain" if remaining
                                                                 else ", valid"))
    for error in remaining:
        print(f"  {printable(describe(error))}")
    return 1 if remaining else 0
