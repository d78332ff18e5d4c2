"""Image folders: the uint8 cache, decoding in workers, streaming with persistent workers, the
preprocessing contract, the generated shapes set, and bad input (a decompression bomb, one class)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data import load_dataset
from engine.data.image_splits import CachedImageSplit, StreamedImageSplit
from engine.data.images import ImageReader, prepare_image_files
from engine.errors import UserError


def write_folder(root, classes=("cat", "dog"), per_class=6, size=(10, 12)):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            pixels[..., 0] = 255 * c
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def load(tmp_path, **options):
    return load_dataset({"name": "image_folder", "path": "imgs", **options}, tmp_path, 0.25, 0)


def test_cached_images_are_uint8_and_later_epochs_decode_nothing(tmp_path, monkeypatch):
    write_folder(tmp_path / "imgs")
    reads = []
    original = ImageReader.read_uint8
    monkeypatch.setattr(ImageReader, "read_uint8", lambda self, path: reads.append(path) or original(self, path))
    data = load(tmp_path, workers=0, mean=[0.5], std=[0.25])
    assert reads == []  # loading checks headers only: the first epoch decodes
    for _epoch in range(2):
        seen = sum(len(x) for x, _ in data.train.batches(4, shuffle=True, generator=torch.Generator()))
        assert seen == len(data.train)
        assert sorted(reads) == sorted(data.train.cache.files[i] for i in data.train.rows)  # each image once
    assert isinstance(data.train, CachedImageSplit) and data.train.pixels.dtype == torch.uint8
    assert len(reads) == 9  # later epochs' batches come from the cache
    x, y = next(data.train.batches(100))
    red = x[y == 1][:, 0]  # class 1 has red 255, normalised: (1 - 0.5) / 0.25
    assert x.dtype == torch.float32 and torch.allclose(red, torch.full_like(red, 2.0))


def test_decoding_in_worker_processes_gives_the_same_pixels(tmp_path):
    write_folder(tmp_path / "imgs")
    alone, parallel = load(tmp_path, workers=0), load(tmp_path, workers=2)
    assert torch.equal(alone.train.pixels, parallel.train.pixels)
    assert torch.equal(alone.val.labels(), parallel.val.labels())


def test_progress_is_told_while_a_folder_is_decoded(tmp_path):
    write_folder(tmp_path / "imgs")
    told = []
    load_dataset({"name": "image_folder", "path": "imgs", "workers": 0}, tmp_path, 0.25, 0,
                 lambda done, total: told.append((done, total)))
    assert told[0] == (0, 12) and told[-1] == (12, 12)
    assert all(a[0] <= b[0] for a, b in zip(told, told[1:]))


def test_a_folder_beyond_the_budget_streams_with_persistent_workers(tmp_path):
    write_folder(tmp_path / "imgs")
    data = load(tmp_path, workers=2, stream=True)
    assert data.streaming and isinstance(data.train, StreamedImageSplit)
    cached = load(tmp_path, workers=0)
    first = torch.cat([x for x, _ in data.train.batches(4)])
    loader = data.train.state["loader"]
    workers = loader._iterator._workers if loader._iterator is not None else None
    second = torch.cat([x for x, _ in data.train.batches(4)])
    assert data.train.state["loader"] is loader and loader._iterator._workers == workers  # the same processes
    assert torch.equal(first, second) and torch.equal(first, cached.train.x)


def test_the_memory_budget_counts_uint8_pixels(tmp_path):
    write_folder(tmp_path / "imgs", size=(64, 64))  # 12 x 3 x 64 x 64 bytes: 147 kB
    assert not load(tmp_path, workers=0, max_memory_mb=1).streaming


def test_preprocessing_is_stored_and_prepare_image_files_repeats_training(tmp_path):
    root = write_folder(tmp_path / "imgs", size=(20, 24))
    data = load(tmp_path, workers=0, size=[10, 12], mean=[0.5, 0.4, 0.3], std=[0.2, 0.2, 0.2])
    assert data.preprocessing == {"kind": "images", "size": [10, 12], "channels": 3,
                                  "mean": pytest.approx([0.5, 0.4, 0.3]), "std": pytest.approx([0.2] * 3)}
    files = sorted((root / "dog").glob("*.png"))
    prepared = prepare_image_files(data.preprocessing, files)
    assert prepared.shape == (6, 3, 10, 12) and prepared.dtype == torch.float32
    everything = torch.cat([data.train.x, data.val.x])
    labels = torch.cat([data.train.labels(), data.val.labels()])
    dogs = everything[labels == 1]
    assert all(any(torch.allclose(p, d) for d in dogs) for p in prepared)


def test_prepare_image_files_refuses_other_kinds_and_names_bad_files(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(UserError, match="trained on text inputs, not images"):
        prepare_image_files({"kind": "text"}, [tmp_path / "notes.png"])
    with pytest.raises(UserError, match="notes.png.*not an image"):
        prepare_image_files({"kind": "images", "size": [8, 8], "channels": 3}, [tmp_path / "notes.png"])
    with pytest.raises(UserError, match="missing.png"):
        prepare_image_files({"kind": "images", "size": [8, 8], "channels": 3}, [tmp_path / "missing.png"])


def _png(path, width, height):
    """A real grayscale PNG of width x height black pixels, compressed as it is written (a few hundred kB)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    compressor, row, parts = zlib.compressobj(1), bytes(width + 1), []
    for _ in range(height):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts))
                     + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    path = tmp_path_factory.mktemp("bomb") / "huge.png"
    _png(path, 20_000, 20_000)
    return path


def test_a_decompression_bomb_in_a_folder_is_refused_naming_the_file(tmp_path, bomb):
    root = write_folder(tmp_path / "imgs")
    (root / "dog" / "huge.png").write_bytes(bomb.read_bytes())
    for workers in (0, 2):
        with pytest.raises(UserError, match=r"imgs/dog/huge.png.*decompression bomb") as error:
            load(tmp_path, workers=workers)
        assert "Traceback" not in str(error.value)
    assert (root / "dog" / "huge.png").stat().st_size == bomb.stat().st_size  # nothing touched


def test_a_decompression_bomb_given_to_predict_is_refused(bomb):
    with pytest.raises(UserError, match=r"huge.png.*decompression bomb"):
        prepare_image_files({"kind": "images", "size": [32, 32], "channels": 1}, [bomb])


def test_an_image_just_over_pillows_limit_is_refused_before_decoding(tmp_path):
    _png(tmp_path / "big.png", 10_000, 10_000)  # 100 megapixels: Pillow would only warn
    with pytest.raises(UserError, match=r"big.png' is 10000 x 10000 pixels \(100 megapixels\)"):
        prepare_image_files({"kind": "images", "size": [8, 8], "channels": 3}, [tmp_path / "big.png"])


def test_a_folder_with_one_class_or_one_image_names_the_folder(tmp_path):
    write_folder(tmp_path / "imgs", classes=("cat",), per_class=1)
    with pytest.raises(UserError, match=r"image folder 'imgs' has a single class \('cat'\)"):
        load(tmp_path)
    assert (tmp_path / "imgs" / "cat" / "0.png").is_file()


def test_the_shapes_sample_is_generated_once_and_read_as_a_folder(tmp_path, monkeypatch):
    from engine.data import image_samples

    monkeypatch.setenv("NEUROCANVAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(image_samples, "SAMPLES", {"shapes": (1, lambda folder: image_samples.write_shapes(
        folder, per_class=10))})
    data = load_dataset({"name": "image_folder", "sample": "shapes", "workers": 0}, tmp_path, 0.2, 0)
    assert data.class_names == ["circle", "square", "triangle"] and data.input_shape == (3, 32, 32)
    assert len(data.train) + len(data.val) == 30
    folder = tmp_path / "cache" / "samples" / "images-shapes-v1"
    stamp = (folder / "circle" / "00000.png").stat().st_mtime_ns
    again = load_dataset({"name": "image_folder", "sample": "shapes", "workers": 0}, tmp_path, 0.2, 0)
    assert (folder / "circle" / "00000.png").stat().st_mtime_ns == stamp
    assert torch.equal(data.train.pixels, again.train.pixels)
    with pytest.raises(UserError, match="no sample set 'dots'; choose one of: shapes"):
        load_dataset({"name": "image_folder", "sample": "dots"}, tmp_path)
    with pytest.raises(UserError, match='"path" or "sample", not both'):
        load_dataset({"name": "image_folder", "sample": "shapes", "path": "x"}, tmp_path)


def test_shapes_are_seeded(tmp_path):
    from engine.data.image_samples import write_shapes

    write_shapes(tmp_path / "a", per_class=3)
    write_shapes(tmp_path / "b", per_class=3)
    for name in ("circle/00002.png", "triangle/00001.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_damaged_stored_preprocessing_is_a_clear_error(tmp_path):
    write_folder(tmp_path / "imgs")
    with pytest.raises(UserError, match="stored image preprocessing is damaged"):
        prepare_image_files({"kind": "images", "channels": 3}, [tmp_path / "imgs" / "cat" / "0.png"])


def test_a_streamed_run_ends_its_worker_processes(tmp_path):
    import json

    from engine.training import Trainer
    from graphs.project import load_project

    write_folder(tmp_path / "imgs", size=(8, 8))
    example = json.loads((Path(__file__).resolve().parents[2] / "resources" / "examples" /
                          "shapes_cnn_augment.json").read_text())
    example["training"].update(dataset={"name": "image_folder", "path": "imgs", "stream": True, "workers": 2},
                               epochs=2, batch_size=4)
    example["nodes"] = two_class_nodes(example["nodes"])
    (tmp_path / "p.json").write_text(json.dumps(example))
    trainer = Trainer(load_project(tmp_path / "p.json"), out_dir=tmp_path / "run")
    result = trainer.run()
    assert result.status == "finished", result.message
    assert trainer._train_data.state == {} and trainer._val_data.state == {}


def two_class_nodes(nodes: list[dict]) -> list[dict]:
    """The shapes example's nodes for a small two-class folder: a two-class head, the Input's shape from the data."""
    nodes = [n for n in nodes if n["id"] != "fc"] + [
        {"id": "fc", "type": "Linear", "params": {"out_features": 2}, "position": [0, 0]}]
    for node in nodes:
        if node["type"] == "Input":
            node.pop("params", None)  # the shape comes from these smaller images
    return nodes
