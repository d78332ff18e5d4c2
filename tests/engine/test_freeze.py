"""Frozen nodes and per-node learning-rate multipliers: what training does with them."""

from __future__ import annotations

import pytest
import torch

from engine.errors import UserError
from engine.training import Trainer, read_weights
from tests.engine.finetune_projects import cnn_project


def train(project, tmp_path, name="run", **options):
    trainer = Trainer(project, out_dir=tmp_path / name, max_batches=4, **options)
    result = trainer.run()
    assert result.status == "finished", result.message
    return trainer, result


def initial_state(project):
    trainer = Trainer(project)
    trainer.prepare()
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_a_frozen_node_keeps_its_weights_and_batchnorm_statistics_bit_for_bit(tmp_path):
    project = cnn_project(tmp_path)
    project.graph.set_training_options("conv1", trainable=False)
    project.graph.set_training_options("bn1", trainable=False)
    before = initial_state(project)
    trainer, result = train(project, tmp_path)
    after = read_weights(result.weights)
    for name in ("conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                 "bn1.num_batches_tracked"):
        assert torch.equal(after[name], before[name]), name
    assert not torch.equal(after["fc.weight"], before["fc.weight"])
    frozen = {p for name, p in trainer.model.named_parameters() if name.startswith(("conv1.", "bn1."))}
    assert all(not p.requires_grad and p.grad is None for p in frozen)
    optimizer = trainer._optimizer
    assert not frozen & {p for group in optimizer.param_groups for p in group["params"]}
    assert not frozen & set(optimizer.state)
    assert any("frozen: 'conv1', 'bn1'" in note for note in trainer.notes)


def test_batchnorm_of_a_frozen_node_updates_its_statistics_when_the_option_is_off(tmp_path):
    project = cnn_project(tmp_path, freeze_batchnorm=False)
    project.graph.set_training_options("bn1", trainable=False)
    before = initial_state(project)
    _, result = train(project, tmp_path)
    after = read_weights(result.weights)
    assert torch.equal(after["bn1.weight"], before["bn1.weight"])
    assert not torch.equal(after["bn1.running_mean"], before["bn1.running_mean"])


def test_unfrozen_training_changes_every_node(tmp_path):
    project = cnn_project(tmp_path)
    before = initial_state(project)
    _, result = train(project, tmp_path)
    after = read_weights(result.weights)
    assert all(not torch.equal(after[name], before[name]) for name in ("conv1.weight", "bn1.running_mean"))


def test_lr_multipliers_give_one_param_group_each_with_the_scaled_rate(tmp_path):
    project = cnn_project(tmp_path, optimizer={"type": "SGD", "lr": 0.1})
    project.graph.set_training_options("conv1", lr_mult=0.1)
    project.graph.set_training_options("bn1", lr_mult=0.1)
    trainer, _ = train(project, tmp_path)
    groups = trainer._optimizer.param_groups
    assert [pytest.approx(g["lr"]) for g in groups] == [0.1, 0.01]
    names = {id(p): name for name, p in trainer.model.named_parameters()}
    assert sorted(names[id(p)] for p in groups[1]["params"]) == ["bn1.bias", "bn1.weight", "conv1.bias",
                                                                "conv1.weight"]
    assert sorted(names[id(p)] for p in groups[0]["params"]) == ["fc.bias", "fc.weight"]


@pytest.mark.parametrize("schedule", [{"type": "step", "step_size": 1, "gamma": 0.5},
                                      {"type": "one-cycle", "max_lr": 0.2}])
def test_lr_multipliers_hold_through_a_schedule(tmp_path, schedule):
    project = cnn_project(tmp_path, optimizer={"type": "SGD", "lr": 0.1}, schedule=schedule, epochs=2)
    project.graph.set_training_options("conv1", lr_mult=0.25)
    trainer, result = train(project, tmp_path)
    fc, conv = trainer._optimizer.param_groups
    assert conv["lr"] == pytest.approx(fc["lr"] * 0.25)
    if schedule["type"] == "step":
        assert result.history[1]["lr"] == pytest.approx(0.05)
        assert conv["lr"] == pytest.approx(0.1 * 0.25 * 0.25)
    else:
        assert conv["max_lr"] == pytest.approx(0.2 * 0.25) and fc["max_lr"] == pytest.approx(0.2)


def test_freezing_every_node_with_weights_is_a_clear_error(tmp_path):
    project = cnn_project(tmp_path)
    for node_id in ("conv1", "bn1", "fc"):
        project.graph.set_training_options(node_id, trainable=False)
    with pytest.raises(UserError, match="every node with weights is frozen .*'conv1', 'bn1', 'fc'.*nothing to train"):
        Trainer(project, out_dir=tmp_path / "run").run()
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
