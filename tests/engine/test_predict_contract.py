"""predict calls the data sources' preparing functions (issue 14's contract) with the weights' preprocessing.

The sources (text, audio, table, images) are written in parallel; these tests stand in small fakes
for them, so what is checked here is predict's side: which function it calls, with what, and how
it names inputs and results.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import torch

import main
from engine.data import images
from engine.export import prepare_model
from engine.weights import save_weights
from graphs.project import load_project

TEXT = {"kind": "text", "tokenizer": "{}", "max_length": 4, "pad_id": 0}


def write_model(tmp_path: Path, input_params: dict, middle: list[dict], preprocessing: dict,
                class_names=("neg", "pos")) -> tuple[Path, Path]:
    """A project Input -> middle... -> Linear(classes) -> CrossEntropyLoss, and weights with this metadata."""
    nodes = [{"id": "x", "type": "Input", "params": input_params}, *middle,
             {"id": "fc", "type": "Linear", "params": {"out_features": len(class_names)}},
             {"id": "y", "type": "Target", "params": {"shape": [], "dtype": "int64"}},
             {"id": "loss", "type": "CrossEntropyLoss"}]
    chain = ["x", *(n["id"] for n in middle), "fc"]
    edges = [{"source": a, "target": b} for a, b in zip(chain, chain[1:])]
    edges += [{"source": "fc", "target": "loss", "target_port": "input"},
              {"source": "y", "target": "loss", "target_port": "target"}]
    project = tmp_path / "project.json"
    project.write_text(json.dumps({"format": "neurocanvas", "version": 1, "name": "c", "nodes": nodes, "edges": edges,
                                   "training": {"dataset": {"name": "moons"}}}))
    compiled = prepare_model(load_project(project).graph, seed=1)
    weights = save_weights(compiled.model, tmp_path / "weights.safetensors",
                           {"preprocessing": json.dumps(preprocessing), "class_names": json.dumps(list(class_names))})
    return project, weights


def fake_source(monkeypatch, module: str, function: str, make):
    """Install `module.function` (a fake of the contract) recording its calls; returns the list of calls."""
    calls = []

    def prepare(preprocessing, raw):
        calls.append((preprocessing, list(raw)))
        return make(raw)

    fake = types.ModuleType(module)
    setattr(fake, function, prepare)
    monkeypatch.setitem(sys.modules, module, fake)
    return calls


@pytest.fixture
def text_model(tmp_path):
    return write_model(tmp_path, {"shape": [4], "dtype": "int64"},
                       [{"id": "emb", "type": "Embedding", "params": {"num_embeddings": 10, "embedding_dim": 3}},
                        {"id": "flat", "type": "Flatten"}], TEXT)


def run(capsys, *args):
    status = main.main(["predict", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_texts_are_encoded_by_the_text_source_with_the_runs_tokenizer(text_model, tmp_path, monkeypatch, capsys):
    project, weights = text_model
    calls = fake_source(monkeypatch, "engine.data.text", "encode_texts",
                        lambda texts: torch.tensor([[len(t) % 10, 1, 0, 0] for t in texts]))
    texts = tmp_path / "reviews.txt"
    texts.write_text("a great film\n\nawful\n", encoding="utf-8")
    status, lines, err = run(capsys, project, "--weights", weights, "--text-file", texts, "--json", "--top-k", "1")
    assert status == 0, err
    assert calls == [(TEXT, ["a great film", "awful"])]  # the weights' record, and the texts in order (blank left out)
    answers = [json.loads(line) for line in lines]
    assert [a["input"] for a in answers] == [f"{texts} line 1", f"{texts} line 3"]
    assert all(a["label"] in ("neg", "pos") and len(a["top_k"]) == 1 for a in answers)


def test_a_text_model_refuses_files_and_asks_for_a_text_file(text_model, tmp_path, capsys):
    project, weights = text_model
    picture = tmp_path / "cat.png"
    picture.write_bytes(b"")
    status, _, err = run(capsys, project, "--weights", weights, picture)
    assert status == 2 and err == (f"neurocanvas predict: error: this model takes text (a file with one text a line, "
                                   f"given with --text-file), but was given '{picture}'; put the texts in a file, "
                                   "one a line, and give it with --text-file\n")


def test_a_missing_source_is_said_plainly(text_model, tmp_path, monkeypatch, capsys):
    project, weights = text_model
    monkeypatch.setitem(sys.modules, "engine.data.text", types.ModuleType("engine.data.text"))
    texts = tmp_path / "t.txt"
    texts.write_text("hello\n")
    status, _, err = run(capsys, project, "--weights", weights, "--text-file", texts)
    assert status == 2 and "cannot prepare text inputs: engine.data.text.encode_texts is missing" in err


def test_an_error_of_the_source_names_the_input_and_the_rest_go_on(text_model, tmp_path, monkeypatch, capsys):
    project, weights = text_model
    from engine.errors import UserError

    def encode(preprocessing, texts):
        if any("\ufffd" in t for t in texts):
            raise UserError("a text holds a replacement character")
        return torch.zeros(len(texts), 4, dtype=torch.int64)

    fake = types.ModuleType("engine.data.text")
    fake.encode_texts = encode
    monkeypatch.setitem(sys.modules, "engine.data.text", fake)
    texts = tmp_path / "t.txt"
    texts.write_text("good\nbad \ufffd\nfine\n")
    status, lines, err = run(capsys, project, "--weights", weights, "--text-file", texts)
    assert status == 2 and len(lines) == 2
    assert err.splitlines()[0] == f"neurocanvas predict: error: {texts} line 2: a text holds a replacement character"


def test_sounds_go_to_the_audio_source(tmp_path, monkeypatch, capsys):
    preprocessing = {"kind": "audio", "sample_rate": 8000, "duration": 0.5, "features": "log_mel", "n_mels": 4}
    project, weights = write_model(tmp_path, {"shape": [1, 4, 5]}, [{"id": "flat", "type": "Flatten"}],
                                   preprocessing, class_names=("yes", "no", "up"))
    calls = fake_source(monkeypatch, "engine.data.audio", "prepare_audio_files", lambda paths: torch.ones(len(paths), 1, 4, 5))
    (tmp_path / "sounds").mkdir()
    for name in ("b.wav", "a.WAV", "notes.txt"):
        (tmp_path / "sounds" / name).write_bytes(b"")
    status, lines, err = run(capsys, project, "--weights", weights, tmp_path / "sounds", "--top-k", "3")
    assert status == 0, err
    assert calls == [(preprocessing, [tmp_path / "sounds" / "a.WAV", tmp_path / "sounds" / "b.wav"])]
    assert len(lines) == 2 and lines[0].startswith(f"{tmp_path / 'sounds' / 'a.WAV'}: ")
    status, _, err = run(capsys, project, "--weights", weights, tmp_path / "sounds" / "notes.txt")
    assert status == 2 and "is a .txt file, but this model takes sounds (WAV files, or folders of them)" in err


def test_rows_go_to_the_table_source_as_csv_dict_reader_gives_them(tmp_path, monkeypatch, capsys):
    preprocessing = {"kind": "table", "columns": [{"name": "plan", "transform": "one_hot"}]}
    project, weights = write_model(tmp_path, {"shape": [3]}, [], preprocessing)
    calls = fake_source(monkeypatch, "engine.data.tabular", "prepare_rows", lambda rows: torch.zeros(len(rows), 3))
    rows = tmp_path / "customers.csv"
    rows.write_text('plan,age,note\npro,41,"two\nlines"\nbasic,,x\n', encoding="utf-8")
    status, lines, err = run(capsys, project, "--weights", weights, rows, "--json")
    assert status == 0, err
    assert calls == [(preprocessing, [{"plan": "pro", "age": "41", "note": "two\nlines"},
                                      {"plan": "basic", "age": "", "note": "x"}])]
    assert [json.loads(line)["input"] for line in lines] == [f"{rows} line 2", f"{rows} line 4"]


def test_images_with_a_preprocessing_record_go_to_the_image_source(tmp_path, monkeypatch, capsys):
    preprocessing = {"kind": "images", "size": [4, 4], "channels": 1}
    project, weights = write_model(tmp_path, {"shape": [1, 4, 4]}, [{"id": "flat", "type": "Flatten"}], preprocessing)
    calls = []

    def prepare_image_files(record, paths):
        calls.append((record, list(paths)))
        return torch.zeros(len(paths), 1, 4, 4)

    monkeypatch.setattr(images, "prepare_image_files", prepare_image_files, raising=False)
    picture = tmp_path / "x.png"
    picture.write_bytes(b"")  # never opened by predict itself
    status, lines, err = run(capsys, project, "--weights", weights, picture)
    assert status == 0, err
    assert calls == [(preprocessing, [picture])]
    assert lines[0].startswith(f"{picture}: ")


def test_prepared_inputs_of_the_wrong_size_are_refused(tmp_path, monkeypatch, capsys):
    project, weights = write_model(tmp_path, {"shape": [3]}, [], {"kind": "table"})
    fake_source(monkeypatch, "engine.data.tabular", "prepare_rows", lambda rows: torch.zeros(len(rows), 5))
    rows = tmp_path / "r.csv"
    rows.write_text("a\n1\n")
    status, _, err = run(capsys, project, "--weights", weights, rows)
    assert status == 2
    assert "Input 'x' takes [3] per sample, but the prepared inputs are [5]; were the weights trained on other data?" in err


def test_damaged_metadata_is_a_clear_error(tmp_path, capsys):
    project, _ = write_model(tmp_path, {"shape": [3]}, [], {"kind": "table"})
    compiled = prepare_model(load_project(project).graph, seed=1)
    weights = save_weights(compiled.model, tmp_path / "odd.safetensors", {"preprocessing": "{not json"})
    rows = tmp_path / "r.csv"
    rows.write_text("a,b,c\n1,2,3\n")
    status, _, err = run(capsys, project, "--weights", weights, rows)
    assert status == 2 and "has damaged 'preprocessing' metadata (not JSON)" in err


def test_typed_inputs_become_one_input_of_the_models_kind(text_model, tmp_path, monkeypatch):
    from engine.errors import UserError
    from engine.predict import Predictor, row_columns, typed_input

    project, weights = text_model
    calls = fake_source(monkeypatch, "engine.data.text", "encode_texts", lambda texts: torch.zeros(len(texts), 4,
                                                                                                     dtype=torch.int64))
    predictor = Predictor.load(load_project(project), weights)
    (answer,) = predictor.predict(typed_input(predictor, "what a film"))
    assert answer.name == "the typed text" and answer.label in ("neg", "pos") and calls[-1][1] == ["what a film"]
    with pytest.raises(UserError, match="type a text to predict"):
        typed_input(predictor, "   ")

    preprocessing = {"kind": "table", "columns": [{"name": "plan"}, {"name": "age"}]}
    table_dir = tmp_path / "table"
    table_dir.mkdir()
    project, weights = write_model(table_dir, {"shape": [3]}, [], preprocessing)
    rows = fake_source(monkeypatch, "engine.data.tabular", "prepare_rows", lambda given: torch.zeros(len(given), 3))
    predictor = Predictor.load(load_project(project), weights)
    assert row_columns(predictor) == ["plan", "age"]
    predictor.predict(typed_input(predictor, 'pro,"41"'))
    assert rows[-1][1] == [{"plan": "pro", "age": "41"}]
    with pytest.raises(UserError, match=r"the row has 1 values, but this model takes 2: 'plan', 'age'"):
        typed_input(predictor, "pro")
