"""Every example project trains (a few batches) and its weights fit the project it saved."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from engine.compiler import compile_graph
from engine.training import Trainer, load_weights
from graphs.project import load_project

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "resources" / "examples").glob("*.json"))


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
