"""engine.explain and `explain PROJECT --weights W INPUT... --method M [--layer NODE] --out DIR`."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import main
from engine import explain
from engine.errors import UserError
from engine.export import prepare_model
from engine.weights import save_weights
from graphs.project import load_project

ROOT = Path(__file__).resolve().parents[2]
CNN = ROOT / "resources/examples/digits_cnn.json"
MOONS = ROOT / "resources/examples/moons_mlp.json"
SIDE = 8
CORNER = 2  # the corner model reads only the top-left CORNER x CORNER pixels


def corner_project(tmp_path) -> Path:
    """Input [1, 8, 8] -> Flatten -> Linear(2): a linear classifier on the pixels."""
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [1, SIDE, SIDE]}}, {"id": "flat", "type": "Flatten"},
             {"id": "fc", "type": "Linear", "params": {"out_features": 2}},
             {"id": "y", "type": "Target", "params": {"shape": [], "dtype": "int64"}},
             {"id": "loss", "type": "CrossEntropyLoss"}]
    edges = [{"source": "x", "target": "flat"}, {"source": "flat", "target": "fc"},
             {"source": "fc", "target": "loss", "target_port": "input"},
             {"source": "y", "target": "loss", "target_port": "target"}]
    path = tmp_path / "corner.json"
    path.write_text(json.dumps({"format": "neurocanvas", "version": 1, "name": "corner", "nodes": nodes,
                                "edges": edges, "training": {}}))
    return path


def corner_weights(project: Path, path: Path) -> Path:
    """Weights that look at the top-left corner only, with normalisation and class names stored."""
    compiled = prepare_model(load_project(project).graph)
    with torch.no_grad():
        weight = torch.zeros(2, 1, SIDE, SIDE)
        weight[0, 0, :CORNER, :CORNER], weight[1, 0, :CORNER, :CORNER] = 1.0, -1.0
        compiled.model.fc.weight.copy_(weight.reshape(2, -1))
        compiled.model.fc.bias.zero_()
    meta = {"normalization": json.dumps({"mean": [0.5], "std": [0.25]}), "class_names": json.dumps(["bright", "dark"])}
    return save_weights(compiled.model, path, meta)


def write_image(path: Path, seed: int) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (SIDE, SIDE), dtype=np.uint8)
    Image.fromarray(pixels, "L").save(path)
    return path


@pytest.fixture
def corner(tmp_path):
    project = corner_project(tmp_path)
    weights = corner_weights(project, tmp_path / "corner.safetensors")
    images = [write_image(tmp_path / f"img{i}.png", i) for i in range(2)]
    return project, weights, images


def test_saliency_of_a_model_that_reads_one_corner_is_in_that_corner(corner):
    project, weights, _ = corner
    compiled = prepare_model(load_project(project).graph, weights)
    images = torch.rand(3, 1, SIDE, SIDE)
    for method in ("saliency", "integrated_gradients"):
        maps, predicted = explain.attribute(compiled, images, method)
        assert maps.shape == (3, SIDE, SIDE) and predicted.shape == (3,)
        assert np.all(maps[:, CORNER:, :] == 0) and np.all(maps[:, :, CORNER:] == 0)
        assert maps[:, :CORNER, :CORNER].max() == pytest.approx(1.0)
    saliency, _ = explain.attribute(compiled, images, "saliency")
    assert np.allclose(saliency[:, :CORNER, :CORNER], 1.0)  # |weight| is equal over the corner


def test_gradcam_and_feature_maps_of_a_cnn_are_not_constant():
    torch.manual_seed(0)
    compiled = prepare_model(load_project(CNN).graph)
    assert explain.default_layer(compiled) == "conv1"
    images = torch.randn(2, 1, SIDE, SIDE)
    maps, _ = explain.attribute(compiled, images, "gradcam")
    assert maps.shape == (2, SIDE, SIDE) and maps.max() == pytest.approx(1.0) and maps.std() > 0.01
    activation = explain.activations(compiled, images[0], "conv1")
    assert activation.shape == (16, SIDE, SIDE)
    grid = explain.feature_grid(activation)
    assert grid.shape == (4 * SIDE + 3, 4 * SIDE + 3) and grid.min() == 0 and grid.max() == 1
    sequence = explain.feature_grid(torch.arange(12.0).reshape(3, 4))
    assert sequence.shape == (3, 4) and sequence[0, 0] == 0 and sequence[2, 3] == 1


def test_a_layer_that_is_not_there_or_has_no_image_output_is_a_clear_error():
    compiled = prepare_model(load_project(CNN).graph)
    with pytest.raises(UserError, match="there is no layer 'nope' in this model; layers: 'conv1', 'act1'"):
        explain.attribute(compiled, torch.rand(1, 1, SIDE, SIDE), "gradcam", layer="nope")
    with pytest.raises(UserError, match="Grad-CAM needs a layer with \\[C, H, W\\] outputs, and layer 'fc'"):
        explain.attribute(compiled, torch.rand(1, 1, SIDE, SIDE), "gradcam", layer="fc")


def test_overlay_blends_the_heat_only_where_it_is_hot():
    image = np.full((4, 4), 100, dtype=np.uint8)
    heat = np.zeros((4, 4))
    heat[0, 0] = 1.0
    blended = explain.overlay(image, heat)
    assert blended.shape == (4, 4, 3)
    assert (blended[1:, :] == 100).all() and (blended[0, 0] != 100).any()


def test_embedding_projects_the_penultimate_layer_of_the_validation_split():
    from engine.data import fit_dataset
    from engine.data_shapes import load_training_data
    from engine.training import TrainingConfig

    project = load_project(CNN)
    compiled = prepare_model(project.graph)
    assert explain.penultimate(compiled) == "flat"
    dataset = fit_dataset(load_training_data(TrainingConfig.from_dict(project.training), CNN.parent), compiled)
    result = explain.embedding(compiled, dataset, limit=100)
    assert result.points.shape == (100, 2) and result.points.std(axis=0).min() > 0
    assert result.labels.shape == result.predictions.shape == (100,) and len(result.class_names) == 10
    assert result.wrong.any()  # untrained: most are wrong, and marked


def run_explain(*args) -> int:
    return main.main(["explain", *map(str, args)])


def test_cli_writes_an_overlay_per_input_hot_in_the_corner(corner, tmp_path, capsys):
    project, weights, images = corner
    out = tmp_path / "out"
    assert run_explain(project, *images, "--weights", weights, "--out", out) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].endswith(f"-> {out / 'img0.saliency.png'}") and "predicted " in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["img0.saliency.png", "img1.saliency.png"]
    overlay = np.asarray(Image.open(out / "img0.saliency.png").convert("RGB"), dtype=int)
    assert overlay.shape == (256, 256, 3)  # 8 x 8 enlarged in blocks of 32
    plain = np.asarray(Image.open(images[0]).convert("RGB").resize((256, 256), Image.Resampling.NEAREST), dtype=int)
    changed = np.abs(overlay - plain).sum(axis=2) > 0
    block = 256 // SIDE * CORNER
    assert changed[:block, :block].all() and not changed[block:, :].any() and not changed[:, block:].any()


def test_cli_gradcam_on_a_cnn(tmp_path, capsys):
    weights = save_weights(prepare_model(load_project(CNN).graph).model, tmp_path / "cnn.safetensors")
    image = write_image(tmp_path / "digit.png", 3)
    assert run_explain(CNN, image, "--weights", weights, "--method", "gradcam", "--layer", "conv1",
                       "--out", tmp_path / "maps") == 0
    picture = np.asarray(Image.open(tmp_path / "maps" / "digit.gradcam.png"))
    assert picture.std() > 1


@pytest.mark.parametrize("case, message", [
    ("layer", "there is no layer 'nope' in this model"),
    ("layer_without_gradcam", "--layer applies only to --method gradcam"),
    ("text", "cannot read image"),
    ("not_empty", "is not empty; give a new or empty folder"),
    ("out_is_an_input", "is a file, not a folder"),
])
def test_cli_bad_input_exits_2_with_one_line(corner, tmp_path, capsys, case, message):
    project, weights, images = corner
    out = tmp_path / "out"
    extra = []
    if case == "layer":
        extra = ["--method", "gradcam", "--layer", "nope"]
    elif case == "layer_without_gradcam":
        extra = ["--layer", "fc"]
    elif case == "text":
        images = [tmp_path / "notes.png"]
        images[0].write_text("not an image")
    elif case == "not_empty":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif case == "out_is_an_input":
        out = images[0]
    assert run_explain(project, *images, "--weights", weights, "--out", out, *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurocanvas explain: error: ") and len(err.strip().splitlines()) == 1
    assert message in err, err
    if case == "not_empty":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
    elif case == "out_is_an_input":
        assert Image.open(out).size == (SIDE, SIDE)  # untouched


def test_cli_refuses_a_model_that_does_not_take_images(tmp_path, capsys):
    weights = save_weights(prepare_model(load_project(MOONS).graph).model, tmp_path / "moons.safetensors")
    assert run_explain(MOONS, write_image(tmp_path / "a.png", 0), "--weights", weights, "--out", tmp_path / "o") == 2
    assert "not images [C, H, W]; explain works on image models" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_refuses_weights_trained_on_other_inputs(corner, tmp_path, capsys):
    project, _, images = corner
    compiled = prepare_model(load_project(project).graph)
    weights = save_weights(compiled.model, tmp_path / "text.safetensors",
                           {"preprocessing": json.dumps({"kind": "text", "max_length": 8})})
    assert run_explain(project, *images, "--weights", weights, "--out", tmp_path / "o") == 2
    assert "these weights were trained on text inputs, not images" in capsys.readouterr().err


def test_cli_prepares_images_with_the_stored_preprocessing(corner, tmp_path, monkeypatch):
    import engine.data.images as images_module

    project, _, images = corner
    compiled = prepare_model(load_project(project).graph)
    preprocessing = {"kind": "images", "size": [SIDE, SIDE], "channels": 1, "mean": None, "std": None}
    weights = save_weights(compiled.model, tmp_path / "w.safetensors", {"preprocessing": json.dumps(preprocessing)})
    calls = []

    def prepare_image_files(given, paths):  # the images helper's contract, faked until it is merged
        calls.append((given, [str(p) for p in paths]))
        return torch.zeros(len(paths), 1, SIDE, SIDE)

    monkeypatch.setattr(images_module, "prepare_image_files", prepare_image_files, raising=False)
    assert run_explain(project, *images, "--weights", weights, "--out", tmp_path / "o") == 0
    assert calls == [(preprocessing, [str(p) for p in images])]


def test_explaining_leaves_the_model_in_training_mode_and_embeds_a_table_classifier():
    from engine.data import fit_dataset
    from engine.data_shapes import graph_as_trained, load_training_data
    from engine.training import TrainingConfig

    project = load_project(MOONS)
    dataset = load_training_data(TrainingConfig.from_dict(project.training), MOONS.parent)
    graph, _ = graph_as_trained(project.graph, project.training, MOONS.parent, dataset)
    compiled = prepare_model(graph)
    compiled.model.train()
    result = explain.embedding(compiled, fit_dataset(dataset, compiled), method="tsne", limit=60)
    assert result.points.shape == (60, 2) and result.method == "tsne"
    assert compiled.model.training and all(m.training for m in compiled.model.modules())
    node = explain.node_names(compiled)[0]
    assert explain.activations(compiled, fit_dataset(dataset, compiled).val.sample(0)[0], node).dim() == 1
    assert compiled.model.training
