"""Every example project trains (a few batches) and its weights fit the project it saved."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import fx

from engine.compiler import compile_graph
from engine.training import Trainer, load_weights
from graphs.project import load_project

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_trains_a_few_batches(path, tmp_path):
    project = load_project(path)
    result = Trainer(project, epochs=2, max_batches=3, out_dir=tmp_path).run()
    assert result.status == "finished", result.message
    assert len(result.history) == 2
    assert all(math.isfinite(row["train_loss"]) and math.isfinite(row["val_loss"]) for row in result.history)
    trained = load_project(tmp_path / "project.json")
    model = compile_graph(trained.graph).model
    load_weights(model, result.weights)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def _node_values(model: fx.GraphModule, *inputs) -> dict[str, torch.Tensor]:
    """Every step's value in one forward pass, by fx node name (a node's result is named by its id)."""
    values = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            values[n.name] = super().run_node(n)
            return values[n.name]

    Recorder(model).run(*inputs)
    return values


def test_the_vae_example_minimises_reconstruction_plus_the_weighted_kl_divergence():
    project = load_project(EXAMPLES_DIR / "digits_vae.json")
    compiled = compile_graph(project.graph)
    model = compiled.model.eval()  # eval: Sample passes the mean, so the pass is deterministic
    x = torch.rand(5, 1, 8, 8)
    values = _node_values(model, x)
    mu, logvar = values["mu"], values["logvar"]
    kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)  # KL(N(mu, var) || N(0, I)) per sample
    torch.testing.assert_close(values["kl"], kl)
    beta = project.graph.node("kl_loss").params["loss_weight"]
    assert 0 < beta < 1
    loss = compiled.compute_loss(model(x), {"target": x})
    torch.testing.assert_close(loss, F.mse_loss(values["img"], x) + beta * kl.mean())


def test_the_mobilenet_example_uses_depthwise_convolutions():
    model = compile_graph(load_project(EXAMPLES_DIR / "digits_mobilenetv2.json").graph).model
    depthwise = [m for name, m in model.named_children() if name.endswith("_dw")]
    assert len(depthwise) == 3
    assert all(m.groups == m.in_channels == m.out_channels > 1 for m in depthwise)
    assert any(m.stride == (2, 2) for m in depthwise)
