"""Weights on disk (engine.weights) and the safetensors export: round trips, and mismatches refused with
the tensor named and nothing copied."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from engine.errors import UserError
from engine.export import export_safetensors, prepare_model
from engine.weights import load_weights, read_weights, save_weights
from graphs import Graph, load_project

ROOT = Path(__file__).resolve().parents[2]


def residual(seed=0):
    return prepare_model(load_project(ROOT / "resources/examples/residual_cnn.json").graph, seed=seed)


def state_equal(a: nn.Module, b: nn.Module) -> bool:
    left, right = a.state_dict(), b.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


def test_export_and_load_round_trip_every_parameter_and_buffer(tmp_path):
    trained = residual(seed=1)
    trained.model.train()
    trained.model(torch.randn(8, 1, 8, 8))  # moves the batch-norm running statistics
    path = export_safetensors(trained, tmp_path / "w.safetensors")

    raw = load_file(path)  # a plain safetensors file: keys are the state_dict keys
    assert raw.keys() == trained.model.state_dict().keys()
    assert "conv1.weight" in raw and "bn1.running_mean" in raw and raw["bn1.num_batches_tracked"].item() == 1
    assert all(t.is_contiguous() for t in raw.values())
    fresh = residual(seed=2)
    assert not state_equal(fresh.model, trained.model)
    load_weights(fresh.model, path)
    assert state_equal(fresh.model, trained.model)


def test_weights_load_through_prepare_model(tmp_path):
    path = export_safetensors(residual(seed=3), tmp_path / "w.safetensors")
    assert state_equal(prepare_model(load_project(ROOT / "resources/examples/residual_cnn.json").graph,
                                     weights=path).model, residual(seed=3).model)


def test_non_contiguous_tensors_are_saved_contiguously(tmp_path):
    model = nn.Linear(3, 4)
    model.weight = nn.Parameter(torch.randn(3, 4).t())  # a transposed view
    assert not model.weight.is_contiguous()
    save_weights(model, tmp_path / "w.safetensors")
    assert torch.equal(read_weights(tmp_path / "w.safetensors")["weight"], model.weight.detach())


def test_a_file_of_another_model_names_the_tensor_and_changes_nothing(tmp_path):
    path = export_safetensors(residual(), tmp_path / "residual.safetensors")
    cnn = prepare_model(load_project(ROOT / "resources/examples/digits_cnn.json").graph)
    before = {k: v.clone() for k, v in cnn.model.state_dict().items()}
    with pytest.raises(UserError) as caught:
        load_weights(cnn.model, path)
    message = str(caught.value)
    assert "tensor 'conv1.weight' has shape [32, 1, 3, 3], the model needs [16, 1, 3, 3]" in message
    assert str(path) in message and "more" in message
    assert all(torch.equal(before[k], v) for k, v in cnn.model.state_dict().items())


@pytest.mark.parametrize("change, expected", [
    (lambda s: s.pop("fc.bias"), "tensor 'fc.bias' is missing"),
    (lambda s: s.update(extra=torch.zeros(1)), "tensor 'extra' is not part of the model"),
    (lambda s: s.update({"fc.weight": torch.zeros(10, 3)}), "tensor 'fc.weight' has shape [10, 3]"),
])
def test_each_kind_of_mismatch_is_named(tmp_path, change, expected):
    compiled = prepare_model(load_project(ROOT / "resources/examples/digits_cnn.json").graph)
    state = {k: v.clone() for k, v in compiled.model.state_dict().items()}
    change(state)
    save_file(state, tmp_path / "w.safetensors")
    with pytest.raises(UserError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        load_weights(compiled.model, tmp_path / "w.safetensors")


def test_files_that_are_not_safetensors_are_refused_without_unpickling(tmp_path):
    model = nn.Linear(2, 2)
    with pytest.raises(UserError, match="does not exist"):
        load_weights(model, tmp_path / "missing.safetensors")
    with pytest.raises(UserError, match="is a folder"):
        load_weights(model, tmp_path)
    torch.save(model.state_dict(), tmp_path / "model.pt")  # a pickle: never opened as one
    with pytest.raises(UserError, match="not a safetensors weights file"):
        load_weights(model, tmp_path / "model.pt")
    (tmp_path / "project.json").write_text(json.dumps({"format": "neurocanvas"}))
    with pytest.raises(UserError, match="not a safetensors weights file"):
        read_weights(tmp_path / "project.json")


def test_an_unwritable_destination_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="cannot write weights file"):
        save_weights(nn.Linear(2, 2), tmp_path / "missing" / "w.safetensors")


def test_random_weights_are_seeded_and_leave_the_global_generator_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first, again, other = residual(seed=5), residual(seed=5), residual(seed=6)
    assert torch.equal(torch.rand(1), expected_next)
    assert state_equal(first.model, again.model) and not state_equal(first.model, other.model)


def test_a_graph_that_cannot_compile_is_a_user_error_naming_the_node():
    graph = Graph()
    graph.add_node("Input", {"shape": [3, 4, 4]}, "x")
    graph.add_node("Linear", {"out_features": 2}, "fc")
    graph.add_node("Conv2d", {"kernel_size": 9}, "conv")
    graph.connect("x", "conv")
    graph.connect("conv", "fc")
    with pytest.raises(UserError, match="node 'conv'"):
        prepare_model(graph)
