"""`runs/index.sqlite`: a cache of every run folder's summary, so a history of hundreds of runs lists in
milliseconds. Imports no torch.

The folders are the truth and the index only remembers them: each row holds a folder's summary and its
`stamp` (times and sizes of what the summary was read from). Listing stats each folder, re-reads only
those whose stamp changed or that are new, and drops the rows of folders that are gone; an index that
is missing, damaged or of another format is rebuilt (a file by that name that is not an SQLite database
is left alone, and the list is then not cached). Where the runs folder can't be written (read-only
media) the list is still right, it is just not cached.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

from engine.history.folders import RunSummary, read_summary, stamp

INDEX = "index.sqlite"
LIVE = ("running", "starting")
SQLITE_HEADER = b"SQLite format 3\x00"
FORMAT = "2"  # of the rows: bumped when a summary is read differently, so old rows are re-read


def _scan(runs_dir: Path) -> dict[str, str]:
    try:
        with os.scandir(runs_dir) as entries:
            return {entry.name: entry.path for entry in entries if entry.is_dir(follow_symlinks=False)}
    except (FileNotFoundError, NotADirectoryError):
        return {}


def _open(path: Path) -> sqlite3.Connection | None:
    """The index, created or rebuilt if it is damaged or of another format; None if it can't be written."""
    for attempt in range(2):
        try:
            db = sqlite3.connect(path, timeout=2)
            db.execute("PRAGMA synchronous = OFF")  # a cache: after a power cut it is rebuilt, not trusted
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS runs (folder TEXT PRIMARY KEY, stamp TEXT, summary TEXT)")
            version = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if version is None or version[0] != FORMAT:
                db.execute("DELETE FROM runs")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (FORMAT,))
                db.commit()
            return db
        except sqlite3.Error:
            if attempt == 0 and _damaged_database(path):  # ours to replace
                try:
                    path.unlink()
                    continue
                except OSError:
                    return None
            return None  # a file of someone else's by that name stays: the list is just not cached
    return None


def _damaged_database(path: Path) -> bool:
    """Whether `path` is an SQLite file (or an empty one), so a damaged index rather than a stranger's file."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError:
        return False
    return head in (b"", SQLITE_HEADER)


def list_runs(runs_dir: str | os.PathLike) -> list[RunSummary]:
    """Every run folder in `runs_dir`, newest first, through the index (see the module docstring)."""
    runs_dir = Path(runs_dir)
    folders = _scan(runs_dir)
    stamps = {name: stamp(path) for name, path in folders.items()}
    db = _open(runs_dir / INDEX) if folders else None
    cached: dict[str, tuple[str, str]] = {}
    if db is not None:
        try:
            cached = {row[0]: (row[1], row[2]) for row in db.execute("SELECT folder, stamp, summary FROM runs")}
        except sqlite3.Error:
            cached = {}
    summaries, fresh = [], []
    for name, path in folders.items():
        hit = cached.get(name)
        summary = _from_json(hit[1]) if hit is not None and hit[0] == stamps[name] else None
        if summary is not None and summary.status in LIVE:  # whether its process still runs is not on disk
            summary = None
        if summary is None:
            summary = read_summary(Path(path))
            fresh.append((name, stamps[name], json.dumps(summary.as_dict())))
        summary.folder = path
        summaries.append(summary)
    gone = [name for name in cached if name not in folders]
    if db is not None:
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)", fresh)
                db.executemany("DELETE FROM runs WHERE folder = ?", [(name,) for name in gone])
        except sqlite3.Error:
            pass  # a read-only or locked index: the list is right, only not cached
        finally:
            db.close()
    summaries.sort(key=lambda s: (s.started, s.id), reverse=True)
    return summaries


def _from_json(text: str) -> RunSummary | None:
    try:
        return RunSummary(**json.loads(text))
    except (ValueError, TypeError):
        return None


def runs_folder(project_file: str | os.PathLike) -> Path:
    """Where runs of the project file go by default: `runs/` beside it."""
    return Path(project_file).resolve().parent / "runs"


def runs_of(project_file: str | os.PathLike) -> list[RunSummary]:
    """The runs of one project: those whose record names this file, or (older and damaged runs) whose
    folder is named as the trainer names a run of it, `<file stem>-<date>-<time>`."""
    path = Path(project_file).resolve()
    pattern = re.compile(re.escape(path.stem) + r"-\d{8}-\d{6}(-\d+)?")
    return [run for run in list_runs(runs_folder(path))
            if run.project_file == str(path) or (run.project_file is None and pattern.fullmatch(run.id))]
