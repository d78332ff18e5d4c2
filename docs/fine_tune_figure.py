"""Make the README's fine-tuning figure: digits 5-9 fine-tuned from a 0-4 model vs trained from scratch.

    .venv/bin/python docs/fine_tune_figure.py [--runs DIR] [--image docs/images/fine_tune.png]

Trains three runs with the shipped examples, one torch thread each:
1. `digits_0to4_cnn.json`: the CNN on digits 0-4;
2. `digits_5to9_finetune.json` with `init_from` = run 1's weights: conv1 and bn1 frozen (as the project
   file says), conv2 and the new head ("head", not in run 1's weights) trained on digits 5-9;
3. the same project from scratch: every node trainable, no initial weights.
Then draws both 5-9 runs' validation accuracy per epoch with pyqtgraph (offscreen) into the image and
prints the figures. Run it from the repository root; runs go to a temporary folder unless --runs says.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's engine, not another installed copy

EXAMPLES = ROOT / "resources" / "examples"
COLOURS = {"fine-tuned from digits 0-4": "#f0b35a", "from scratch": "#7fb8ff"}


def train_all(runs: Path) -> dict[str, list[dict]]:
    """The three runs; the two 5-9 runs' histories by label."""
    import torch

    from engine.training import Trainer
    from graphs.project import load_project

    torch.set_num_threads(1)
    pretrained = Trainer(load_project(EXAMPLES / "digits_0to4_cnn.json"), out_dir=runs / "digits_0to4",
                         threads=1).run()
    print(f"digits 0-4: val_accuracy {pretrained.history[-1]['val_accuracy']:.2%} after "
          f"{len(pretrained.history)} epochs")
    tuned = load_project(EXAMPLES / "digits_5to9_finetune.json")
    tuned.training["init_from"] = str(pretrained.weights)
    scratch = load_project(EXAMPLES / "digits_5to9_finetune.json")
    for node in scratch.graph.nodes():
        scratch.graph.set_training_options(node.id, trainable=True)
    histories = {}
    for label, project, folder in (("fine-tuned from digits 0-4", tuned, "finetune"),
                                   ("from scratch", scratch, "scratch")):
        result = Trainer(project, out_dir=runs / folder, threads=1).run()
        histories[label] = result.history
    return histories


def draw(histories: dict[str, list[dict]], image: Path) -> None:
    import pyqtgraph as pg
    import pyqtgraph.exporters
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(antialias=True, background="#1d1f23", foreground="#d0d4da")
    widget = pg.PlotWidget()
    widget.resize(640, 360)
    plot = widget.getPlotItem()
    plot.setTitle("Digits 5-9, 90 training images: validation accuracy")
    plot.setLabel("bottom", "epoch")
    plot.setLabel("left", "validation accuracy")
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.addLegend(offset=(-10, -10))
    for label, history in histories.items():
        plot.plot([row["epoch"] for row in history], [row["val_accuracy"] for row in history], name=label,
                  pen=pg.mkPen(COLOURS[label], width=2.5), symbol="o", symbolSize=6,
                  symbolBrush=COLOURS[label])
    plot.setYRange(0, 1)
    app.processEvents()
    exporter = pyqtgraph.exporters.ImageExporter(plot)
    exporter.parameters()["width"] = 640
    exporter.export(str(image))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, help="folder for the three run folders (default: a temporary one)")
    parser.add_argument("--image", type=Path, default=ROOT / "docs" / "images" / "fine_tune.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        histories = train_all(args.runs or Path(temporary))
    for label, history in histories.items():
        accuracies = ", ".join(f"{row['val_accuracy']:.1%}" for row in history)
        print(f"{label}: val_accuracy by epoch {accuracies}")
    draw(histories, args.image)
    print(f"figure: {args.image}")


if __name__ == "__main__":
    main()
