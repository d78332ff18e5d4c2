"""Augmentation declared in the dataset (kornia, on batches) and mixup/CutMix in the training settings."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from engine.augment_names import ARGUMENTS
from engine.data.augment import Augment, Mixer, mixed_loss
from engine.errors import UserError
from engine.training import Trainer
from graphs.project import Project, load_project
from tests.engine.test_image_folders_at_scale import two_class_nodes, write_folder

EXAMPLE = Path(__file__).resolve().parents[2] / "resources" / "examples" / "shapes_cnn_augment.json"
EVERY = [{"type": "RandomCrop", "size": [8, 8], "padding": 2}, {"type": "RandomResizedCrop", "size": 8,
         "scale": [0.5, 1.0]}, {"type": "RandomHorizontalFlip"}, {"type": "RandomVerticalFlip", "p": 0.3},
         {"type": "RandomRotation", "degrees": 20}, {"type": "ColorJitter", "brightness": 0.2, "contrast": 0.1,
         "saturation": 0.1, "hue": 0.05}, {"type": "RandomErasing", "p": 1.0}, {"type": "RandomGrayscale", "p": 1.0}]


def test_every_transform_keeps_the_shape_and_changes_the_images():
    assert {entry["type"] for entry in EVERY} == set(ARGUMENTS)
    torch.manual_seed(0)  # the transforms with p < 1 could otherwise leave all 16 images alone
    x = torch.rand(16, 3, 8, 8)
    for entry in EVERY:
        out = Augment([entry], (3, 8, 8))(x)
        assert out.shape == x.shape and not torch.equal(out, x), entry["type"]


def test_augmentation_is_seeded_and_works_in_pixel_units():
    x = torch.rand(4, 3, 8, 8)
    augment = Augment([{"type": "ColorJitter", "brightness": 0.5}], (3, 8, 8),
                      {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]})
    assert torch.equal(augment.preview(x, 7), augment.preview(x, 7))
    assert not torch.equal(augment.preview(x, 7), augment.preview(x, 8))
    flip = Augment([{"type": "RandomHorizontalFlip", "p": 1.0}], (3, 8, 8), {"mean": [0.5], "std": [0.25]})
    assert torch.allclose(flip(x), x.flip(-1), atol=1e-6)  # un-normalised and normalised again exactly


def test_flattened_inputs_are_augmented_as_images():
    x = torch.rand(4, 3 * 8 * 8)
    flipped = Augment([{"type": "RandomHorizontalFlip", "p": 1.0}], (3, 8, 8))(x)
    assert torch.equal(flipped, x.reshape(4, 3, 8, 8).flip(-1).reshape(4, -1))


@pytest.mark.parametrize(("entries", "message"), [
    ([{"type": "RandomFlip"}], r"augment entry 0 \('RandomFlip'\): unknown augmentation; choose one of: RandomCrop"),
    ([{"type": "RandomHorizontalFlip"}, {"type": "ColorJitter", "brightnes": 0.2}],
     r"augment entry 1 \('ColorJitter'\) has no argument 'brightnes'; its arguments are: brightness"),
    ([{"type": "RandomCrop"}], r"augment entry 0 \('RandomCrop'\) needs the argument 'size'"),
    ([{"type": "RandomResizedCrop", "size": [16, 16]}],
     r"augment entry 0 \('RandomResizedCrop'\) turns \[3, 8, 8\] images into \[3, 16, 16\].*set its size to \[8, 8\]"),
    ([{"type": "RandomHorizontalFlip", "p": 2}], r"augment entry 0 \('RandomHorizontalFlip'\): 'p' must be a prob"),
    ([{"type": "RandomRotation", "degrees": "lots"}], r"augment entry 0 \('RandomRotation'\): expected a number"),
    (["flip"], r'augment entry 0 must be an object with a "type"'),
    ({"type": "RandomHorizontalFlip"}, r'"augment" must be a list'),
])
def test_bad_entries_name_their_index_and_type(entries, message):
    with pytest.raises(UserError, match=message):
        Augment(entries, (3, 8, 8))


def test_mixup_and_cutmix_mix_the_loss_by_the_same_share():
    x = torch.arange(4.0).reshape(4, 1, 1, 1).expand(4, 1, 4, 4).contiguous()
    y = torch.arange(4)
    mixed, (other, lam) = Mixer(0.4, None, 0)(x, y)
    assert torch.allclose(mixed[:, 0, 0, 0], lam * y.float() + (1 - lam) * other.float())
    cut, (other, lam) = Mixer(None, 1.0, 3)(x, y)
    share = (cut == other.float().reshape(4, 1, 1, 1)).float().mean(dim=(1, 2, 3))
    moved = y != other
    assert torch.allclose(share[moved], torch.full_like(share[moved], 1 - lam))
    loss = mixed_loss(lambda out, target: target.float().sum(), None, y, (other, 0.25))
    assert loss == pytest.approx(0.25 * y.sum() + 0.75 * other.sum())


def _folder_project(tmp_path, **training) -> Project:
    write_folder(tmp_path / "imgs", per_class=8, size=(8, 8))
    data = json.loads(EXAMPLE.read_text())
    data["training"]["dataset"] = {"name": "image_folder", "path": "imgs", "workers": 0,
                                   "augment": [{"type": "RandomCrop", "size": [8, 8], "padding": 1},
                                               {"type": "RandomHorizontalFlip"}]}
    data["training"].update(epochs=1, batch_size=4, **training)
    data["nodes"] = two_class_nodes(data["nodes"])
    (tmp_path / "p.json").write_text(json.dumps(data))
    return load_project(tmp_path / "p.json")


def test_the_trainer_augments_training_batches_only(tmp_path, monkeypatch):
    from engine.data.augment import TrainingAugment

    seen = []
    original = TrainingAugment.__call__
    monkeypatch.setattr(TrainingAugment, "__call__", lambda self, x, y: seen.append(len(x)) or original(self, x, y))
    trainer = Trainer(_folder_project(tmp_path, mixup=0.2, cutmix=1.0), out_dir=tmp_path / "run")
    result = trainer.run()
    assert result.status == "finished", result.message
    assert sum(seen) == len(trainer.dataset.train)  # every training sample, and no validation sample


def test_the_same_seed_trains_the_same_weights(tmp_path):
    def weights(run):
        project = _folder_project(tmp_path / run, mixup=0.4)
        return Trainer(project, out_dir=tmp_path / run / "run").run().history[0]["train_loss"]
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    assert weights("a") == weights("b")


def test_a_bad_entry_fails_before_training_naming_it(tmp_path):
    project = _folder_project(tmp_path)
    training = copy.deepcopy(project.training)
    training["dataset"]["augment"][1] = {"type": "RandomHorizontalFlip", "q": 1}
    project.training = training
    with pytest.raises(UserError, match=r"augment entry 1 \('RandomHorizontalFlip'\) has no argument 'q'"):
        Trainer(project, out_dir=tmp_path / "run").run()
    assert not (tmp_path / "run").exists()


def test_mixup_without_a_cross_entropy_loss_says_why(tmp_path):
    _folder_project(tmp_path, mixup=0.2)
    data = json.loads((tmp_path / "p.json").read_text())
    for node in data["nodes"]:
        if node["id"] == "loss":
            node["type"] = "MultiMarginLoss"
    (tmp_path / "p.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"mixup and cutmix need a cross-entropy loss .*'loss' is MultiMarginLoss"):
        Trainer(load_project(tmp_path / "p.json"), out_dir=tmp_path / "run").run()


def test_mixup_on_an_autoencoder_says_why(tmp_path):
    _folder_project(tmp_path, mixup=0.2)
    data = json.loads((tmp_path / "p.json").read_text())
    data["training"]["dataset"]["autoencoder"] = True
    data["nodes"] = [{"id": "x", "type": "Input", "position": [0, 0]}, {"id": "y", "type": "Target", "position": [0, 0]},
                     {"id": "conv", "type": "Conv2d", "position": [0, 0], "params": {"out_channels": 3,
                                                                                  "kernel_size": 1}},
                     {"id": "loss", "type": "MSELoss", "position": [0, 0]}]
    data["edges"] = [{"source": "x", "target": "conv"}, {"source": "conv", "target": "loss", "target_port": "input"},
                     {"source": "y", "target": "loss", "target_port": "target"}]
    (tmp_path / "p.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="mixup and cutmix blend class labels, so they need a classification"):
        Trainer(load_project(tmp_path / "p.json"), out_dir=tmp_path / "run").run()


@pytest.mark.parametrize("value", [0, -1, "a", True])
def test_mixup_must_be_a_positive_alpha(tmp_path, value):
    from engine.training.config import TrainingConfig

    with pytest.raises(UserError, match="training setting 'mixup' must be a number between 0.0 and inf"):
        TrainingConfig.from_dict({"dataset": {"name": "digits"}, "mixup": value})
