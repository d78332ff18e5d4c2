"""Small trained projects for the predict tests: an image folder CNN, a CSV MLP, a weights file with any metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import main

COLOURS = {"blue": (30, 30, 220), "red": (220, 30, 30)}


def image_folder(root: Path, per_class: int = 10, size: int = 8) -> Path:
    """root/imgs/{blue,red}/N.png: noisy squares of one colour per class, seeded."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        folder = root / "imgs" / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(np.array(colour) + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root / "imgs"


def cnn_project(root: Path, dataset: dict, classes: int = 2, name: str = "p.json") -> Path:
    nodes = [{"id": "x", "type": "Input"}, {"id": "conv", "type": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3}},
             {"id": "flat", "type": "Flatten"}, {"id": "fc", "type": "Linear", "params": {"out_features": classes}},
             {"id": "y", "type": "Target"}, {"id": "loss", "type": "CrossEntropyLoss"}]
    return _write(root / name, nodes, dataset, loss_from="fc")


def mlp_project(root: Path, dataset: dict, out: int, loss: str = "CrossEntropyLoss", name: str = "p.json") -> Path:
    nodes = [{"id": "x", "type": "Input"}, {"id": "fc1", "type": "Linear", "params": {"out_features": 8}},
             {"id": "act", "type": "ReLU"}, {"id": "fc", "type": "Linear", "params": {"out_features": out}},
             {"id": "y", "type": "Target"}, {"id": "loss", "type": loss}]
    return _write(root / name, nodes, dataset, loss_from="fc")


def _write(path: Path, nodes: list, dataset: dict, loss_from: str) -> Path:
    chain = [n["id"] for n in nodes if n["type"] not in ("Target",) and n["id"] != "loss"]
    edges = [{"source": a, "target": b} for a, b in zip(chain, chain[1:])]
    edges += [{"source": loss_from, "target": "loss", "target_port": "input"},
              {"source": "y", "target": "loss", "target_port": "target"}]
    training = {"dataset": dataset, "val_split": 0.25, "batch_size": 8, "epochs": 3, "seed": 0, "device": "cpu",
                "optimizer": {"type": "Adam", "lr": 0.05}}
    path.write_text(json.dumps({"format": "neurocanvas", "version": 1, "name": "t", "nodes": nodes, "edges": edges,
                                "training": training}))
    return path


def train(project: Path, run: Path) -> Path:
    assert main.main(["train", str(project), "--out", str(run), "--quiet"]) == 0
    return run / "weights.safetensors"
