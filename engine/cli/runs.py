"""`runs PROJECT [--json]`: list a project's run history (the runs in `runs/` beside it), newest first.

Each run shows its folder name (its id), when it started, its status, the epochs done, the best epoch's
validation metric, its folds (cross-validation) or sweep trial, and for a damaged run why. PROJECT may also
be a runs folder, to list every run in it. Reads through `runs/index.sqlite` (see `engine.history.index`);
imports no torch.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from engine.errors import UserError
from graphs.errors import printable, quoted

STATUS_TEXT = {"early_stopped": "stopped early"}


def add_parser(sub) -> None:
    parser = sub.add_parser("runs", help="list a project's runs (its training history)",
                            description="List the runs of a project (from the runs/ folder beside it), newest "
                                        "first, with status, epochs and best metric; damaged runs say why. "
                                        "PROJECT may also be a runs folder.")
    parser.add_argument("project", help="project file (.json), or a runs folder")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    parser.set_defaults(handler=run)


def _best(run) -> str:
    if run.best is None or run.metric is None:
        return "-"
    name = run.metric.removeprefix("val_")
    return f"{name} {run.best:.4g} (epoch {run.best_epoch})"


def _extra(run) -> str:
    if run.damaged:
        return f"damaged: {run.damaged}"
    parts = []
    if run.folds:
        values = [f["metric"] for f in run.folds if isinstance(f.get("metric"), float)]
        mean = f", mean {sum(values) / len(values):.4g}" if values else ""
        parts.append(f"{len(run.folds)} folds{mean}")
    if run.sweep:
        parts.append(f"sweep {run.sweep.get('study', '?')} trial {run.sweep.get('trial', '?')}")
    return "; ".join(parts)


def _local(started: str) -> str:
    try:
        return f"{datetime.fromisoformat(started).astimezone():%Y-%m-%d %H:%M:%S}"
    except ValueError:
        return started


def format_table(runs) -> str:
    rows = [("run", "started", "status", "epochs", "best", "")]
    for run in runs:
        epochs = f"{run.epochs}/{run.epochs_planned}" if run.epochs_planned else str(run.epochs)
        rows.append((run.id, _local(run.started), STATUS_TEXT.get(run.status, run.status),
                     epochs, _best(run), _extra(run)))
    rows = [tuple(printable(str(cell)) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "  " + row[5]
                     for row in rows).replace("  \n", "\n").rstrip()


def run(args) -> int:
    from engine.history.index import list_runs, runs_of

    path = Path(args.project)
    if path.is_dir():
        runs = list_runs(path)
    elif path.is_file():
        runs = runs_of(path)
    else:
        raise UserError(f"{quoted(args.project)} is neither a project file nor a runs folder (no such file)")
    if args.json:
        print(json.dumps([run.as_dict() for run in runs]))
    elif not runs:
        print(f"no runs of {printable(str(path))} yet")
    else:
        print(format_table(runs))
    return 0
