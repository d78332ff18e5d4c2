"""`train PROJECT`: the run folder, exit codes and messages (never a traceback)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

import main
from engine.cli import train as train_command
from engine.cli.train import LOG_EVERY_SECONDS, ProgressPrinter
from engine.training import BatchProgress, EpochEnd, EpochMetrics, RunStarted, read_metadata

ROOT = Path(__file__).resolve().parents[2]


def train(capsys, *args):
    code = main.main(["train", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_writes_metrics_weights_and_project(moons_project, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = train(capsys, moons_project.path, "--epochs", 2, "--device", "cpu", "--out", out_dir)
    assert code == 0 and err == ""
    assert {p.name for p in out_dir.iterdir()} == {"metrics.csv", "weights.safetensors", "project.json",
                                                  "best.safetensors", "last.safetensors",
                                                  "run.json", "tensorboard", "report.json"}
    rows = list(csv.DictReader(io.StringIO((out_dir / "metrics.csv").read_text())))
    assert list(rows[0]) == ["epoch", "train_loss", "val_loss", "val_accuracy", "lr", "seconds", "threads"]
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(float(r["train_loss"]) > 0 for r in rows)
    lines = out.splitlines()
    assert any(line.startswith("epoch 1/2  train_loss ") for line in lines)
    assert any(line.startswith("epoch 2/2  train_loss ") for line in lines)
    assert "finished 2 epochs" in out and f"weights: {out_dir / 'weights.safetensors'} (the last epoch)" in out
    assert "\r" not in out  # no progress bar when the output is not a terminal


def test_regression_metrics_have_mae(sine_project, tmp_path, capsys):
    code, _, _ = train(capsys, sine_project.path, "--epochs", 1, "--out", tmp_path / "o", "--quiet")
    header = (tmp_path / "o" / "metrics.csv").read_text().splitlines()[0]
    assert code == 0 and header == "epoch,train_loss,val_loss,val_mae,lr,seconds,threads"


def test_val_split_0_trains_on_all_data_and_prints_no_validation(write_project, tmp_path, capsys):
    project = write_project({"name": "moons", "n_samples": 160}, val_split=0)
    code, out, err = train(capsys, project.path, "--epochs", 2, "--out", tmp_path / "o")
    assert code == 0 and err == ""
    assert ("note: no validation data (val_split 0): training on all 160 samples; the best checkpoint and early "
            "stopping follow the training loss\n") in out
    assert "val_loss" not in out and "val_accuracy" not in out
    assert re.search(r"^best epoch [12]: train_loss [0-9.]+ \(no validation\)$", out, re.MULTILINE), out


def test_quiet_prints_nothing(moons_project, tmp_path, capsys):
    code, out, err = train(capsys, moons_project.path, "--epochs", 1, "--out", tmp_path / "o", "--quiet")
    assert (code, out, err) == (0, "", "")


def test_threads_option_sets_torch_threads(moons_project, tmp_path, capsys):
    before = torch.get_num_threads()
    try:
        code, _, _ = train(capsys, moons_project.path, "--epochs", 1, "--out", tmp_path / "o", "--quiet",
                           "--threads", 1)
        assert code == 0 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_threads_beyond_the_cores_are_bounded_with_a_note(moons_project, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    before = torch.get_num_threads()
    try:
        code, out, _ = train(capsys, moons_project.path, "--epochs", 1, "--out", tmp_path / "o", "--threads", 100000)
        assert code == 0 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert "note: 100000 threads asked for, but this process may use 2 cores; using 2\n" in out


@pytest.mark.parametrize("cores, omp, expected", [(1, None, "auto"), (16, None, "auto"), (16, "4", None)])
def test_default_threads_are_tuned_unless_omp_num_threads_is_set(cores, omp, expected, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)))
    if omp is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert train_command._threads(None) == expected
    assert train_command._threads(3) == 3


def test_a_missing_project_exits_2(tmp_path, capsys):
    code, out, err = train(capsys, tmp_path / "nope.json")
    assert code == 2 and out == "" and err.startswith("neurocanvas train: error: ") and "nope.json" in err


def test_an_invalid_graph_exits_2_listing_node_errors(write_project, capsys, tmp_path):
    project = write_project({"name": "moons"})
    data = project.to_dict()
    data["edges"] = [e for e in data["edges"] if e["target"] != "loss"]
    project.path.write_text(json.dumps(data))
    code, _, err = train(capsys, project.path, "--out", tmp_path / "o")
    assert code == 2 and "the graph has" in err and "node 'loss'" in err and "Traceback" not in err


def test_a_missing_data_file_exits_2(write_project, capsys, tmp_path):
    project = write_project({"name": "csv", "path": "gone.csv"})
    code, _, err = train(capsys, project.path, "--out", tmp_path / "o")
    assert code == 2 and "data file 'gone.csv' not found" in err


def test_a_bad_csv_exits_2_naming_line_and_column(write_project, capsys, tmp_path):
    (tmp_path / "data.csv").write_text("age,label\n1,a\n2,b\nabc,a\n")
    project = write_project({"name": "csv", "path": "data.csv"})
    code, _, err = train(capsys, project.path, "--out", tmp_path / "o")
    assert code == 2
    assert err == "neurocanvas train: error: data.csv line 4, column 'age': 'abc' is not a number\n"


def test_a_failed_run_exits_1_with_its_message(write_project, capsys, tmp_path):
    project = write_project({"name": "sine", "n_samples": 160}, classes=None, loss="MSELoss",
                            optimizer={"type": "SGD", "lr": 1e6})
    code, _, err = train(capsys, project.path, "--out", tmp_path / "o", "--quiet")
    assert code == 1 and err.startswith("neurocanvas train: failed: loss became ")
    assert "lower learning rate" in err


def test_bad_epochs_is_a_usage_error(moons_project, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main.main(["train", str(moons_project.path), "--epochs", "0"])
    assert exit_info.value.code == 2 and "must be at least 1" in capsys.readouterr().err


def test_ctrl_c_stops_after_the_batch_and_keeps_the_weights(moons_project, tmp_path, capsys, monkeypatch):
    real_call = ProgressPrinter.__call__

    def interrupting(self, event):
        real_call(self, event)
        if isinstance(event, EpochEnd):
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(ProgressPrinter, "__call__", interrupting)
    code, out, _ = train(capsys, moons_project.path, "--epochs", 50, "--out", tmp_path / "o")
    assert code == train_command.EXIT_INTERRUPTED and "stopped by request at epoch 2, batch 0" in out
    assert (tmp_path / "o" / "weights.safetensors").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, train_command.EXIT_TERMINATED),
                                          (signal.SIGINT, train_command.EXIT_INTERRUPTED)])
def test_a_signal_mid_run_stops_it_with_final_weights_and_a_complete_run_folder(moons_project, tmp_path, signum,
                                                                                code):
    """SIGTERM is how SLURM stops a job: the run stops after its batch and writes its final weights."""
    out_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "train", str(moons_project.path),
                                "--epochs", "100000", "--out", str(out_dir), "--threads", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    hung = threading.Timer(240, process.kill)  # a run that never reaches epoch 1 fails instead of hanging
    hung.start()
    try:
        for line in process.stdout:  # mid-run: after the first epoch's line
            if line.split()[:2] == ["epoch", "1/100000"]:
                break
        process.send_signal(signum)
        out, err = process.communicate(timeout=120)
    finally:
        hung.cancel()
        process.kill()
    assert process.returncode == code, err
    assert err == "" and "stopped by request at epoch " in out
    assert {p.name for p in out_dir.iterdir()} == {"metrics.csv", "weights.safetensors", "project.json",
                                                  "best.safetensors", "last.safetensors",
                                                  "run.json", "tensorboard", "report.json"}
    assert "(stopped after batch " in read_metadata(out_dir / "weights.safetensors")["epoch"]
    assert len((out_dir / "metrics.csv").read_text().splitlines()) >= 2  # the header and epoch 1


def test_bad_input_in_a_subprocess_prints_one_line_and_no_traceback(write_project, tmp_path):
    (tmp_path / "data.csv").write_text("age,label\n1,a\n2,\n")
    project = write_project({"name": "csv", "path": "data.csv"})
    run = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", str(project.path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 2 and run.stdout == "loading data: csv from 'data.csv'\n"
    assert run.stderr == "neurocanvas train: error: data.csv line 3, column 'label' is empty; fill in the missing " \
                         "value or remove the row\n"


def test_progress_bar_updates_in_place_on_a_terminal(tmp_path):
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=True)
    printer(RunStarted(2, 10, 100, 20, "cpu", "val_accuracy", tmp_path, "moons: ...", ("a note",)))
    printer(BatchProgress(1, 5, 10, 5, 20, [0.5, 0.7], 1234.0, 3.0))
    printer(EpochEnd(1, EpochMetrics(1, 0.6, 0.5, "val_accuracy", 0.875, 0.01, 1000.0, 0.25), True))
    text = stream.getvalue()
    assert "note: a note" in text
    assert "\repoch 1/2 [############............] 5/10  loss 0.6  1,234 samples/s  ETA 0:03" in text
    assert "\r\x1b[Kepoch 1/2  train_loss 0.6  val_loss 0.5  val_accuracy 87.50%  lr 0.01  0.25 s  *\n" in text


def test_a_log_gets_a_progress_line_every_ten_seconds_inside_an_epoch(tmp_path):
    """Not on a terminal there is no bar: a plain line every LOG_EVERY_SECONDS instead, and none at an
    epoch's end (the epoch's own line follows)."""
    stream, now = io.StringIO(), [0.0]
    printer = ProgressPrinter(stream, tty=False, clock=lambda: now[0])
    printer.loading({"name": "csv", "path": "data\n.csv"})
    now[0] = 2.5
    printer.loaded(2.5)
    printer(RunStarted(2, 100, 1600, 400, "cpu", "val_accuracy", tmp_path, "csv: ...", ()))
    for batch, seconds in [(10, 4.0), (20, 12.6), (30, 13.0), (60, 23.0), (100, 40.0)]:
        now[0] = seconds
        printer(BatchProgress(1, batch, 100, batch, 200, [float(batch)], 500.0, 65.0))
    assert stream.getvalue().splitlines() == [
        "loading data: csv from 'data\\n.csv'", "data loaded and model built in 2.50 s", "training csv: ...",
        f"on cpu, 2 epochs of 100 batches; run folder {tmp_path}",
        "epoch 1/2  batch 20/100  loss 15  500 samples/s  ETA 1:05",
        "epoch 1/2  batch 60/100  loss 45  500 samples/s  ETA 1:05"]
    assert LOG_EVERY_SECONDS == 10


def test_a_run_without_validation_prints_no_validation_figures(tmp_path):
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=False)
    printer(RunStarted(1, 10, 100, 0, "cpu", "val_accuracy", tmp_path, "moons: ...", ()))
    printer(EpochEnd(1, EpochMetrics(1, 0.6, None, "val_accuracy", None, 0.01, 1000.0, 0.25), True))
    assert stream.getvalue().splitlines()[-1] == "epoch 1/1  train_loss 0.6  lr 0.01  0.25 s  *"


def test_a_trained_run_folder_exports(moons_project, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(capsys, moons_project.path, "--epochs", 1, "--out", out, "--quiet")[0] == 0
    code = main.main(["export", str(out / "project.json"), "--weights", str(out / "weights.safetensors"),
                      "--onnx", str(tmp_path / "model.onnx")])
    assert code == 0 and (tmp_path / "model.onnx").stat().st_size > 0, capsys.readouterr().err


def test_an_epoch_line_tells_the_cpu_threads_first_and_when_they_change(tmp_path):
    """`threads="auto"` may move a run to more threads after timing its steps: the line says so once."""
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=False)
    printer(RunStarted(3, 10, 100, 20, "cpu", "val_accuracy", tmp_path, "moons: ...", ()))
    for epoch, threads in [(1, 1), (2, 1), (3, 2)]:
        printer(EpochEnd(epoch, EpochMetrics(epoch, 0.6, 0.5, "val_accuracy", 0.5, 0.01, 1000.0, 0.25, threads), False))
    lines = stream.getvalue().splitlines()[-3:]
    assert [line.rsplit(" s", 1)[1] for line in lines] == ["  1 thread", "", "  2 threads"]
    printer(RunStarted(1, 10, 100, 20, "cuda:0", "val_accuracy", tmp_path, "moons: ...", ()))
    printer(EpochEnd(1, EpochMetrics(1, 0.6, 0.5, "val_accuracy", 0.5, 0.01, 1000.0, 0.25, 4), False))
    assert stream.getvalue().splitlines()[-1].endswith("0.25 s")
