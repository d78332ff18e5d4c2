"""`train PROJECT`: the run folder, exit codes and messages (never a traceback)."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import main
from engine.cli import train as train_command
from engine.cli.train import ProgressPrinter
from engine.training import BatchProgress, EpochEnd, RunStarted

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
                                                  "best.safetensors", "last.safetensors"}
    rows = list(csv.DictReader(io.StringIO((out_dir / "metrics.csv").read_text())))
    assert list(rows[0]) == ["epoch", "train_loss", "val_loss", "val_accuracy", "lr", "seconds"]
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(float(r["train_loss"]) > 0 for r in rows)
    lines = out.splitlines()
    assert any(line.startswith("epoch 1/2  train_loss ") for line in lines)
    assert any(line.startswith("epoch 2/2  train_loss ") for line in lines)
    assert "finished 2 epochs" in out and f"weights: {out_dir / 'weights.safetensors'} (the last epoch)" in out
    assert "\r" not in out  # no progress bar when the output is not a terminal


def test_regression_metrics_have_mae(sine_project, tmp_path, capsys):
    code, _, _ = train(capsys, sine_project.path, "--epochs", 1, "--out", tmp_path / "o", "--quiet")
    header = (tmp_path / "o" / "metrics.csv").read_text().splitlines()[0]
    assert code == 0 and header == "epoch,train_loss,val_loss,val_mae,lr,seconds"


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


def test_bad_input_in_a_subprocess_prints_one_line_and_no_traceback(write_project, tmp_path):
    (tmp_path / "data.csv").write_text("age,label\n1,a\n,b\n")
    project = write_project({"name": "csv", "path": "data.csv"})
    run = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", str(project.path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == "neurocanvas train: error: data.csv line 3, column 'age' is empty; fill in the missing " \
                         "value or remove the row\n"


def test_progress_bar_updates_in_place_on_a_terminal(tmp_path):
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=True)
    printer(RunStarted(2, 10, 100, 20, "cpu", "val_accuracy", tmp_path, "moons: ...", ("a note",)))
    printer(BatchProgress(1, 5, 10, 5, 20, [0.5, 0.7], 1234.0, 3.0))
    printer(EpochEnd(1, {"epoch": 1, "train_loss": 0.6, "val_loss": 0.5, "val_accuracy": 0.875, "lr": 0.01,
                         "samples_per_sec": 1000.0, "seconds": 0.25}, True))
    text = stream.getvalue()
    assert "note: a note" in text
    assert "\repoch 1/2 [############............] 5/10  loss 0.6  1,234 samples/s  ETA 0:03" in text
    assert "\r\x1b[Kepoch 1/2  train_loss 0.6  val_loss 0.5  val_accuracy 87.50%  lr 0.01  0.25 s  *\n" in text


def test_a_trained_run_folder_exports(moons_project, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(capsys, moons_project.path, "--epochs", 1, "--out", out, "--quiet")[0] == 0
    code = main.main(["export", str(out / "project.json"), "--weights", str(out / "weights.safetensors"),
                      "--onnx", str(tmp_path / "model.onnx")])
    assert code == 0 and (tmp_path / "model.onnx").stat().st_size > 0, capsys.readouterr().err
