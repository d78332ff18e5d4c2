"""Starting a run from weights trained elsewhere: partial loads, their report, and files that fit nothing."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from engine.errors import UserError
from engine.importers.torch_import import import_module
from engine.training import Trainer, read_weights
from engine.training.init_from import load_matching
from engine.weights import save_weights
from tests.engine.finetune_projects import cnn_project


def pretrained(tmp_path, classes=10):
    """A one-epoch run's final weights file."""
    result = Trainer(cnn_project(tmp_path, classes=classes), out_dir=tmp_path / "pretrain", max_batches=3).run()
    assert result.status == "finished"
    return result.weights


def prepared(project):
    trainer = Trainer(project)
    trainer.prepare()
    return trainer


def test_a_new_head_is_kept_random_and_reported_while_the_rest_loads(tmp_path):
    weights = pretrained(tmp_path)
    source = read_weights(weights)
    project = cnn_project(tmp_path, classes=5, init_from="pretrain/weights.safetensors")  # relative to the project
    trainer = prepared(project)
    state = trainer.model.state_dict()
    for name in ("conv1.weight", "conv1.bias", "bn1.weight", "bn1.running_var", "bn1.num_batches_tracked"):
        assert torch.equal(state[name], source[name]), name
    fresh = prepared(cnn_project(tmp_path, classes=5)).model.state_dict()
    assert torch.equal(state["fc.weight"], fresh["fc.weight"])  # as a run without init_from starts it
    report = trainer.init_report
    assert sorted(name for name, _ in report.mismatched) == ["fc.bias", "fc.weight"]
    notes = report.notes()
    assert notes[0].endswith("loaded 7 of 9 tensors")
    assert "fc.weight: [5, 256] here, [10, 256] in the file: kept random" in notes
    assert "fc.bias: [5] here, [10] in the file: kept random" in notes


def test_the_run_tells_what_it_loaded_in_its_notes_and_init_json(tmp_path):
    pretrained(tmp_path)
    project = cnn_project(tmp_path, classes=5, init_from="pretrain/weights.safetensors")
    started = []
    result = Trainer(project, out_dir=tmp_path / "tune", max_batches=2, callback=started.append).run()
    assert result.status == "finished"
    notes = started[0].notes
    assert any("fc.weight: [5, 256] here, [10, 256] in the file: kept random" in note for note in notes)
    record = json.loads((tmp_path / "tune" / "init.json").read_text())
    assert record["init_from"] == str(tmp_path / "pretrain" / "weights.safetensors")
    assert "conv1.weight" in record["loaded"]
    assert {"tensor": "fc.weight", "reason": "fc.weight: [5, 256] here, [10, 256] in the file"} in record["kept_random"]
    trained = json.loads((tmp_path / "tune" / "project.json").read_text())["training"]
    assert trained["init_from"] == str((tmp_path / "pretrain" / "weights.safetensors").resolve())


def test_tensors_missing_on_either_side_are_reported(tmp_path):
    pretrained(tmp_path)
    project = cnn_project(tmp_path, classes=10, head="head", init_from="pretrain/weights.safetensors")
    report = prepared(project).init_report
    assert report.missing_in_file == ["head.weight", "head.bias"]
    assert sorted(report.not_in_model) == ["fc.bias", "fc.weight"]
    assert "head.weight: not in the file: kept random" in report.notes()
    assert "2 tensors of the file are not in this model and were ignored" in report.notes()[0]


class Pretrained(nn.Module):
    """A model from elsewhere with a 20-class head, as import-torch reads it."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(256, 20)

    def forward(self, x):
        return self.fc(torch.relu(self.bn1(self.conv1(x))).flatten(1))


def test_weights_from_an_import_load_into_a_project_with_a_new_head(tmp_path):
    module = Pretrained()
    imported = import_module(module, [(1, 8, 8)])
    path = save_weights(imported.weights, tmp_path / "imported.safetensors")
    model = prepared(cnn_project(tmp_path, classes=10)).model
    report = load_matching(model, path)
    assert torch.equal(model.state_dict()["conv1.weight"], module.conv1.weight.detach())
    assert torch.equal(model.state_dict()["bn1.running_var"], module.bn1.running_var)
    assert "fc.weight: [10, 256] here, [20, 256] in the file: kept random" in report.notes()


def test_weights_of_another_model_entirely_are_refused_naming_the_file(tmp_path):
    other = tmp_path / "other.safetensors"
    save_weights({"encoder.weight": torch.zeros(3, 3), "fc.weight": torch.zeros(7, 7)}, other)
    project = cnn_project(tmp_path, init_from=str(other))
    with pytest.raises(UserError, match=r"no weight in '.*other.safetensors' fits this model.*"
                                        r"fc.weight: \[10, 256\] here, \[7, 7\] in the file"):
        Trainer(project, out_dir=tmp_path / "run").run()
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


@pytest.mark.parametrize("content", [None, b"not weights at all"])
def test_a_missing_or_damaged_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "w.safetensors"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match="w.safetensors"):
        prepared(cnn_project(tmp_path, init_from="w.safetensors"))


def test_init_from_must_be_a_path(tmp_path):
    with pytest.raises(UserError, match="init_from"):
        Trainer(cnn_project(tmp_path, init_from=3))


def test_a_frozen_node_the_file_has_nothing_for_is_pointed_out(tmp_path):
    pretrained(tmp_path)
    project = cnn_project(tmp_path, classes=10, head="head", init_from="pretrain/weights.safetensors")
    project.graph.set_training_options("head", trainable=False)
    project.graph.set_training_options("conv1", trainable=False)
    trainer = Trainer(project, out_dir=tmp_path / "run", max_batches=1, epochs=1)
    trainer.run()
    assert any(note.startswith("'head' is frozen but the initial weights had nothing for it") for note in trainer.notes)
    assert not any(note.startswith("'conv1' is frozen but") for note in trainer.notes)
