"""Fixtures for the data and training tests: small projects written to tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphs.project import load_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.json"))


def project_data(dataset: dict, *, classes: int | None = 2, loss: str = "CrossEntropyLoss", hidden: int = 16,
                 input_params: dict | None = None, target_params: dict | None = None, **training) -> dict:
    """A small MLP project: Input -> Linear -> ReLU -> Linear -> loss <- Target (shapes from the data)."""
    out = classes if classes is not None else 1
    nodes = [
        {"id": "x", "type": "Input", "params": input_params or {}},
        {"id": "fc1", "type": "Linear", "params": {"out_features": hidden}},
        {"id": "act", "type": "ReLU"},
        {"id": "fc2", "type": "Linear", "params": {"out_features": out}},
        {"id": "y", "type": "Target", "params": target_params or {}},
        {"id": "loss", "type": loss},
    ]
    edges = [
        {"source": "x", "target": "fc1"}, {"source": "fc1", "target": "act"}, {"source": "act", "target": "fc2"},
        {"source": "fc2", "target": "loss", "target_port": "input"},
        {"source": "y", "target": "loss", "target_port": "target"},
    ]
    settings = {"dataset": dataset, "val_split": 0.25, "batch_size": 16, "epochs": 2, "seed": 0, "device": "cpu",
                "optimizer": {"type": "Adam", "lr": 0.01}}
    settings.update(training)
    return {"format": "neurocanvas", "version": 1, "name": "test", "nodes": nodes, "edges": edges,
            "training": settings}


@pytest.fixture
def write_project(tmp_path):
    """write_project(dataset, **options) -> Project loaded from tmp_path/project.json."""

    def write(dataset: dict, name: str = "project.json", **options):
        path = tmp_path / name
        path.write_text(json.dumps(project_data(dataset, **options)))
        return load_project(path)

    return write


@pytest.fixture
def moons_project(write_project):
    return write_project({"name": "moons", "n_samples": 160, "noise": 0.1})


@pytest.fixture
def sine_project(write_project):
    return write_project({"name": "sine", "n_samples": 160}, classes=None, loss="MSELoss")
