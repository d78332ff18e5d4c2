"""A text dataset's vocabulary size flows into Embedding's num_embeddings as a shape does; too small an
Embedding is an error on that node; a trained run keeps the tokenizer."""

from __future__ import annotations

import json

import pytest

import main as cli
from engine.data import fill_shapes, load_dataset
from engine.data.text import encode_texts
from engine.data_shapes import graph_as_trained, shapeless_data_nodes
from engine.errors import UserError
from engine.shapes import infer
from engine.training import Trainer, read_metadata
from graphs.project import load_project
from tests.engine.test_text_data import reviews, write_csv


def text_project(tmp_path, num_embeddings=None, **dataset):
    """Input -> Embedding -> Mean over time -> Linear -> CrossEntropyLoss <- Target, data from reviews.csv."""
    write_csv(tmp_path / "reviews.csv", reviews(40))
    nodes = [
        {"id": "tokens", "type": "Input", "params": {"dtype": "int64"}},
        {"id": "embed", "type": "Embedding", "params": {"num_embeddings": num_embeddings, "embedding_dim": 8}},
        {"id": "pool", "type": "Mean", "params": {"dim": [1]}},
        {"id": "fc", "type": "Linear", "params": {"out_features": 2}},
        {"id": "y", "type": "Target"},
        {"id": "loss", "type": "CrossEntropyLoss"},
    ]
    edges = [{"source": "tokens", "target": "embed"}, {"source": "embed", "target": "pool"},
             {"source": "pool", "target": "fc"}, {"source": "fc", "target": "loss", "target_port": "input"},
             {"source": "y", "target": "loss", "target_port": "target"}]
    spec = {"name": "text_csv", "path": "reviews.csv", "text": "review", "target": "label", "max_length": 8,
            **dataset}
    training = {"dataset": spec, "val_split": 0.25, "batch_size": 8, "epochs": 2, "seed": 0, "device": "cpu",
                "optimizer": {"type": "Adam", "lr": 0.01}}
    path = tmp_path / "project.json"
    path.write_text(json.dumps({"format": "neurocanvas", "version": 1, "name": "text", "nodes": nodes,
                                "edges": edges, "training": training}))
    return load_project(path)


def test_an_embedding_left_to_the_data_takes_the_vocabulary_size(tmp_path):
    project = text_project(tmp_path)
    assert "embed" in shapeless_data_nodes(project.graph)
    shaped = project.graph.copy()
    shaped.set_params("tokens", {"dtype": "int64", "shape": [8]})
    result = infer(shaped)
    assert any(e.node == "embed" and "num_embeddings is None" in e.message for e in result.errors)
    graph, dataset = graph_as_trained(project.graph, project.training, tmp_path)
    assert graph.node("embed").params["num_embeddings"] == dataset.vocab_size == 12
    assert graph.node("tokens").params == {"dtype": "int64", "shape": [8]}
    assert infer(graph).valid


def test_a_set_num_embeddings_is_kept_and_other_data_fills_nothing(tmp_path):
    project = text_project(tmp_path, num_embeddings=50)
    dataset = load_dataset(project.training["dataset"], tmp_path, 0.25, 0)
    assert fill_shapes(project.graph, dataset).node("embed").params["num_embeddings"] == 50
    moons = load_dataset({"name": "moons", "n_samples": 40})
    assert moons.vocab_size is None
    graph = text_project(tmp_path).graph
    graph.set_params("tokens", {"dtype": "int64", "shape": [8]})
    filled = fill_shapes(graph, moons)
    assert filled.node("embed").params["num_embeddings"] is None


def test_an_embedding_smaller_than_the_vocabulary_is_an_error_on_that_node(tmp_path):
    project = text_project(tmp_path, num_embeddings=5)
    with pytest.raises(UserError, match=r"node 'embed': Embedding has num_embeddings 5, but dataset 'text_csv' "
                                        r"has a vocabulary of 12 tokens.*set num_embeddings to 12 or more"):
        Trainer(project, out_dir=tmp_path / "run").run()
    assert not (tmp_path / "run" / "weights.safetensors").exists()


def test_a_trained_run_keeps_the_tokenizer_and_predictions_tokenize_alike(tmp_path):
    project = text_project(tmp_path)
    result = Trainer(project, out_dir=tmp_path / "run").run()
    assert result.status == "finished"
    stored = json.loads(read_metadata(result.weights)["preprocessing"])
    assert stored["kind"] == "text" and stored["max_length"] == 8 and stored["vocab_size"] == 12
    assert encode_texts(stored, ["the film was good and great"]).tolist() == [
        encode_texts(stored, ["The FILM was good   and great"]).tolist()[0]]  # lowercased, split alike
    from tokenizers import Tokenizer

    written = Tokenizer.from_file(str(tmp_path / "run" / "tokenizer.json"))
    assert written.to_str() == stored["tokenizer"]
    saved = json.loads((tmp_path / "run" / "project.json").read_text())
    assert next(n for n in saved["nodes"] if n["id"] == "embed")["params"]["num_embeddings"] == 12
    assert saved["training"]["dataset"]["path"] == str((tmp_path / "reviews.csv").resolve())  # found from anywhere


def test_check_reports_the_vocabulary_taken_from_the_data(tmp_path, capsys):
    text_project(tmp_path)
    assert cli.main(["check", str(tmp_path / "project.json"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["valid"] and summary["nodes"]["embed"]["params"] == 12 * 8


def test_check_names_an_embedding_smaller_than_the_vocabulary(tmp_path, capsys):
    text_project(tmp_path, num_embeddings=5)
    assert cli.main(["check", str(tmp_path / "project.json"), "--json"]) == 2
    summary = json.loads(capsys.readouterr().out)
    assert not summary["valid"]
    assert [(e["node"], e["message"][:35]) for e in summary["errors"]] == [("embed", "Embedding has num_embeddings 5, but")]
