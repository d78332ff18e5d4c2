"""`predict PROJECT --weights W INPUT...`: answers prepared exactly as training prepared its data, and bad input."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

import main
from engine.data import images, load_dataset
from engine.data.arrays import split_indices
from engine.data.options import Options
from engine.predict import Predictor
from graphs.project import load_project
from tests.engine.predict_fixtures import cnn_project, image_folder, mlp_project, train

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained_cnn(tmp_path_factory):
    """An image-folder CNN trained on blue and red squares: (project, weights, image folder)."""
    root = tmp_path_factory.mktemp("cnn")
    folder = image_folder(root)
    project = cnn_project(root, {"name": "image_folder", "path": "imgs", "size": [8, 8], "mean": [0.5], "std": [0.25]})
    return project, train(project, root / "run"), folder


def predict(capsys, *args) -> tuple[int, list[str], str]:
    status = main.main(["predict", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_images_and_folders_get_their_label_and_top_k(trained_cnn, capsys):
    project, weights, folder = trained_cnn
    status, lines, err = predict(capsys, project, "--weights", weights, folder / "red" / "0.png", folder / "blue",
                                 "--top-k", "2")
    assert status == 0 and err == ""
    assert len(lines) == 1 + 10  # the file, then every image of the folder
    assert lines[0].startswith(f"{folder / 'red' / '0.png'}: red (red ")
    assert all(": blue (blue " in line and ", red " in line for line in lines[1:])


def test_json_gives_one_object_a_line_with_probabilities_that_sum_to_one(trained_cnn, capsys):
    project, weights, folder = trained_cnn
    status, lines, _ = predict(capsys, project, "--weights", weights, folder, "--json", "--top-k", "5")
    answers = [json.loads(line) for line in lines]
    assert status == 0 and len(answers) == 20
    for answer in answers:
        assert answer["label"] == Path(answer["input"]).parent.name
        assert [c["label"] for c in answer["top_k"]][0] == answer["label"] and len(answer["top_k"]) == 2
        assert sum(c["probability"] for c in answer["top_k"]) == pytest.approx(1.0, abs=1e-5)


def test_inputs_are_prepared_exactly_as_training_read_them(trained_cnn):
    project, weights, folder = trained_cnn
    predictor = Predictor.load(load_project(project), weights)
    spec = load_project(project).training["dataset"]
    files = images.scan_image_folder(Options(spec, images.ACCEPTED, project.parent)).files
    data = load_dataset(spec, project.parent, val_split=0.25, seed=0)  # the project's split
    validation = torch.cat([x for x, _ in data.val.batches(100)])
    _, val_index = split_indices(len(files), 0.25, 0)
    assert torch.allclose(predictor.tensor([files[i] for i in val_index]), validation, atol=1e-6)
    batch = next(predictor.batches([folder], batch_size=7))
    assert len(batch) == 7  # batched as asked
    expected = predictor.model(predictor.tensor(files[:7])).softmax(1).max(1).values
    got = torch.tensor([p.top_k[0][1] for p in predictor.predict(batch)])
    assert torch.allclose(got, expected, atol=1e-6)


def test_the_wrong_kind_of_input_is_refused_before_anything_runs(trained_cnn, capsys, tmp_path):
    project, weights, _ = trained_cnn
    sound = tmp_path / "clap.wav"
    with wave.open(str(sound), "wb") as handle:
        handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(8000)
        handle.writeframes(b"\0\0" * 800)
    texts = tmp_path / "texts.txt"
    texts.write_text("hello\n")
    status, lines, err = predict(capsys, project, "--weights", weights, sound)
    assert status == 2 and lines == []
    assert err == (f"neurocanvas predict: error: '{sound}' is a WAV file, but this model takes images (image files, "
                   "or folders of them)\n")
    status, _, err = predict(capsys, project, "--weights", weights, "--text-file", texts)
    assert status == 2 and "--text-file is for models that take text; this model takes images" in err


def test_weights_of_another_graph_name_the_tensors_that_do_not_fit(trained_cnn, capsys):
    _, weights, folder = trained_cnn
    status, lines, err = predict(capsys, ROOT / "resources/examples/digits_cnn.json", "--weights", weights,
                                 folder / "red" / "0.png")
    assert status == 2 and lines == [] and "Traceback" not in err
    assert "do not fit this model: tensor 'conv1.weight' is missing" in err
    assert "tensor 'fc.weight' has shape [2, 144], the model needs [10, 1024]" in err


def test_a_damaged_file_is_named_and_the_others_still_get_answers(trained_cnn, capsys, tmp_path):
    project, weights, folder = trained_cnn
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    status, lines, err = predict(capsys, project, "--weights", weights, folder / "red" / "1.png", damaged,
                                 folder / "blue" / "1.png")
    assert status == 2
    assert [line.split(":")[0] for line in lines] == [str(folder / "red" / "1.png"), str(folder / "blue" / "1.png")]
    message, summary = err.splitlines()
    assert message.startswith("neurocanvas predict: error: cannot read image '") and "damaged.png" in message
    assert message.endswith("damaged.png': not an image Pillow can read, or a damaged one")
    assert summary == "neurocanvas predict: 1 input could not be read"
    status, lines, err = predict(capsys, project, "--weights", weights, damaged, "--json")
    assert status == 2 and json.loads(lines[0])["error"].startswith("cannot read image")


def test_missing_inputs_weights_and_empty_folders_are_clear_errors(trained_cnn, capsys, tmp_path):
    project, weights, _ = trained_cnn
    status, _, err = predict(capsys, project, "--weights", weights, tmp_path / "nothing.png")
    assert status == 2 and err == f"neurocanvas predict: error: input '{tmp_path / 'nothing.png'}' does not exist\n"
    status, _, err = predict(capsys, project, "--weights", tmp_path / "none.safetensors", tmp_path)
    assert status == 2 and "weights file" in err and "does not exist" in err
    (tmp_path / "empty").mkdir()
    status, _, err = predict(capsys, project, "--weights", weights, tmp_path / "empty")
    assert status == 2 and "holds no images" in err
    status, _, err = predict(capsys, project, "--weights", weights)
    assert status == 2 and "give at least one input" in err
    status, _, err = predict(capsys, project, "--weights", weights, tmp_path, "--top-k", "0")
    assert status == 2 and "--top-k must be at least 1" in err


def test_a_shapeless_input_takes_its_shape_from_the_run_without_loading_the_data(trained_cnn, tmp_path, capsys):
    project, weights, folder = trained_cnn
    moved = tmp_path / "copy.json"  # the data path no longer resolves from here, so loading it would fail
    moved.write_text(project.read_text())
    status, lines, _ = predict(capsys, moved, "--weights", weights, folder / "blue" / "2.png")
    assert status == 0 and lines[0].endswith("blue (blue " + lines[0].split("blue (blue ")[1])


def test_csv_rows_of_a_regression_give_values(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (60, 2))
    table = tmp_path / "data.csv"
    table.write_text("a,b,y\n" + "".join(f"{p:.4f},{q:.4f},{p + 2 * q:.4f}\n" for p, q in x))
    project = mlp_project(tmp_path, {"name": "csv", "path": "data.csv", "target": "y", "task": "regression"}, 1,
                          loss="MSELoss")
    weights = train(project, tmp_path / "run")
    rows = tmp_path / "new.csv"
    rows.write_text("a,b\n1.0,0.5\n-1,-1\n")
    status, lines, err = predict(capsys, project, "--weights", weights, rows, "--json")
    assert status == 0, err
    answers = [json.loads(line) for line in lines]
    assert [a["input"] for a in answers] == [f"{rows} line 2", f"{rows} line 3"]
    predictor = Predictor.load(load_project(project), weights)
    normalization = json.loads(__import__("engine.training.checkpoint", fromlist=["x"]).read_metadata(weights)
                               ["normalization"])
    raw = torch.tensor([[1.0, 0.5], [-1.0, -1.0]])
    scaled = (raw - torch.tensor(normalization["mean"])) / torch.tensor(normalization["std"])
    assert [a["value"] for a in answers] == pytest.approx(predictor.model(scaled).reshape(-1).tolist(), abs=1e-5)
    rows.write_text("a,b,y\n1,zero,3\n")  # the target column may be there, and is left out
    status, lines, err = predict(capsys, project, "--weights", weights, rows)
    message = err.splitlines()[0]  # the file and line, the column, the cell (the table source words it)
    assert status == 2 and message.startswith(f"neurocanvas predict: error: {rows} line 2")
    assert message.endswith("column 'b': 'zero' is not a number") and message.count("line") == 1


def test_text_and_csv_files_that_are_not_utf8_name_the_line(tmp_path):
    from engine.predict.inputs import csv_rows, text_lines

    texts = tmp_path / "texts.txt"
    texts.write_bytes(b"fine\ncaf\xe9\n")
    with pytest.raises(Exception, match=r"texts.txt' line 2 is not UTF-8 text"):
        list(text_lines(texts))
    rows = tmp_path / "rows.csv"
    rows.write_bytes(b'a,b\n"multi\nline",1\ncaf\xe9,2\n')  # the bad row starts on line 4
    with pytest.raises(Exception, match=r"rows.csv' line 4 is not UTF-8 text"):
        list(csv_rows(rows))
    rows.write_bytes(b'a,b\n"multi\nline",1\n3,4\n')
    assert [name.rsplit(" ", 1)[1] for name, _ in csv_rows(rows)] == ["2", "4"]


def test_a_decompression_bomb_is_refused_by_its_header(trained_cnn, capsys, tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "huge.png"  # a 20,000 x 20,000 RGB header: 1.2 GB once decoded, never decoded here
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))
    project, weights, folder = trained_cnn
    status, lines, err = predict(capsys, project, "--weights", weights, bomb, folder / "red" / "5.png")
    assert status == 2 and len(lines) == 1 and lines[0].startswith(str(folder / "red" / "5.png"))
    message = err.splitlines()[0]
    assert message.startswith("neurocanvas predict: error: ") and "huge.png" in message and "Traceback" not in err
