"""`train --folds K` and `train --init-from W` on the command line."""

from __future__ import annotations

import json

import main
from tests.engine.finetune_projects import cnn_data


def write_project(tmp_path, **options):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(cnn_data(**options)))
    return path


def train(capsys, *args):
    code = main.main(["train", *map(str, args), "--threads", "1"])
    out, err = capsys.readouterr()
    return code, out, err


def test_folds_print_each_fold_and_the_mean_and_deviation(tmp_path, capsys):
    project = write_project(tmp_path, classes=3, epochs=1)
    code, out, err = train(capsys, project, "--folds", "2", "--out", tmp_path / "cv")
    assert code == 0, err
    record = json.loads((tmp_path / "cv" / "folds.json").read_text())
    for row in record["per_fold"]:
        assert f"fold {row['fold']}: epoch 1  val_loss {row['val_loss']:.4g}  val_accuracy " \
               f"{row['val_accuracy']:.2%}" in out
    mean, std = record["mean"]["val_accuracy"], record["std"]["val_accuracy"]
    assert f"val_accuracy {mean:.2%} ± {std:.2%} (mean ± standard deviation of 2 folds)" in out
    assert (tmp_path / "cv" / "fold-2" / "metrics.csv").is_file()


def test_folds_one_is_refused_with_exit_2(tmp_path, capsys):
    code, _, err = train(capsys, write_project(tmp_path), "--folds", "1")
    assert code == 2 and "'folds' must be a whole number from 2" in err


def test_init_from_reports_what_it_kept_random(tmp_path, capsys):
    code, _, err = train(capsys, write_project(tmp_path, epochs=1), "--out", tmp_path / "a")
    assert code == 0, err
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    project = tuned / "p.json"
    project.write_text(json.dumps(cnn_data(classes=5, epochs=1)))
    code, out, err = train(capsys, project, "--init-from", tmp_path / "a" / "weights.safetensors", "--out",
                           tmp_path / "b")
    assert code == 0, err
    assert "note: initial weights from" in out and "loaded 7 of 9 tensors" in out
    assert "note: fc.weight: [5, 256] here, [10, 256] in the file: kept random" in out
    assert json.loads((tmp_path / "b" / "init.json").read_text())["loaded"][0] == "conv1.weight"


def test_init_from_another_model_exits_2_naming_the_file(tmp_path, capsys):
    other = tmp_path / "other.json"
    other.write_text(json.dumps(cnn_data(head="classifier", epochs=1) | {"nodes": [
        {"id": "x", "type": "Input", "params": {"shape": [1, 8, 8]}}, {"id": "flat", "type": "Flatten"},
        {"id": "dense", "type": "Linear", "params": {"out_features": 10}}, {"id": "y", "type": "Target"},
        {"id": "loss", "type": "CrossEntropyLoss"}], "edges": [
        {"source": "x", "target": "flat"}, {"source": "flat", "target": "dense"},
        {"source": "dense", "target": "loss", "target_port": "input"},
        {"source": "y", "target": "loss", "target_port": "target"}]}))
    assert train(capsys, other, "--out", tmp_path / "o")[0] == 0
    code, _, err = train(capsys, write_project(tmp_path), "--init-from", tmp_path / "o" / "weights.safetensors")
    assert code == 2
    assert "no weight in" in err and "weights.safetensors' fits this model" in err
