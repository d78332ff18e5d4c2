"""The engine's optimizers run on torch's fused kernels where they can, with the same results as torch's default."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.errors import UserError
from engine.training import Trainer, read_weights
from engine.training import optim as optim_module
from engine.training.optim import build_optimizer, fused_possible
from graphs.project import project_from_dict
from tests.engine.finetune_projects import cnn_data, cnn_project


def small_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def two_groups(model: nn.Module) -> list[dict]:
    """Param groups as the trainer makes them for a per-node lr multiplier (see fine_tune.param_groups)."""
    return [{"params": model[2].parameters(), "lr": 1e-2, "lr_mult": 1.0},
            {"params": model[0].parameters(), "lr": 1e-3, "lr_mult": 0.1}]


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 6) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(32, 8, generator=generator), torch.randint(0, 3, (32,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


SETTINGS = [
    {"type": "Adam"},
    {"type": "Adam", "lr": 0.01, "betas": [0.8, 0.99], "weight_decay": 0.1, "amsgrad": True},
    {"type": "AdamW", "lr": 0.01, "weight_decay": 0.05},
    {"type": "SGD", "lr": 0.1},
    {"type": "SGD", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
]


@pytest.mark.parametrize("spec", SETTINGS, ids=lambda spec: "-".join(map(str, spec.values())))
def test_a_fused_step_matches_torchs_default_implementation_with_param_groups(spec):
    fused_model, default_model = small_model(), small_model()
    fused = build_optimizer(spec, two_groups(fused_model))
    cls, kwargs = optim_module.optimizer_settings(spec)
    default = cls(two_groups(default_model), **kwargs)  # torch's default: the for-loop on the CPU
    assert fused.defaults["fused"] is True and all(group["fused"] for group in fused.param_groups)
    assert not default.defaults.get("fused")
    assert [g["lr"] for g in fused.param_groups] == [1e-2, 1e-3]
    assert [g["lr_mult"] for g in fused.param_groups] == [1.0, 0.1]
    expected, got = train_steps(default_model, default), train_steps(fused_model, fused)
    assert not torch.equal(got, torch.cat([p.detach().flatten() for p in small_model().parameters()]))
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-7)


def test_an_optimizer_without_a_fused_kernel_uses_torchs_default():
    optimizer = build_optimizer({"type": "RMSprop", "lr": 0.01}, small_model().parameters())
    assert not optimizer.defaults.get("fused")
    train_steps(small_model(), optimizer, steps=1)


@pytest.mark.parametrize("tensor", [torch.zeros(3, dtype=torch.complex64, requires_grad=True),
                                    torch.zeros(3, device="meta", requires_grad=True)],
                         ids=["complex", "device-without-fused-kernels"])
def test_tensors_the_fused_kernel_refuses_get_torchs_default(tensor):
    model = small_model()
    assert not fused_possible(torch.optim.Adam, [*model.parameters(), tensor])
    optimizer = build_optimizer({"type": "Adam"}, [*model.parameters(), tensor])
    assert not optimizer.defaults.get("fused")


def test_a_complex_parameter_trains_on_torchs_default():
    weight = torch.ones(3, dtype=torch.complex64, requires_grad=True)
    optimizer = build_optimizer({"type": "Adam", "lr": 0.1}, [weight])
    (weight.abs() ** 2).sum().backward()
    optimizer.step()
    assert weight.abs().max() < 1


def test_a_model_with_sparse_gradients_gets_torchs_default_and_trains():
    model = nn.Embedding(10, 4, sparse=True)
    optimizer = build_optimizer({"type": "SGD", "lr": 0.1}, model.parameters(), model=model)
    assert not optimizer.defaults.get("fused")
    before = model.weight.detach().clone()
    model(torch.tensor([1, 2])).sum().backward()
    assert model.weight.grad.is_sparse
    optimizer.step()
    assert not torch.equal(model.weight, before)
    assert fused_possible(torch.optim.SGD, list(nn.Embedding(10, 4).parameters()), nn.Embedding(10, 4))


def test_a_fused_kernel_that_refuses_at_construction_falls_back(monkeypatch):
    class PickySGD(torch.optim.SGD):
        def __init__(self, params, lr=1e-3, momentum=0.0, fused=None):
            if fused:
                raise RuntimeError("fused is not supported here")
            super().__init__(params, lr=lr, momentum=momentum)

    monkeypatch.setitem(optim_module.OPTIMIZERS, "SGD", PickySGD)
    model = small_model()
    optimizer = build_optimizer({"type": "SGD", "lr": 0.1}, two_groups(model))
    assert isinstance(optimizer, PickySGD) and not optimizer.defaults.get("fused")
    assert [len(group["params"]) for group in optimizer.param_groups] == [2, 2]  # the groups were not used up
    train_steps(model, optimizer, steps=1)


def test_bad_settings_are_still_a_user_error():
    with pytest.raises(UserError, match="optimizer Adam"):
        build_optimizer({"type": "Adam", "lr": -1.0}, small_model().parameters())
    with pytest.raises(UserError, match="empty parameter list"):
        build_optimizer({"type": "Adam"}, [])


def test_the_trainer_steps_on_the_fused_kernel_with_per_node_rates(tmp_path):
    project = cnn_project(tmp_path, optimizer={"type": "AdamW", "lr": 0.01, "weight_decay": 0.01})
    project.graph.set_training_options("conv1", lr_mult=0.5)
    trainer = Trainer(project, out_dir=tmp_path / "run", max_batches=3)
    result = trainer.run()
    assert result.status == "finished", result.message
    groups = trainer._optimizer.param_groups
    assert all(group["fused"] for group in groups)
    assert [pytest.approx(group["lr"]) for group in groups] == [0.01, 0.005]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_fused_step_on_cuda_matches_torchs_default():
    fused_model, default_model = small_model().cuda(), small_model().cuda()
    fused = build_optimizer({"type": "Adam", "lr": 0.01}, fused_model.parameters())
    default = torch.optim.Adam(default_model.parameters(), lr=0.01)  # foreach on CUDA
    assert fused.defaults["fused"] is True

    def steps(model, optimizer):
        generator = torch.Generator(device="cuda").manual_seed(1)
        for _ in range(6):
            x = torch.randn(32, 8, generator=generator, device="cuda")
            y = torch.randint(0, 3, (32,), generator=generator, device="cuda")
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    torch.testing.assert_close(steps(fused_model, fused), steps(default_model, default), rtol=1e-5, atol=1e-6)


def mlp_project(tmp_path, **training):
    """Input [1, 8, 8] -> Flatten -> Linear(32) -> ReLU -> Linear(10) -> CrossEntropyLoss, on digits. (No
    BatchNorm after a biased layer: that bias gets a zero gradient up to rounding, which Adam scales up to full
    steps, so there any change in rounding shows.)"""
    data = cnn_data(**training)
    data["nodes"] = [node for node in data["nodes"] if node["id"] not in ("conv1", "bn1")]
    data["nodes"].insert(1, {"id": "hidden", "type": "Linear", "params": {"out_features": 32}})
    data["edges"] = [{"source": a, "target": b} for a, b in [("x", "flat"), ("flat", "hidden"),
                                                               ("hidden", "act1"), ("act1", "fc")]]
    data["edges"] += [{"source": "fc", "target": "loss", "target_port": "input"},
                      {"source": "y", "target": "loss", "target_port": "target"}]
    return project_from_dict(data, str(tmp_path / "mlp.json"))


def test_the_trainer_trains_as_torchs_default_adam_loop_over_the_same_batches(tmp_path):
    """The engine's step (fused Adam, gradients released a tensor at a time) changes nothing in the numbers."""
    project = mlp_project(tmp_path, optimizer={"type": "Adam", "lr": 0.01}, batch_size=64, epochs=2)
    start = Trainer(project)
    start.prepare()
    model, dataset = start.model, start.dataset
    initial = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    result = Trainer(project, out_dir=tmp_path / "run", max_batches=6).run()
    assert result.status == "finished", result.message

    model.load_state_dict(initial)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)  # torch's default implementation
    generator = torch.Generator().manual_seed(project.training["seed"])
    model.train()
    for _ in range(2):
        for x, y in dataset.train.batches(64, shuffle=True, generator=generator, limit=6):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    trained = read_weights(result.weights)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(trained[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
