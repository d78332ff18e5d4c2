"""The `.py` export predicts from files as `predict` does: the same preprocessing, the same answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import main
from engine.data import tabular
from tests.engine.predict_fixtures import cnn_project, image_folder, mlp_project, train


def predict_lines(capsys, project, weights, *inputs) -> list[str]:
    assert main.main(["predict", str(project), "--weights", str(weights), *map(str, inputs)]) == 0
    return capsys.readouterr().out.splitlines()


def exported(capsys, project, weights, target: Path) -> list[str]:
    assert main.main(["export", str(project), "--weights", str(weights), "--python", str(target)]) == 0
    return capsys.readouterr().out.splitlines()


def run_file(code: Path, *inputs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(code), *map(str, inputs)], capture_output=True, text=True,
                          cwd=code.parent, timeout=120)


def test_the_exported_file_names_images_as_predict_does(tmp_path, capsys):
    folder = image_folder(tmp_path)
    project = cnn_project(tmp_path, {"name": "image_folder", "path": "imgs", "size": [6, 6], "mean": [0.4, 0.5, 0.6],
                                     "std": [0.2, 0.25, 0.3]})  # resized from 8x8, scaled per channel
    weights = train(project, tmp_path / "run")
    (tmp_path / "export").mkdir()
    out = exported(capsys, project, weights, tmp_path / "export" / "model.py")
    assert out[2] == ("it predicts from image files, prepared as the run prepared its data: "
                      f"python {tmp_path / 'export' / 'model.py'} INPUT...")
    inputs = [folder / "red" / "3.png", folder / "blue"]
    result = run_file(tmp_path / "export" / "model.py", *inputs)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == predict_lines(capsys, project, weights, *inputs)
    assert len(result.stdout.splitlines()) == 11


def test_the_exported_file_gives_a_regressions_values_from_csv_rows(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, (60, 2))
    (tmp_path / "data.csv").write_text("a,b,y\n" + "".join(f"{p:.4f},{q:.4f},{p - q:.4f}\n" for p, q in x))
    project = mlp_project(tmp_path, {"name": "csv", "path": "data.csv", "target": "y", "task": "regression"}, 1,
                          loss="MSELoss")
    weights = train(project, tmp_path / "run")
    (tmp_path / "export").mkdir()
    exported(capsys, project, weights, tmp_path / "export" / "model.py")
    rows = tmp_path / "new.csv"
    rows.write_text("a,b,y\n1.5,0.25,0\n-1,2,0\n")  # with the target column, which is left out
    result = run_file(tmp_path / "export" / "model.py", rows)
    assert result.returncode == 0, result.stderr
    expected = predict_lines(capsys, project, weights, rows)
    assert result.stdout.splitlines() == expected and len(expected) == 2


@pytest.mark.skipif(not hasattr(tabular, "prepare_rows"), reason="engine.data.tabular.prepare_rows (issue 14's "
                    "table source) is not in this tree yet")
def test_the_exported_file_applies_the_fitted_column_transforms(tmp_path, capsys):
    lines = ["plan,age,city,bought"]
    rng = np.random.default_rng(2)
    for i in range(80):
        plan = ["basic", "pro", "team"][i % 3]
        age = "" if i % 7 == 0 else str(int(rng.integers(18, 70)))
        lines.append(f"{plan},{age},c{i % 20},{'yes' if plan == 'pro' or i % 5 == 0 else 'no'}")
    (tmp_path / "customers.csv").write_text("\n".join(lines) + "\n")
    dataset = {"name": "csv", "path": "customers.csv", "target": "bought"}
    project = mlp_project(tmp_path, dataset, 2)
    weights = train(project, tmp_path / "run")
    assert json.loads(__import__("engine.training.checkpoint", fromlist=["x"]).read_metadata(weights)
                      ["preprocessing"])["kind"] == "table"
    (tmp_path / "export").mkdir()
    exported(capsys, project, weights, tmp_path / "export" / "model.py")
    rows = tmp_path / "new.csv"
    rows.write_text("plan,age,city\npro,33,c1\nbasic,,c99\nenterprise,NA,c5\n")  # a level never seen, missing cells
    result = run_file(tmp_path / "export" / "model.py", rows)
    assert result.returncode == 0, result.stderr
    expected = predict_lines(capsys, project, weights, rows)
    assert result.stdout.splitlines() == expected and len(expected) == 3


def test_without_trained_weights_the_file_stays_a_model_and_a_demo(tmp_path, capsys):
    project = cnn_project(tmp_path, {"name": "digits"}, classes=10)
    data = json.loads(project.read_text())
    data["nodes"][0]["params"] = {"shape": [1, 8, 8]}
    data["nodes"][4]["params"] = {"shape": [], "dtype": "int64"}
    project.write_text(json.dumps(data))
    assert main.main(["export", str(project), "--python", str(tmp_path / "model.py")]) == 0
    out = capsys.readouterr().out
    assert "it predicts from" not in out
    assert "def predict(" not in (tmp_path / "model.py").read_text()


def _text_source_present() -> bool:
    try:
        from engine.data.text import encode_texts  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _text_source_present(), reason="engine.data.text.encode_texts (issue 14's text source) is "
                    "not in this tree yet")
def test_the_exported_file_tokenizes_texts_with_the_runs_tokenizer(tmp_path, capsys):
    from tokenizers import Tokenizer, models, pre_tokenizers

    from engine.export import prepare_model
    from engine.weights import save_weights
    from graphs.project import load_project

    vocabulary = {"[PAD]": 0, "[UNK]": 1, "good": 2, "bad": 3, "film": 4, "very": 5}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    preprocessing = {"kind": "text", "tokenizer": tokenizer.to_str(), "tokenizer_type": "word", "max_length": 4,
                     "pad_id": 0, "vocab_size": len(vocabulary)}
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [4], "dtype": "int64"}},
             {"id": "emb", "type": "Embedding", "params": {"num_embeddings": 6, "embedding_dim": 3}},
             {"id": "flat", "type": "Flatten"}, {"id": "fc", "type": "Linear", "params": {"out_features": 2}},
             {"id": "y", "type": "Target", "params": {"shape": [], "dtype": "int64"}},
             {"id": "loss", "type": "CrossEntropyLoss"}]
    edges = [{"source": a, "target": b} for a, b in (("x", "emb"), ("emb", "flat"), ("flat", "fc"))]
    edges += [{"source": "fc", "target": "loss", "target_port": "input"},
              {"source": "y", "target": "loss", "target_port": "target"}]
    project = tmp_path / "sentiment.json"
    project.write_text(json.dumps({"format": "neurocanvas", "version": 1, "name": "s", "nodes": nodes,
                                   "edges": edges, "training": {"dataset": {"name": "moons"}}}))
    weights = save_weights(prepare_model(load_project(project).graph, seed=3).model, tmp_path / "w.safetensors",
                           {"metric": "val_accuracy", "preprocessing": json.dumps(preprocessing),
                            "class_names": json.dumps(["negative", "positive"])})
    (tmp_path / "export").mkdir()
    exported(capsys, project, weights, tmp_path / "export" / "model.py")
    assert (tmp_path / "export" / "model.tokenizer.json").is_file()
    texts = tmp_path / "reviews.txt"
    texts.write_text("a very good film\nbad\n\nvery very bad film indeed\n", encoding="utf-8")
    result = run_file(tmp_path / "export" / "model.py", texts)
    assert result.returncode == 0, result.stderr
    assert main.main(["predict", str(project), "--weights", str(weights), "--text-file", str(texts)]) == 0
    expected = capsys.readouterr().out.splitlines()
    assert result.stdout.splitlines() == expected and len(expected) == 3
