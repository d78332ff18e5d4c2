"""An image folder's uint8 cache filled by the first epoch's worker processes, and the training
augmentation applied in those workers: the same pixels as decoding in one process, a file damaged
past its header named when a worker meets it, and seeded runs that repeat."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
import torch

from engine.data import load_dataset
from engine.data.augment import Augment
from engine.data.images import ImageReader
from engine.errors import UserError
from engine.training import Trainer
from graphs.project import load_project
from tests.engine.test_image_folders_at_scale import two_class_nodes, write_folder

EXAMPLE = Path(__file__).resolve().parents[2] / "resources" / "examples" / "shapes_cnn_augment.json"
AUGMENT = [{"type": "RandomCrop", "size": [8, 8], "padding": 2}, {"type": "RandomHorizontalFlip"},
           {"type": "ColorJitter", "brightness": 0.3}]


def load(folder: Path, **options):
    return load_dataset({"name": "image_folder", "path": "imgs", **options}, folder, 0.25, 0)


def damage_pixel_data(path: Path) -> None:
    """Spoil a PNG's compressed pixels, keeping its header readable."""
    raw = bytearray(path.read_bytes())
    start = raw.index(b"IDAT") + 8
    raw[start:start + 40] = bytes(40)
    path.write_bytes(bytes(raw))


def test_the_cache_filled_by_workers_during_an_epoch_equals_decoding_in_one_process(tmp_path, monkeypatch):
    write_folder(tmp_path / "imgs", per_class=20, size=(8, 8))
    serial, parallel = load(tmp_path, workers=0), load(tmp_path, workers=2)
    assert not parallel.train.cache.filled.any()  # loading decodes nothing
    expected = serial.train.pixels  # decoded here, in this process
    reads = []
    original = ImageReader.read_uint8
    monkeypatch.setattr(ImageReader, "read_uint8", lambda self, path: reads.append(path) or original(self, path))
    first = {}
    assert parallel.train.uses_worker_processes() and not serial.train.uses_worker_processes()
    for x, y in parallel.train.batches(8, shuffle=True, generator=torch.Generator().manual_seed(1)):
        assert x.is_contiguous(memory_format=torch.channels_last)
        first[len(first)] = (x, y)
    assert reads == []  # the worker processes decoded (this process's reads would be listed)
    rows = parallel.train.rows
    assert parallel.train.cache.filled[rows].all() and not parallel.train.cache.filled[parallel.val.rows].any()
    assert torch.equal(parallel.train.cache.pixels[rows], expected)
    assert "loader" not in parallel.train.state  # a complete cache without augmentation needs no workers
    assert not parallel.train.uses_worker_processes()  # so a run's thread tuner may take their core
    again = list(parallel.train.batches(8, shuffle=True, generator=torch.Generator().manual_seed(1)))
    assert reads == []  # nor decoding again
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first.values(), again))
    assert torch.equal(parallel.val.x, serial.val.x)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_file_damaged_past_its_header_is_named_when_first_read(tmp_path, workers):
    write_folder(tmp_path / "imgs", per_class=6, size=(8, 8))
    damage_pixel_data(tmp_path / "imgs" / "dog" / "3.png")
    data = load(tmp_path, workers=workers)  # the header is fine: loading accepts it
    with pytest.raises(UserError, match=r"cannot read image 'imgs/dog/3\.png'") as caught:
        for split in (data.train, data.val):
            list(split.batches(4))
    assert "Traceback" not in str(caught.value)


def project(folder: Path, seed: int = 0, workers: int = 2, stream: bool = False, **training):
    write_folder(folder / "imgs", per_class=10, size=(8, 8))
    data = json.loads(EXAMPLE.read_text())
    data["training"].update(dataset={"name": "image_folder", "path": "imgs", "workers": workers, "stream": stream,
                                     "augment": AUGMENT}, epochs=2, batch_size=4, seed=seed, **training)
    data["nodes"] = two_class_nodes(data["nodes"])
    (folder / "p.json").write_text(json.dumps(data))
    return load_project(folder / "p.json")


def test_a_damaged_image_met_by_a_worker_fails_the_run_naming_it(tmp_path):
    run = project(tmp_path)
    damage_pixel_data(tmp_path / "imgs" / "cat" / "7.png")
    result = Trainer(run, out_dir=tmp_path / "run").run()
    assert result.status == "failed" and "imgs/cat/7.png" in result.message, result.message
    assert "Traceback" not in result.message


@pytest.mark.parametrize("stream", [False, True])
def test_augmentation_runs_in_the_workers_and_a_seeded_run_repeats(tmp_path, stream):
    def train(name: str, seed: int = 0):
        (tmp_path / name).mkdir()
        trainer = Trainer(project(tmp_path / name, seed, stream=stream), out_dir=tmp_path / name / "run")
        result = trainer.run()
        assert result.status == "finished", result.message
        assert trainer._augment is None and isinstance(trainer._train_data.augment, Augment)  # off the trainer
        assert "loader" not in trainer._train_data.state  # the run ended its worker processes
        assert multiprocessing.active_children() == []  # and none is left running
        return [row["train_loss"] for row in result.history]

    first = train("a")
    assert train("b") == first
    assert train("c", seed=1) != first


def test_workers_augment_each_epoch_anew_and_leave_validation_alone(tmp_path):
    write_folder(tmp_path / "imgs", per_class=10, size=(8, 8))
    data = load(tmp_path, workers=2)
    train = data.train.with_augment(Augment(AUGMENT, data.input_shape))
    generator = torch.Generator().manual_seed(0)
    one, two = ([x for x, _ in train.batches(4, generator=generator)] for _ in range(2))
    plain = [x for x, _ in data.train.batches(4)]
    assert not all(torch.equal(a, b) for a, b in zip(one, two))  # new random transforms each epoch
    assert not all(torch.equal(a, b) for a, b in zip(one, plain))
    assert torch.equal(torch.cat(plain), data.train.x)
    train.close()


def test_an_autoencoders_workers_give_the_unaugmented_image_as_the_target(tmp_path):
    write_folder(tmp_path / "imgs", per_class=10, size=(8, 8))
    data = load(tmp_path, workers=2, autoencoder=True)
    train = data.train.with_augment(Augment([{"type": "RandomHorizontalFlip", "p": 1.0}], data.input_shape))
    x, y = map(torch.cat, zip(*train.batches(4)))
    assert torch.equal(y, data.train.x) and torch.equal(x, y.flip(-1))
    train.close()


def test_listing_follows_links_skips_dangling_ones_and_refuses_a_pipe(tmp_path):
    write_folder(tmp_path / "imgs", per_class=3, size=(8, 8))
    (tmp_path / "imgs" / "cat" / "link.png").symlink_to(tmp_path / "imgs" / "dog" / "0.png")
    (tmp_path / "imgs" / "cat" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    data = load(tmp_path, workers=0)
    assert len(data.train) + len(data.val) == 7
    assert [path.name for path in data.train.cache.files[:4]] == ["0.png", "1.png", "2.png", "link.png"]
    os.mkfifo(tmp_path / "imgs" / "dog" / "pipe.png")
    with pytest.raises(UserError, match=r"'imgs/dog/pipe\.png' is a named pipe \(FIFO\), not an image file"):
        load(tmp_path, workers=0)


@pytest.mark.parametrize("entries, in_workers", [
    (AUGMENT, False),  # the engine's batched transforms: on the training thread once the cache is full
    ([{"type": "RandomRotation", "degrees": 10}], True),  # kornia's: still in the workers
])
def test_a_full_cache_augments_cheap_transforms_on_the_training_thread_and_others_in_the_workers(
        tmp_path, entries, in_workers):
    write_folder(tmp_path / "imgs", per_class=10, size=(8, 8))
    data = load(tmp_path, workers=2)
    augment = Augment(entries, data.input_shape)
    assert augment.cheap is not in_workers
    train = data.train.with_augment(augment)
    generator = torch.Generator().manual_seed(0)
    list(train.batches(4, generator=generator))  # the first epoch: the workers decode and augment
    assert train.cache.filled[train.rows].all()
    assert ("loader" in train.state) is in_workers  # cheap ones: the workers were let go with the cache full
    batches = list(train.batches(4, generator=generator))
    assert ("loader" in train.state) is in_workers
    x = torch.cat([x for x, _ in batches])
    assert x.shape == data.train.x.shape and not torch.equal(x, data.train.x)  # augmented either way
    train.close()


@pytest.mark.parametrize("autoencoder", [False, True])
def test_a_batch_augmented_before_normalising_equals_one_normalised_then_augmented(autoencoder):
    from engine.data.image_cache import float_batch, to_float

    normalization = {"mean": [0.4, 0.5, 0.6], "std": [0.2, 0.25, 0.3]}
    augment = Augment(AUGMENT, (3, 8, 8), normalization)
    mean, std = (torch.tensor(normalization[k]).view(1, 3, 1, 1) for k in ("mean", "std"))
    pixels = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    torch.manual_seed(3)
    x, target = float_batch(pixels, mean, std, augment, autoencoder)
    torch.manual_seed(3)
    expected = augment(to_float(pixels, mean, std))  # forward: undoes the normalisation around the transforms
    assert torch.allclose(x, expected, atol=1e-5) and not torch.allclose(x, to_float(pixels, mean, std))
    if autoencoder:
        assert torch.equal(target, to_float(pixels, mean, std))
    else:
        assert target is None


def test_a_run_on_auto_threads_fills_the_cache_on_the_fewest_threads_and_tunes_from_the_full_cache(
        tmp_path, monkeypatch):
    from engine.training.thread_tuner import ThreadTuner

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    epochs_begun = []
    start_epoch = ThreadTuner.start_epoch
    monkeypatch.setattr(ThreadTuner, "start_epoch", lambda self, epoch, workers=False: epochs_begun.append(
        (epoch, workers)) or start_epoch(self, epoch, workers))
    run = project(tmp_path)
    run.training.update(epochs=8, batch_size=2)  # 8 steps an epoch: the probe spans epochs 2 to 5
    before = torch.get_num_threads()
    try:
        trainer = Trainer(run, out_dir=tmp_path / "run", threads="auto")
        result = trainer.run()
    finally:
        torch.set_num_threads(before)
    assert result.status == "finished", result.message
    decisions = trainer.thread_tuner.decisions
    assert epochs_begun[:3] == [(1, True), (2, False), (3, False)]  # the workers fill the cache in epoch 1
    assert len(decisions) == 1 and decisions[0][0] in (2, 3, 4, 5)  # begun in epoch 2, not while workers decoded
