"""The run history: run.json written by every run, the SQLite index (rebuilt when missing or stale),
damaged folders listed as damaged, `runs` and `diff` on the command line, TensorBoard event files."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

import main
from engine.history import index as index_module
from engine.history.compare import compare_runs
from engine.history.delete import delete_run
from engine.history.folders import read_summary
from engine.history.index import INDEX, list_runs, runs_of
from engine.training import Trainer


def train(project, out: Path | None = None, **overrides):
    project.training.update(overrides)
    return Trainer(project, epochs=project.training.get("epochs", 2), out_dir=out, max_batches=2, threads=1).run()


@pytest.fixture
def history(moons_project):
    """Two runs of the moons project in runs/ beside it: lr 0.01 and lr 0.05 with fc1 widened."""
    first = train(moons_project)
    moons_project.graph.set_param("fc1", "out_features", 24)
    second = train(moons_project, optimizer={"type": "Adam", "lr": 0.05}, epochs=3)
    return moons_project, first.out_dir, second.out_dir


def test_every_run_records_what_it_was_trained_with(history):
    project, first, _ = history
    record = json.loads((first / "run.json").read_text())
    assert record["status"] == "finished" and record["epochs_done"] == 2 and record["epochs_planned"] == 2
    assert record["project"] == {"name": project.name, "file": str(project.path.resolve())}
    assert record["settings"]["optimizer"] == {"type": "Adam", "lr": 0.01} and record["seed"] == 0
    assert record["data"]["parameters"]["name"] == "moons" and len(record["data"]["hash"]) == 64
    assert record["versions"]["torch"] and record["versions"]["python"] and record["device"] == "cpu"
    assert record["checkpoints"] == {"best": "best.safetensors", "last": "last.safetensors"}
    assert record["weights"] == "weights.safetensors" and record["final"]["epoch"] == 2
    assert record["started"] <= record["ended"]


def test_a_data_file_is_fingerprinted_by_its_content(write_project, tmp_path):
    data = tmp_path / "points.csv"
    data.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    project = write_project({"name": "csv", "path": "points.csv", "target": "label"})
    first = json.loads((train(project).out_dir / "run.json").read_text())["data"]
    data.write_text(data.read_text().replace("0,0,0", "0,1,0"))
    second = json.loads((train(project).out_dir / "run.json").read_text())["data"]
    assert first["files"][0]["kind"] == "file" and first["files"][0]["bytes"] == data.stat().st_size
    assert first["hash"] != second["hash"]


def test_a_killed_run_is_listed_as_unfinished(history):
    _, first, _ = history
    record = json.loads((first / "run.json").read_text())
    record.update(status="running", pid=2**22 + 12345)  # no such process
    (first / "run.json").write_text(json.dumps(record))
    assert read_summary(first).status == "unfinished"
    record["pid"] = os.getpid()  # alive
    (first / "run.json").write_text(json.dumps(record))
    assert read_summary(first).status == "running"


def test_the_index_lists_runs_newest_first_and_is_rebuilt_when_stale(history):
    project, first, second = history
    runs = runs_of(project.path)
    assert [run.id for run in runs] == [second.name, first.name]
    assert runs[0].epochs == 3 and runs[0].metric == "val_accuracy" and runs[0].best is not None
    assert (first.parent / INDEX).exists()
    # a changed folder is re-read, a removed one dropped, a new one added
    (second / "metrics.csv").write_text("epoch,train_loss\n1,0.5\n")
    shutil.rmtree(first)
    copy = first.parent / "moved-in"
    shutil.copytree(second, copy)
    runs = {run.id: run for run in list_runs(first.parent)}
    assert set(runs) == {second.name, "moved-in"} and runs[second.name].epochs == 1
    rows = sqlite3.connect(first.parent / INDEX).execute("SELECT folder FROM runs").fetchall()
    assert sorted(rows) == sorted([(second.name,), ("moved-in",)])


def test_the_index_reads_only_folders_that_changed(history, monkeypatch):
    project, first, second = history
    runs_of(project.path)
    read = []
    monkeypatch.setattr(index_module, "read_summary", lambda path: read.append(path.name) or read_summary(path))
    runs_of(project.path)
    assert read == []
    (first / "metrics.csv").write_text("epoch,train_loss\n1,0.5\n")
    runs_of(project.path)
    assert read == [first.name]


def test_a_damaged_index_is_rebuilt(history):
    project, first, second = history
    runs_of(project.path)
    index = first.parent / INDEX
    index.write_bytes(index.read_bytes()[:100] + b"\xff" * 4000)  # an SQLite header, then garbage
    assert [run.id for run in runs_of(project.path)] == [second.name, first.name]
    assert sqlite3.connect(index).execute("SELECT count(*) FROM runs").fetchone() == (2,)


def test_a_file_of_someone_elses_named_like_the_index_is_left_alone(history):
    project, first, second = history
    (first.parent / INDEX).write_bytes(b"my own notes, not a database" * 100)
    assert [run.id for run in runs_of(project.path)] == [second.name, first.name]
    assert (first.parent / INDEX).read_bytes() == b"my own notes, not a database" * 100


@pytest.mark.parametrize("damage, reason", [
    (lambda folder: (folder / "run.json").write_text('{"status": "finished",\n "epochs_done": }'),
     "run.json is not valid JSON (line 2, column"),
    (lambda folder: (folder / "run.json").write_text("[1, 2]"), "run.json holds list, not an object"),
    (lambda folder: (folder / "project.json").unlink(), "project.json (the project as trained) is missing"),
    (lambda folder: (folder / "metrics.csv").unlink(), "metrics.csv is missing but the run recorded 2 epochs"),
    (lambda folder: (folder / "metrics.csv").write_text("epoch,train_loss\n1,abc\n"),
     "metrics.csv line 2, column 'train_loss': 'abc' is not a number"),
    (lambda folder: (folder / "run.json").write_bytes(b"\xff\xfe"), "run.json can't be read"),
])
def test_a_damaged_run_is_listed_as_damaged_with_why(history, damage, reason, capsys):
    project, first, second = history
    damage(first)
    runs = {run.id: run for run in runs_of(project.path)}
    assert runs[first.name].status == "damaged" and reason in runs[first.name].damaged
    assert runs[second.name].status == "finished"
    assert main.main(["runs", str(project.path)]) == 0
    out = capsys.readouterr().out
    assert f"damaged: {reason}" in out and second.name in out


def test_a_folder_that_is_not_a_run_is_damaged_not_an_error(tmp_path):
    (tmp_path / "runs" / "stray").mkdir(parents=True)
    (tmp_path / "runs" / "notes.txt").write_text("a file beside the runs is ignored")
    runs = list_runs(tmp_path / "runs")
    assert [(run.id, run.status) for run in runs] == [("stray", "damaged")]
    assert "not a run folder" in runs[0].damaged


def test_cross_validation_and_sweep_runs_are_one_run_each(history):
    project, first, second = history
    (first / "folds.json").write_text(json.dumps({"folds": 2, "metric": "val_accuracy"}))
    for fold, value in ((1, 0.75), (2, 0.85)):
        (first / f"fold-{fold}").mkdir()
        (first / f"fold-{fold}" / "metrics.csv").write_text(f"epoch,train_loss,val_loss,val_accuracy\n1,0.5,0.4,{value}\n")
    record = json.loads((second / "run.json").read_text())
    record["sweep"] = {"study": "lr-search", "trial": 4}
    (second / "run.json").write_text(json.dumps(record))
    runs = {run.id: run for run in runs_of(project.path)}
    assert len(runs) == 2
    assert [fold["metric"] for fold in runs[first.name].folds] == [0.75, 0.85]
    assert runs[second.name].sweep == {"study": "lr-search", "trial": 4}


def test_runs_json_lists_every_run(history, capsys):
    project, first, second = history
    assert main.main(["runs", str(project.path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [run["id"] for run in listed] == [second.name, first.name]
    assert listed[0]["status"] == "finished" and listed[0]["epochs"] == 3 and listed[0]["damaged"] is None


def test_runs_of_a_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main.main(["runs", str(tmp_path / "nope.json")]) == 2
    assert "neither a project file nor a runs folder" in capsys.readouterr().err


def test_diff_names_settings_graph_and_metrics(history, capsys):
    _, first, second = history
    comparison = compare_runs(first, second)
    assert comparison.settings["optimizer.lr"] == (0.01, 0.05) and comparison.settings["epochs"] == (2, 3)
    assert "seed" not in comparison.settings and "run.data_hash" not in comparison.settings
    assert comparison.graph.changed == {"fc1": {"out_features": (16, 24)}} and not comparison.graph.added
    assert main.main(["diff", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    assert "optimizer.lr: 0.01 -> 0.05" in out and "~ fc1.out_features: 16 -> 24" in out
    assert "best epoch" in out and "val_accuracy" in out
    assert main.main(["diff", str(first), str(second), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["graph"]["params_changed"] == {"fc1": {"out_features": [16, 24]}}
    assert data["metrics"]["epoch"] == [2, 3]


def test_diff_of_a_damaged_run_names_it(history, capsys):
    _, first, second = history
    (first / "project.json").write_text("{")
    assert main.main(["diff", str(first), str(second)]) == 2
    err = capsys.readouterr().err
    assert first.name in err and "Traceback" not in err


def test_delete_removes_only_what_the_run_wrote(history):
    project, first, second = history
    (first / "my-notes.txt").write_text("mine")
    assert delete_run(first) == ["my-notes.txt"]
    assert (first / "my-notes.txt").read_text() == "mine" and not (first / "run.json").exists()
    assert delete_run(second) == [] and not second.exists()


def test_tensorboard_event_files_hold_the_scalars_and_the_graph(history):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, _, second = history
    events = EventAccumulator(str(second / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"loss/train", "loss/val", "metric/val_accuracy", "learning_rate", "loss/train_batch"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("loss/val")] == [1, 2, 3]
    assert events.Scalars("learning_rate")[0].value == pytest.approx(0.05)
    assert tags["graph"] is True
    metrics = [line.split(",") for line in (second / "metrics.csv").read_text().splitlines()[1:]]
    assert [e.value for e in events.Scalars("loss/train")] == pytest.approx([float(m[1]) for m in metrics], rel=1e-5)


def test_tensorboard_can_be_turned_off_and_does_not_change_training(moons_project):
    with_files = train(moons_project)
    without = train(moons_project, tensorboard=False)
    assert (with_files.out_dir / "tensorboard").is_dir() and not (without.out_dir / "tensorboard").exists()
    assert [row["val_loss"] for row in with_files.history] == [row["val_loss"] for row in without.history]


def test_a_running_run_whose_process_ends_is_unfinished_through_the_index(history, monkeypatch):
    from engine.history import folders

    project, first, _ = history
    record = json.loads((first / "run.json").read_text())
    (first / "run.json").write_text(json.dumps({**record, "status": "running"}))
    monkeypatch.setattr(folders, "_alive", lambda record: True)
    assert {run.id: run.status for run in runs_of(project.path)}[first.name] == "running"
    monkeypatch.setattr(folders, "_alive", lambda record: False)  # the process ended; no file changed
    assert {run.id: run.status for run in runs_of(project.path)}[first.name] == "unfinished"


def test_a_cross_validation_folder_without_its_own_project_is_one_run(history, capsys):
    project, first, second = history
    cv = first.parent / f"{project.path.stem}-20200101-120000"
    for fold in (1, 2):
        shutil.copytree(first, cv / f"fold-{fold}")
    (cv / "folds.json").write_text(json.dumps({"k": 2}))
    runs = {run.id: run for run in runs_of(project.path)}
    assert runs[cv.name].status == "unrecorded" and runs[cv.name].damaged is None
    assert [fold["epochs"] for fold in runs[cv.name].folds] == [2, 2]
    assert main.main(["runs", str(project.path)]) == 0
    assert "2 folds, mean " in capsys.readouterr().out
    assert compare_runs(cv, second).graph.changed  # its first fold's project stands for it


def test_a_record_that_cannot_be_written_never_fails_the_run(moons_project, monkeypatch):
    import errno

    from engine.history import record

    def full(folder, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(record, "write_record", full)
    result = train(moons_project)
    assert result.status == "finished" and result.weights.exists()
    assert result.message.startswith("finished 2 epochs; its record run.json could not be written (")
    assert "No space left on device" in result.message
    assert not (result.out_dir / "run.json").exists()
