"""Freezing and learning-rate multipliers of layers inside units: each expanded layer
(`stack.0.conv`) gets its inner node's settings combined with its instance's (an instance frozen
freezes all its layers; multipliers multiply)."""

from __future__ import annotations

import torch

from engine.training import Trainer, read_weights
from graphs.project import project_from_dict
from tests.engine.finetune_projects import cnn_data


def unit_project(tmp_path, inner: dict | None = None, outer: dict | None = None, **training):
    """x -> Repeat(Block ×2) -> flat -> fc on digits; Block is conv -> bn -> act, its conv with the
    training options `inner`, the Repeat with `outer`."""
    data = cnn_data(**training)
    data["version"] = 2
    block = {"name": "Block", "params": {"planes": 4}, "nodes": [
        {"id": "x", "type": "UnitInput"},
        {"id": "conv", "type": "Conv2d", "params": {"out_channels": {"ref": "planes"}, "kernel_size": 3,
                                                     "padding": 1}, **(inner or {})},
        {"id": "bn", "type": "BatchNorm2d"},
        {"id": "act", "type": "ReLU"},
        {"id": "out", "type": "UnitOutput"}],
        "edges": [{"source": a, "target": b} for a, b in (("x", "conv"), ("conv", "bn"), ("bn", "act"),
                                                           ("act", "out"))]}
    data["units"] = [block]
    data["nodes"] = [n for n in data["nodes"] if n["id"] not in ("conv1", "bn1", "act1")]
    data["nodes"].insert(1, {"id": "stack", "type": "Repeat", "params": {"unit": "Block", "count": 2},
                             **(outer or {})})
    data["edges"] = [e for e in data["edges"] if e["source"] not in ("x", "conv1", "bn1", "act1")]
    data["edges"] += [{"source": "x", "target": "stack", "target_port": "x"}, {"source": "stack", "target": "flat"}]
    return project_from_dict(data, str(tmp_path / "units.json"))


def train(project, tmp_path):
    trainer = Trainer(project, out_dir=tmp_path / "run", max_batches=4)
    trainer.prepare()
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.run()
    assert result.status == "finished", result.message
    return trainer, before, read_weights(result.weights)


def test_a_frozen_layer_inside_a_unit_keeps_its_weights_in_every_copy(tmp_path):
    trainer, before, after = train(unit_project(tmp_path, inner={"trainable": False}), tmp_path)
    for copy in ("0", "1"):
        for name in (f"stack.{copy}.conv.weight", f"stack.{copy}.conv.bias"):
            assert torch.equal(after[name], before[name]), name
        assert not torch.equal(after[f"stack.{copy}.bn.weight"], before[f"stack.{copy}.bn.weight"])
    assert not torch.equal(after["fc.weight"], before["fc.weight"])
    assert sorted(trainer.fine_tuning.frozen) == ["stack.0.conv", "stack.1.conv"]
    assert any("frozen: 'stack.0.conv', 'stack.1.conv'" in note for note in trainer.notes)


def test_a_frozen_instance_freezes_all_its_layers(tmp_path):
    trainer, before, after = train(unit_project(tmp_path, outer={"trainable": False}), tmp_path)
    for name in before:
        if name.startswith("stack."):
            assert torch.equal(after[name], before[name]), name  # BatchNorm statistics too
    assert not torch.equal(after["fc.weight"], before["fc.weight"])


def test_inner_and_instance_lr_multipliers_multiply(tmp_path):
    project = unit_project(tmp_path, inner={"lr_mult": 3.0}, outer={"lr_mult": 2.0})
    trainer = Trainer(project, out_dir=tmp_path / "run", max_batches=1)
    trainer.prepare()
    groups = trainer.fine_tuning.param_groups(trainer.model, 0.01)
    by_mult = {group["lr_mult"]: {id(p) for p in group["params"]} for group in groups}
    named = {name: id(p) for name, p in trainer.model.named_parameters()}
    assert by_mult.keys() == {1.0, 2.0, 6.0}
    assert by_mult[6.0] == {named[n] for n in named if ".conv." in n}
    assert by_mult[2.0] == {named[n] for n in named if ".bn." in n}
    assert by_mult[1.0] == {named["fc.weight"], named["fc.bias"]}


def test_a_frozen_inner_layer_the_initial_weights_lack_is_pointed_out(tmp_path):
    import safetensors.torch

    trainer = Trainer(unit_project(tmp_path))
    trainer.prepare()
    state = {k: v.contiguous() for k, v in trainer.model.state_dict().items() if not k.startswith("stack.1.conv.")}
    safetensors.torch.save_file(state, str(tmp_path / "init.safetensors"))
    project = unit_project(tmp_path, inner={"trainable": False}, init_from="init.safetensors")
    tuned = Trainer(project, out_dir=tmp_path / "run", max_batches=1)
    assert tuned.run().status == "finished"
    random = [note for note in tuned.notes if "is frozen but the initial weights had nothing" in note]
    assert len(random) == 1 and random[0].startswith("'stack.1.conv'")
