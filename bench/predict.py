"""Section 12: predict, and the int8 ONNX export.

A folder of 32x32 PNGs (4,000, 1,000 with --quick; seeded noise, ten classes) is written to a
temporary folder, and a small CNN (two 3x3 convolutions, pooling, a linear layer; seeded random
weights, saved with the metadata an image-folder run writes) is loaded as `predict` loads it, once: the
command's own start (imports, compiling) is left out, as the issue asks. Measured on one
thread: images a second through the engine's predict path (`Predictor.batches` + `run`:
reading, preparing, the model, softmax and top-k; torch on one thread, the next batch read while
the model runs), goal >= 500/s; and its ratio against a plain
hand-written loop doing the same work (Pillow, numpy, `model(x)`, softmax, top-k) in the same
run, rounds interleaved. Then the same model exported to ONNX and quantized to int8, dynamic and
static (calibrated on the images): each int8 file's size and onnxruntime speed against the float
file's.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Row, interleaved, summarise

SECTION = "12. Predict"
GOAL = 500.0  # images a second
SIZE = 32
CLASSES = 10
BATCH = 256

NODES = [
    {"id": "x", "type": "Input", "params": {"shape": [3, SIZE, SIZE]}},
    {"id": "conv1", "type": "Conv2d", "params": {"out_channels": 16, "kernel_size": 3, "padding": 1}},
    {"id": "act1", "type": "ReLU"}, {"id": "pool1", "type": "MaxPool2d", "params": {"kernel_size": 2}},
    {"id": "conv2", "type": "Conv2d", "params": {"out_channels": 32, "kernel_size": 3, "padding": 1}},
    {"id": "act2", "type": "ReLU"}, {"id": "pool2", "type": "MaxPool2d", "params": {"kernel_size": 2}},
    {"id": "flat", "type": "Flatten"}, {"id": "fc", "type": "Linear", "params": {"out_features": CLASSES}},
]
MEAN, STD = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]


def _images(folder: Path, count: int) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"c{i % CLASSES}" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return sorted(paths)


def _project(folder: Path):
    from engine.export import prepare_model
    from engine.weights import save_weights
    from graphs.project import load_project

    chain = [node["id"] for node in NODES]
    path = folder / "project.json"
    path.write_text(json.dumps({"format": "neurocanvas", "version": 1, "name": "bench-predict", "nodes": NODES,
                                "edges": [{"source": a, "target": b} for a, b in zip(chain, chain[1:])]}))
    project = load_project(path)
    preprocessing = {"kind": "images", "size": [SIZE, SIZE], "channels": 3, "mean": MEAN, "std": STD}
    weights = save_weights(prepare_model(project.graph, seed=0).model, folder / "weights.safetensors", {
        "metric": "val_accuracy", "normalization": json.dumps({"mean": MEAN, "std": STD}),
        "preprocessing": json.dumps(preprocessing), "class_names": json.dumps([f"c{i}" for i in range(CLASSES)])})
    return project, weights


def _hand_written(model, paths: list[Path]) -> list:
    """What a person would write: Pillow, numpy, the model, softmax and top-3, a batch at a time."""
    import torch
    from PIL import Image

    mean = np.asarray(MEAN, dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(STD, dtype=np.float32).reshape(3, 1, 1)
    answers = []
    for start in range(0, len(paths), BATCH):
        chunk = paths[start:start + BATCH]
        x = np.empty((len(chunk), 3, SIZE, SIZE), dtype=np.float32)
        for i, path in enumerate(chunk):
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
            x[i] = (pixels.transpose(2, 0, 1) - mean) / std
        with torch.inference_mode():
            probabilities = model(torch.from_numpy(x)).softmax(1)
        answers += probabilities.topk(3, dim=1).indices.tolist()
    return answers


def run(quick: bool = False) -> list[Row]:
    import torch

    torch.set_num_threads(1)
    from engine.predict import Predictor

    count, rounds = (1000, 3) if quick else (4000, 5)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "images").mkdir()
        paths = _images(root / "images", count)
        project, weights = _project(root)
        predictor = Predictor.load(project, weights)

        def engine() -> float:
            start = time.perf_counter()
            answers = list(predictor.run(predictor.batches([root / "images"], batch_size=BATCH)))
            assert len(answers) == count and all(p.error is None for p in answers)
            return time.perf_counter() - start

        def hand() -> float:
            start = time.perf_counter()
            assert len(_hand_written(predictor.model, paths)) == count
            return time.perf_counter() - start

        engine(), hand()  # warm the file cache and the allocator
        seconds = [engine() for _ in range(rounds)]
        speed, spread = summarise([count / s for s in seconds], 0)
        ratio, ratio_spread = summarise(interleaved(hand, engine, rounds))
        rows = [
            Row(SECTION, "predict: images a second (32x32 PNG, small CNN, torch 1 thread)", speed, "images/s",
                f">= {GOAL:.0f}/s", speed >= GOAL, spread + " images/s", f"{count} images, batches of {BATCH}"),
            Row(SECTION, "predict vs a hand-written Pillow + model(x) loop", ratio, "x", "", None, ratio_spread,
                "throughput ratio; the same reading, scaling, model, softmax and top-3"),
        ]
        rows += _quantized(predictor, root, paths[:BATCH])
    return rows


def _quantized(predictor, root: Path, sample: list[Path]) -> list[Row]:
    """The int8 files' size and onnxruntime speed against the float file's, dynamic and static."""
    from engine.export import export_onnx
    from engine.export.quantize import figures, quantize_onnx

    float_path = root / "float32.onnx"
    export_onnx(predictor.compiled, float_path)
    x = predictor.tensor(sample).numpy()
    batch = [(x, np.zeros(len(sample), dtype=np.int64))]
    floats = figures(float_path, batch, None)
    rows = []
    for calibrate in ("dynamic", "static"):
        int8_path = root / f"int8-{calibrate}.onnx"
        quantize_onnx(float_path, int8_path, calibrate=calibrate, calibration=[x[i:i + 64] for i in range(0, len(x), 64)])
        ints = figures(int8_path, batch, None)
        rows += [
            Row(SECTION, f"int8 ONNX ({calibrate}): size vs float32", ints.bytes / floats.bytes, "x", "", None,
                f"{ints.bytes / 1024:.0f} KB vs {floats.bytes / 1024:.0f} KB"),
            Row(SECTION, f"int8 ONNX ({calibrate}): onnxruntime speed vs float32",
                floats.ms_per_batch / ints.ms_per_batch, "x", "", None,
                f"{ints.ms_per_batch:.2f} ms vs {floats.ms_per_batch:.2f} ms a batch of 64"),
        ]
    return rows
