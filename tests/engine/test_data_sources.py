"""Data sources: built-in sets, CSV, npz and image folders, with good and bad files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data import fill_shapes, load_dataset
from engine.data.dataset import batch_bounds
from engine.errors import UserError

ROOT = Path(__file__).resolve().parents[2]


def load(spec, tmp_path=".", val_split=0.25, seed=0):
    return load_dataset(spec, tmp_path, val_split, seed)


# ---- built-in sets -----------------------------------------------------------------

def test_digits_are_images_scaled_to_unit_range():
    data = load({"name": "digits"}, val_split=0.2)
    assert data.input_shape == (1, 8, 8) and data.input_dtype == "float32"
    assert data.target_shape == () and data.target_dtype == "int64"
    assert data.task == "classification" and data.class_names == [str(i) for i in range(10)]
    assert len(data.train) + len(data.val) == 1797 and len(data.val) == round(1797 * 0.2)
    everything = torch.cat([data.x_train, data.x_val])
    assert everything.min() == 0 and everything.max() == 1
    preview = data.preview(4)
    assert preview.kind == "images" and len(preview.images) == 4 and preview.images[0].shape == (8, 8)
    assert sum(preview.class_counts.values()) == 1797 and preview.labels[0] in data.class_names
    assert data.describe() == "digits: 1438 train / 359 validation, input [1, 8, 8] float32, 10 classes"


@pytest.mark.parametrize("name, features, classes", [("iris", 4, 3), ("wine", 13, 3), ("breast_cancer", 30, 2)])
def test_tabular_sets_are_standardised_with_training_statistics(name, features, classes):
    data = load({"name": name})
    assert data.input_shape == (features,) and data.num_classes == classes
    assert torch.allclose(data.x_train.mean(0), torch.zeros(features), atol=1e-4)
    assert torch.allclose(data.x_train.std(0, unbiased=False), torch.ones(features), atol=1e-3)
    assert not torch.allclose(data.x_val.mean(0), torch.zeros(features), atol=1e-4)  # validation is unseen
    preview = data.preview(2)
    assert preview.kind == "table" and len(preview.columns) == features and len(preview.rows[0]) == features
    # the preview shows values in the file's own units, not standardised ones
    assert min(min(row) for row in preview.rows) >= 0


@pytest.mark.parametrize("spec, classes", [
    ({"name": "moons", "n_samples": 100, "noise": 0.2}, 2),
    ({"name": "circles", "n_samples": 100, "factor": 0.3}, 2),
    ({"name": "spirals", "n_samples": 99, "arms": 3}, 3),
])
def test_synthetic_classification_sets(spec, classes):
    data = load(spec)
    assert len(data.train) + len(data.val) == spec["n_samples"]
    assert data.input_shape == (2,) and data.num_classes == classes
    counts = data.class_counts()
    assert sorted(counts) == [str(k) for k in range(classes)] and max(counts.values()) - min(counts.values()) <= 1


def test_sine_is_regression_of_sin_x():
    data = load({"name": "sine", "n_samples": 200})
    assert data.task == "regression" and data.class_names is None
    assert data.input_shape == (1,) and data.target_shape == (1,) and data.target_dtype == "float32"
    assert data.x_train.abs().max() <= np.pi
    assert torch.allclose(data.y_train, torch.sin(data.x_train), atol=1e-6)
    noisy = load({"name": "sine", "n_samples": 200, "noise": 0.3})
    assert not torch.allclose(noisy.y_train, torch.sin(noisy.x_train), atol=0.05)


def test_the_seed_fixes_data_and_split():
    first, again = load({"name": "moons", "n_samples": 80, "noise": 0.3}, seed=3), load(
        {"name": "moons", "n_samples": 80, "noise": 0.3}, seed=3)
    other = load({"name": "moons", "n_samples": 80, "noise": 0.3}, seed=4)
    assert torch.equal(first.x_train, again.x_train) and torch.equal(first.y_val, again.y_val)
    assert not torch.equal(first.x_train, other.x_train)


def test_autoencoder_target_is_the_input():
    data = load({"name": "digits", "autoencoder": True})
    assert data.task == "regression" and data.target_shape == (1, 8, 8) and data.target_dtype == "float32"
    assert torch.equal(data.x_train, data.y_train) and data.x_train.data_ptr() != data.y_train.data_ptr()


@pytest.mark.parametrize("spec, words", [
    ({"name": "mnist"}, ["unknown dataset 'mnist'", "digits", "csv"]),
    ({"name": "moons", "n_sample": 10}, ["'n_sample'", "n_samples"]),
    ({"name": "moons", "noise": "lots"}, ["'noise'", "a number"]),
    ({"name": "spirals", "arms": 1}, ["'arms'", "between 2 and 20"]),
    ("digits", ['"dataset"', '"name"']),
])
def test_bad_specs_name_the_problem(spec, words):
    with pytest.raises(UserError) as error:
        load(spec)
    assert all(w in str(error.value) for w in words), str(error.value)


@pytest.mark.parametrize("val_split", [1.0, 0.001, -0.1])
def test_a_split_must_leave_samples_on_both_sides(val_split):  # 0 is allowed: no validation at all
    with pytest.raises(UserError, match="val_split"):
        load({"name": "moons", "n_samples": 100}, val_split=val_split)


def test_sklearn_is_imported_only_for_its_sets():
    code = ("import sys; from engine.data import load_dataset; load_dataset({'name': 'moons'});"
            "sys.exit(1 if 'sklearn' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


# ---- CSV ---------------------------------------------------------------------------

def write_csv(tmp_path, text, name="data.csv"):
    (tmp_path / name).write_text(text)
    return {"name": "csv", "path": name}


GOOD_CSV = "age,height,species\n" + "".join(
    f"{20 + i},{150 + 3 * i},{['cat', 'dog', 'emu'][i % 3]}\n" for i in range(12))


def test_csv_with_a_text_target_keeps_class_names(tmp_path):
    data = load(write_csv(tmp_path, GOOD_CSV), tmp_path)
    assert data.task == "classification" and data.class_names == ["cat", "dog", "emu"]
    assert data.input_shape == (2,) and data.feature_names == ["age", "height"]
    assert len(data.train) == 9 and len(data.val) == 3
    assert torch.allclose(data.x_train.mean(0), torch.zeros(2), atol=1e-5)
    assert 20 < data.normalization["mean"][0] < 31
    assert all(row[0] in range(20, 32) for row in data.preview(3).rows)  # the file's own values


def test_csv_target_by_index_without_header_and_regression(tmp_path):
    spec = write_csv(tmp_path, "".join(f"{i},{i * 0.5},{i * 1.5}\n" for i in range(10)))
    data = load({**spec, "header": False, "target": 0, "task": "regression"}, tmp_path)
    assert data.task == "regression" and data.target_shape == (1,) and data.target_dtype == "float32"
    assert data.feature_names == ["1", "2"]
    fractional = load({**spec, "header": False, "target": -1}, tmp_path)
    assert fractional.task == "regression"  # not whole numbers: regression without being told


def test_csv_whole_number_labels_become_classes(tmp_path):
    spec = write_csv(tmp_path, "a,label\n" + "".join(f"{i},{1 + i % 3}\n" for i in range(9)))
    data = load(spec, tmp_path)
    assert data.task == "classification" and data.class_names == ["1", "2", "3"]
    assert set(torch.cat([data.y_train, data.y_val]).tolist()) == {0, 1, 2}


@pytest.mark.parametrize("text, message", [
    ("age,label\n1,a\n2,b\nabc,a\n", "data.csv line 4, column 'age': 'abc' is not a number"),
    ("age,label\n1,a\n\n2,b\n3,NA\n", "data.csv line 5, column 'label' is missing ('NA')"),  # a missing feature
    ("age,label\n1,a\ninf,b\n", "data.csv line 3, column 'age': 'inf' is not a finite number"),  # cell is filled in
    ("", "data.csv is empty"),
    ("age,label\n", "data.csv has a header but no data rows"),
    ("age,label\n1,a\n2\n", "data.csv line 3 has 1 fields but the header has 2"),
    ("age,label\n1,a\n2,3\n3,b\n", "column 'label' mixes numbers (line 3: '3') and text (line 2: 'a')"),
    ("age,label\n1,a\n2,\n", "data.csv line 3, column 'label' is empty"),
    ("age,label\n1,a\n1e39,b\n", "data.csv line 3, column 'age': '1e39' is beyond float32's range"),
    ("age,label\n1,1.5\n2,-1e300\n", "data.csv line 3, column 'label': '-1e300' is beyond float32's range"),
    ("name,label\nx,1\ny,2\n", "column 'name': 'x' is not a number (the whole column holds text"),
])
def test_bad_csv_names_line_and_column(tmp_path, text, message):
    with pytest.raises(UserError) as error:
        load(write_csv(tmp_path, text), tmp_path)
    assert message in str(error.value)


def test_csv_missing_target_column_lists_the_columns(tmp_path):
    spec = write_csv(tmp_path, GOOD_CSV)
    with pytest.raises(UserError, match="data.csv has no column 'kind'; its columns are: 'age', 'height', 'species'"):
        load({**spec, "target": "kind"}, tmp_path)
    with pytest.raises(UserError, match="target column 5 is out of range"):
        load({**spec, "target": 5}, tmp_path)


def test_missing_data_file_names_it(tmp_path):
    with pytest.raises(UserError, match="data file 'nope.csv' not found"):
        load({"name": "csv", "path": "nope.csv"}, tmp_path)


# ---- npz ---------------------------------------------------------------------------

def test_npz_classification_and_regression(tmp_path):
    x = np.arange(60, dtype=np.float64).reshape(20, 3)
    np.savez(tmp_path / "c.npz", x=x, y=np.arange(20) % 2, class_names=np.array(["no", "yes"]))
    data = load({"name": "npz", "path": "c.npz"}, tmp_path)
    assert data.task == "classification" and data.class_names == ["no", "yes"]
    assert data.input_shape == (3,) and data.input_dtype == "float32"
    np.savez(tmp_path / "r.npz", x=x, y=x.sum(1))
    data = load({"name": "npz", "path": "r.npz"}, tmp_path)
    assert data.task == "regression" and data.target_shape == (1,)
    np.savez(tmp_path / "t.npz", x=np.arange(40).reshape(20, 2), y=np.arange(20) % 2)
    assert load({"name": "npz", "path": "t.npz"}, tmp_path).input_dtype == "int64"  # token indices


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((4, 2))}, "has no array 'y' (it holds: 'x')"),
    ({"x\n": np.zeros(2), "y": np.zeros(2)}, "has no array 'x' (it holds: 'x\\n', 'y')"),
    ({f"a{i}": np.zeros(1) for i in range(10)}, "(it holds: 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7' and 2 more)"),
    ({"x": np.zeros((4, 2)), "y": np.zeros(3)}, "x has 4 samples but y has 3"),
    ({"x": np.full((4, 2), np.nan), "y": np.zeros(4)}, "x holds NaN or infinity (sample 0)"),
])
def test_bad_npz_names_the_key(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(UserError) as error:
        load({"name": "npz", "path": "d.npz"}, tmp_path)
    assert message in str(error.value)


def test_a_user_error_escapes_control_characters_but_keeps_its_own_line_breaks():
    error = UserError("the graph has 2 problems:\n  node 'a\tb\x00': x\n  node 'c': y", hint="line\rbreak")
    assert str(error).split("\n") == ["the graph has 2 problems:", "  node 'a\\tb\\x00': x", "  node 'c': y line\\rbreak"]
    assert all(line.isprintable() for line in str(error).split("\n"))


def test_npz_with_python_objects_is_refused_not_unpickled(tmp_path):
    np.savez(tmp_path / "o.npz", x=np.array([{"a": 1}, {"b": 2}], dtype=object), y=np.zeros(2))
    with pytest.raises(UserError, match="array 'x' holds Python objects"):
        load({"name": "npz", "path": "o.npz"}, tmp_path)


def test_a_file_that_is_not_npz(tmp_path):
    (tmp_path / "d.npz").write_text("x,y\n1,2\n")
    with pytest.raises(UserError, match="d.npz"):
        load({"name": "npz", "path": "d.npz"}, tmp_path)


# ---- image folders -----------------------------------------------------------------

def image_folder(tmp_path, classes=("cat", "dog"), per_class=4, size=(10, 12)):
    from PIL import Image

    root = tmp_path / "imgs"
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size[0] + i, size[1], 3), dtype=np.uint8)
            pixels[..., 0] = 255 * c
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_image_folder_reads_resizes_and_labels(tmp_path):
    image_folder(tmp_path)
    data = load({"name": "image_folder", "path": "imgs", "size": [8, 6], "grayscale": True}, tmp_path)
    assert data.input_shape == (1, 8, 6) and data.class_names == ["cat", "dog"] and not data.streaming
    assert len(data.train) + len(data.val) == 8 and 0 <= data.x_train.min() and data.x_train.max() <= 1
    rgb = load({"name": "image_folder", "path": "imgs", "size": [8, 6]}, tmp_path)
    assert rgb.input_shape == (3, 8, 6)
    red = torch.cat([rgb.x_train[:, 0], rgb.x_val[:, 0]]).mean((1, 2))
    labels = torch.cat([rgb.y_train, rgb.y_val])
    assert torch.all(red[labels == 1] > 0.99) and torch.all(red[labels == 0] < 0.01)  # labels match folders
    preview = rgb.preview(2)
    assert preview.kind == "images" and preview.images[0].shape == (8, 6, 3) and preview.class_counts == {
        "cat": 4, "dog": 4}


def test_image_folder_default_size_and_normalisation(tmp_path):
    image_folder(tmp_path)
    data = load({"name": "image_folder", "path": "imgs", "mean": 0.5, "std": [0.25]}, tmp_path)
    assert data.input_shape == (3, 10, 12)  # the first image's size
    assert data.x_train.min() < 0 and data.normalization == {"mean": [0.5] * 3, "std": [0.25] * 3}
    assert 0 <= data.preview(1).images[0].min()  # the preview undoes the normalisation


@pytest.mark.parametrize("arrange, message", [
    (lambda root: (root / "dog" / "3.png").write_bytes(np.random.default_rng(1).bytes(300)),
     "cannot read image 'imgs/dog/3.png'"),
    (lambda root: [p.unlink() for p in (root / "dog").iterdir()], "class folder 'imgs/dog' holds no images"),
    (lambda root: [[p.unlink() for p in (root / "dog").iterdir()], (root / "dog").rmdir()],
     "has a single class ('cat')"),
])
def test_bad_image_folders_name_the_problem(tmp_path, arrange, message):
    arrange(image_folder(tmp_path))
    with pytest.raises(UserError) as error:
        load({"name": "image_folder", "path": "imgs", "size": [8, 8]}, tmp_path)
    assert message in str(error.value)


def test_empty_image_folder(tmp_path):
    (tmp_path / "imgs").mkdir()
    with pytest.raises(UserError, match="image folder 'imgs' has no class subfolders: it is empty"):
        load({"name": "image_folder", "path": "imgs"}, tmp_path)


def test_large_image_folders_stream_from_disk(tmp_path):
    image_folder(tmp_path, per_class=5)
    spec = {"name": "image_folder", "path": "imgs", "size": [300, 300], "max_memory_mb": 1}
    data = load(spec, tmp_path, val_split=0.2)  # 10 x 3 x 300 x 300 float32 is 10 MB > 1 MB
    assert data.streaming and data.x_train is None and data.describe().endswith("streamed from disk")
    batches = list(data.train.batches(3, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert [x.shape for x, _ in batches] == [(3, 3, 300, 300), (3, 3, 300, 300), (2, 3, 300, 300)]
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == sorted(data.train.labels().tolist())
    small = load({**spec, "size": [4, 4], "stream": True}, tmp_path)
    in_memory = load({**spec, "size": [4, 4], "stream": False}, tmp_path)
    streamed = torch.cat([x for x, _ in small.val.batches(2)])
    assert torch.allclose(streamed, in_memory.x_val)  # same pixels either way


# ---- batching, shapes from the data ---------------------------------------------------

def test_batches_never_end_with_a_single_sample():
    assert batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_bounds(9, 4) == [(0, 4), (4, 9)]
    assert batch_bounds(1, 4) == [(0, 1)]
    assert batch_bounds(9, 4, limit=1) == [(0, 4)]


def test_shuffled_batches_cover_every_sample_once():
    data = load({"name": "moons", "n_samples": 103})
    seen = torch.cat([y for _, y in data.train.batches(10, shuffle=True, generator=torch.Generator())])
    assert len(seen) == len(data.train)
    xs = torch.cat([x for x, _ in data.train.batches(10, shuffle=True, generator=torch.Generator().manual_seed(1))])
    assert torch.equal(xs.sort(0).values, data.x_train.sort(0).values)


def test_fill_shapes_takes_missing_shapes_from_the_data(write_project):
    project = write_project({"name": "digits"}, classes=10, target_params={"dtype": "int64"})
    data = load({"name": "digits"})
    filled = fill_shapes(project.graph, data)
    assert filled.node("x").params == {"shape": [1, 8, 8], "dtype": "float32"}
    assert filled.node("y").params == {"shape": [], "dtype": "int64"}
    assert project.graph.node("x").params == {}  # the project's own graph is untouched
    kept = write_project({"name": "digits"}, classes=10, input_params={"shape": [64]})
    assert fill_shapes(kept.graph, data).node("x").params == {"shape": [64]}
