"""Small projects for the fine-tuning, init-from and cross-validation tests (digits, a few batches)."""

from __future__ import annotations

from graphs.project import project_from_dict


def cnn_data(classes: int = 10, head: str = "fc", dataset: dict | None = None, **training) -> dict:
    """Input -> Conv2d -> BatchNorm2d -> ReLU -> Flatten -> Linear(`classes`) -> loss, on digits."""
    nodes = [
        {"id": "x", "type": "Input", "params": {"shape": [1, 8, 8]}},
        {"id": "conv1", "type": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
        {"id": "bn1", "type": "BatchNorm2d"},
        {"id": "act1", "type": "ReLU"},
        {"id": "flat", "type": "Flatten"},
        {"id": head, "type": "Linear", "params": {"out_features": classes}},
        {"id": "y", "type": "Target", "params": {"shape": [], "dtype": "int64"}},
        {"id": "loss", "type": "CrossEntropyLoss"},
    ]
    chain = ["x", "conv1", "bn1", "act1", "flat", head]
    edges = [{"source": a, "target": b} for a, b in zip(chain, chain[1:])]
    edges += [{"source": head, "target": "loss", "target_port": "input"},
              {"source": "y", "target": "loss", "target_port": "target"}]
    dataset = dataset or {"name": "digits", **({"classes": list(range(classes))} if classes < 10 else {})}
    settings = {"dataset": dataset, "val_split": 0.25, "batch_size": 32, "epochs": 1,
                "seed": 0, "device": "cpu", "optimizer": {"type": "Adam", "lr": 0.01}}
    settings.update(training)
    return {"format": "neurocanvas", "version": 1, "name": "cnn", "nodes": nodes, "edges": edges,
            "training": settings}


def cnn_project(tmp_path, **options):
    """`cnn_data(**options)` as a project saved in `tmp_path` (so relative paths resolve there)."""
    return project_from_dict(cnn_data(**options), str(tmp_path / "cnn.json"))
