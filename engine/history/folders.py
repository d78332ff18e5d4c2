"""Reading a run folder back: its one-line summary for a list, and everything needed to compare it.
Imports no torch. Nothing here raises for a bad folder: a damaged run is a summary with `damaged` set
to the reason (bad JSON with its line and column, a missing file, an unreadable one).

A folder without run.json but with project.json (a run from before run records) is listed with status
"unrecorded". A run.json still saying "running" whose process is gone (killed, a power cut) is
"unfinished". Cross-validation runs (`folds.json` and `fold-N/metrics.csv`) are one run with folds; a
sweep's trial carries its `"sweep"` entry.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

RECORD, METRICS, PROJECT, FOLDS = "run.json", "metrics.csv", "project.json", "folds.json"
METRIC_NAMES = ("val_accuracy", "val_mae")


class Damaged(Exception):
    """Why a run folder can't be read."""


@dataclass
class RunSummary:
    """One run as a list shows it."""

    id: str  # the folder's name
    folder: str
    started: str  # ISO 8601 (the folder's time where run.json is missing)
    status: str  # finished | stopped | early_stopped | failed | running | unfinished | unrecorded | damaged
    project_name: str | None = None
    project_file: str | None = None
    metric: str | None = None
    epochs: int = 0  # done
    epochs_planned: int | None = None
    best: float | None = None  # the metric at the best epoch (lowest validation loss)
    best_epoch: int | None = None
    final: dict | None = None  # the last epoch's row
    message: str = ""
    damaged: str | None = None  # why, for a damaged run
    folds: list[dict] = field(default_factory=list)  # cross-validation: per fold, its epochs and metric
    sweep: dict | None = None

    def as_dict(self) -> dict:
        return dict(vars(self))  # shallow: the values are JSON already (asdict's deep copy is 10x slower)


def read_json(path: Path, what: str):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as error:
        raise Damaged(f"{what} can't be read: {getattr(error, 'strerror', None) or error}") from None
    try:
        return json.loads(text)
    except ValueError as error:
        where = f"line {error.lineno}, column {error.colno}: " if hasattr(error, "lineno") else ""
        raise Damaged(f"{what} is not valid JSON ({where}{getattr(error, 'msg', error)})") from None


def read_metrics(path: Path) -> list[dict]:
    """metrics.csv's rows with numbers as floats (epoch as int, empty cells as None), none if the file is
    missing (a run stopped before its first epoch); Damaged if it is bad."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            lines = list(csv.reader(handle))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise Damaged(f"{path.name} can't be read: {getattr(error, 'strerror', None) or error}") from None
    if not lines:
        return []
    header, rows = lines[0], []
    for number, cells in enumerate(lines[1:], start=2):
        if not cells:
            continue
        if len(cells) != len(header):
            raise Damaged(f"{path.name} line {number}: {len(cells)} cells where the header has {len(header)}")
        row = {}
        for name, cell in zip(header, cells):
            try:
                row[name] = None if cell == "" else (int(cell) if name == "epoch" else float(cell))
            except ValueError:
                raise Damaged(f"{path.name} line {number}, column {name!r}: {cell[:40]!r} is not a number") from None
        rows.append(row)
    return rows


def best_row(rows: list[dict]) -> dict | None:
    """The row of the lowest validation loss (training loss without validation), as the trainer picks it."""
    def loss(row):
        value = row.get("val_loss") if row.get("val_loss") is not None else row.get("train_loss")
        return value if isinstance(value, float) and math.isfinite(value) else math.inf

    return min(rows, key=loss) if rows else None


def _alive(record: dict) -> bool:
    """Whether the process that wrote a "running" record may still be running (unknown elsewhere: yes)."""
    if record.get("host") != socket.gethostname() or not isinstance(record.get("pid"), int):
        return True
    try:
        os.kill(record["pid"], 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


NAMED_TIME = re.compile(r".*-(\d{8}-\d{6})(-\d+)?")  # how the trainer names a run folder: <stem>-<local time>


def _folder_time(path: Path) -> str:
    """When the run started as far as its folder tells: the time in its name, else its modification time."""
    named = NAMED_TIME.fullmatch(path.name)
    if named:
        try:
            return datetime.strptime(named[1], "%Y%m%d-%H%M%S").astimezone(timezone.utc).isoformat()
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(microsecond=0).isoformat()


def _folds(path: Path, metric: str | None) -> list[dict]:
    """Each `fold-N/` folder's epochs and final metric (folds.json is only required to be valid JSON)."""
    folds = []
    for sub in sorted(path.glob("fold-*"), key=lambda p: (len(p.name), p.name)):
        if not sub.is_dir():
            continue
        try:
            rows = read_metrics(sub / METRICS)
        except Damaged as error:
            raise Damaged(f"{sub.name}: {error}") from None
        name = metric or next((m for m in METRIC_NAMES if rows and m in rows[-1]), None)
        folds.append({"fold": sub.name, "epochs": len(rows), "metric": rows[-1].get(name) if rows and name else None})
    return folds


def read_summary(path: Path) -> RunSummary:
    """The summary of the run folder `path` (damaged, with the reason, where it can't be read)."""
    summary = RunSummary(id=path.name, folder=str(path), started="", status="damaged")
    try:
        summary.started = _folder_time(path)
        _fill(summary, path)
    except Damaged as error:
        summary.status, summary.damaged = "damaged", str(error)
    except OSError as error:
        summary.status, summary.damaged = "damaged", f"can't be read: {error.strerror or error}"
    return summary


def project_file(path: Path) -> Path:
    """The run's project as trained: its project.json, or a cross-validation run's first fold's."""
    if not (path / PROJECT).exists() and (path / FOLDS).exists():
        return path / "fold-1" / PROJECT
    return path / PROJECT


def _fill(summary: RunSummary, path: Path) -> None:
    try:
        record = read_json(path / RECORD, RECORD)
    except FileNotFoundError:
        record = None
    if record is not None and not isinstance(record, dict):
        raise Damaged(f"{RECORD} holds {type(record).__name__}, not an object")
    if not project_file(path).exists():
        if record is None:
            raise Damaged(f"not a run folder: no {RECORD} and no {PROJECT}")
        raise Damaged(f"{PROJECT} (the project as trained) is missing")
    rows = read_metrics(path / METRICS)
    record = record or {}
    summary.status = str(record.get("status", "unrecorded"))
    if summary.status in ("running", "starting") and not _alive(record):
        summary.status = "unfinished"
    if rows == [] and isinstance(record.get("epochs_done"), int) and record["epochs_done"] > 0:
        raise Damaged(f"{METRICS} is missing but the run recorded {record['epochs_done']} epochs")
    project = record.get("project") if isinstance(record.get("project"), dict) else {}
    summary.project_name, summary.project_file = project.get("name"), project.get("file")
    summary.started = str(record.get("started") or summary.started)
    summary.message = str(record.get("message") or "")
    summary.metric = record.get("metric") or next((m for m in METRIC_NAMES if rows and m in rows[0]), None)
    summary.epochs = len(rows)
    summary.epochs_planned = record.get("epochs_planned")
    summary.final = rows[-1] if rows else None
    best = best_row(rows)
    if best is not None:
        summary.best_epoch, summary.best = best.get("epoch"), best.get(summary.metric) if summary.metric else None
    summary.sweep = record.get("sweep") if isinstance(record.get("sweep"), dict) else None
    if (path / FOLDS).exists():
        read_json(path / FOLDS, FOLDS)  # damaged if it can't be read
        summary.folds = _folds(path, summary.metric)


def stamp(path: str) -> str:
    """What changes when anything a summary reads changes: the folder's and its files' times and sizes.
    (Plain strings and os.stat: this runs for every folder of a history each time it is listed.)"""
    parts = []
    for name in ("", RECORD, METRICS, FOLDS):
        try:
            stat = os.stat(os.path.join(path, name) if name else path)
            parts.append(f"{stat.st_mtime_ns}:{stat.st_size}")
        except OSError:
            parts.append("-")
    return "|".join(parts)
