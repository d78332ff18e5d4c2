"""Makes `08_transfer_learning.safetensors`, the weights lesson 8 starts from.

They are the small CNN of `resources/examples/digits_0to4_cnn.json` trained on the digits 0-4 (built-in
data, no download) on the CPU with one thread and the project's seed, so the file can be rebuilt here:

    .venv/bin/python resources/lessons/08_transfer_learning_weights.py [OUT]

tests/engine/test_lesson_transfer.py rebuilds it and compares it with the shipped file.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRETRAINING = ROOT / "resources" / "examples" / "digits_0to4_cnn.json"
WEIGHTS = Path(__file__).resolve().with_name("08_transfer_learning.safetensors")
EPOCHS = 10


def make_weights(out: Path = WEIGHTS) -> Path:
    """Train the digits 0-4 CNN and write its final weights to `out`."""
    import torch

    from engine.training.trainer import Trainer
    from engine.weights import read_weights, save_weights
    from graphs.project import load_project

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        result = Trainer(load_project(PRETRAINING), device="cpu", epochs=EPOCHS, out_dir=Path(folder) / "run",
                         threads=1).run()
        if result.status != "finished":
            raise SystemExit(f"pretraining did not finish: {result.message}")
        tensors = read_weights(result.weights)
    accuracy = result.history[-1]["val_accuracy"]
    return save_weights(tensors, out, {"source": PRETRAINING.relative_to(ROOT).as_posix(), "epochs": str(EPOCHS),
                                       "val_accuracy": f"{accuracy:.4f}"})


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(make_weights(Path(sys.argv[1]) if len(sys.argv) > 1 else WEIGHTS))
