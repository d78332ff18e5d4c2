"""A synthetic tabular task and a small MLP project over it, shared by sections 2 and 3."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.models import mlp_classifier
from graphs.project import Project


def write_npz(folder: Path, samples: int, features: int = 32, classes: int = 10, seed: int = 0) -> Path:
    """Gaussian blobs, one per class: learnable, in memory, no download."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, (classes, features)).astype(np.float32)
    y = rng.integers(0, classes, samples)
    x = centres[y] + rng.normal(0, 1, (samples, features)).astype(np.float32)
    path = folder / f"blobs_{samples}.npz"
    np.savez(path, x=x.astype(np.float32), y=y.astype(np.int64))
    return path


def mlp_project(npz: Path, features: int = 32, hidden: int = 64, classes: int = 10, batch_size: int = 128,
                epochs: int = 3) -> Project:
    g = mlp_classifier([features], [hidden, hidden], classes)
    training = {"dataset": {"name": "npz", "path": str(npz)}, "val_split": 0.2, "batch_size": batch_size,
                "epochs": epochs, "seed": 0, "device": "cpu", "optimizer": {"type": "Adam", "lr": 0.001}}
    return Project(g, name="bench-mlp", training=training, path=npz.parent / "bench.json")
