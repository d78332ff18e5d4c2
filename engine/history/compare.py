"""Two runs side by side: the settings that differ, the graph diff and the final metrics. Imports no
torch; the `diff` command prints it and the GUI's comparison shows it.

A run folder is read for its project as trained (project.json: the graph, and the settings where
run.json is missing) and its record (run.json: the settings as trained, the seed, the data fingerprint).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from engine.history.folders import METRICS, RECORD, Damaged, best_row, project_file, read_json, read_metrics
from graphs.diff import GraphDiff, graph_diff, settings_diff
from graphs.errors import GraphError, ProjectFormatError, quoted
from graphs.project import Project, load_project

COMPARED_RECORD_KEYS = ("seed", "device")


@dataclass
class StoredRun:
    """What a run folder holds, as far as comparing needs it."""

    folder: Path
    project: Project
    settings: dict  # training settings as trained, plus the data hash and device under "run."
    rows: list[dict]  # metrics.csv

    @property
    def final(self) -> dict | None:
        return self.rows[-1] if self.rows else None

    @property
    def best(self) -> dict | None:
        return best_row(self.rows)


def load_run(folder: str | Path, code=None) -> StoredRun:
    """The run in `folder`; a UserError naming the folder and file where it can't be read. `code`: what loads
    the code of a project with custom layers (see `graphs.project.load_project`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{quoted(str(folder))} is not a run folder (no such folder)")
    try:
        project = load_project(project_file(folder), code)
    except (ProjectFormatError, GraphError, UserError) as error:
        raise UserError(f"run {quoted(folder.name)}: {error}") from None
    try:
        record = read_json(folder / RECORD, RECORD)
    except FileNotFoundError:
        record = {}
    except Damaged as error:
        raise UserError(f"run {quoted(folder.name)}: {error}") from None
    record = record if isinstance(record, dict) else {}
    settings = dict(record.get("settings") or project.training)
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    settings["run"] = {"data_hash": data.get("hash"), **{k: record.get(k) for k in COMPARED_RECORD_KEYS},
                       "versions": record.get("versions")}
    try:
        rows = read_metrics(folder / METRICS)
    except Damaged as error:
        raise UserError(f"run {quoted(folder.name)}: {error}") from None
    return StoredRun(folder, project, settings, rows)


@dataclass
class RunComparison:
    a: StoredRun
    b: StoredRun
    settings: dict[str, tuple]  # dotted setting -> (a's, b's)
    graph: GraphDiff

    def metrics(self) -> list[tuple[str, object, object]]:
        """(name, a's final value, b's) for every column either run's last epoch has, then the best epochs."""
        final_a, final_b = self.a.final or {}, self.b.final or {}
        names = list(dict.fromkeys([*final_a, *final_b]))
        rows = [(name, final_a.get(name), final_b.get(name)) for name in names]
        best_a, best_b = self.a.best or {}, self.b.best or {}
        rows.append(("best epoch", best_a.get("epoch"), best_b.get("epoch")))
        return rows

    def as_dict(self) -> dict:
        return {"a": str(self.a.folder), "b": str(self.b.folder),
                "settings": {name: list(values) for name, values in self.settings.items()},
                "graph": self.graph.as_dict(),
                "metrics": {name: [a, b] for name, a, b in self.metrics()}}


def compare_runs(a: str | Path, b: str | Path, code=None) -> RunComparison:
    run_a, run_b = load_run(a, code), load_run(b, code)
    return RunComparison(run_a, run_b, settings_diff(run_a.settings, run_b.settings),
                         graph_diff(run_a.project.graph, run_b.project.graph))
