"""The README's picture of the workbench: two finished runs of the digits CNN, the second with the first
overlaid, the runs list and the confusion matrix. Written to docs/images/training.png when
NEUROCANVAS_SCREENSHOTS=1, else into tmp_path (so the test still checks that finished runs render)."""

import os
from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]


def test_screenshot_of_finished_runs(open_example, finished, qtbot, tmp_path):
    bench = open_example("digits_cnn", epochs=12, optimizer={"type": "Adam", "lr": 0.0005})
    bench.run_options.update(max_batches=None)
    window = bench.window
    window.resize(1600, 1000)
    bench.show_dock("data")
    qtbot.waitUntil(lambda: bench.data_panel.preview is not None, timeout=60_000)
    first = finished(bench)
    settings = bench.settings.training
    settings["optimizer"] = {"type": "Adam", "lr": 0.003}
    bench.settings.update(settings, "a larger learning rate")
    second = finished(bench)
    qtbot.waitUntil(lambda: second.evaluation is not None, timeout=60_000)
    bench.runs_panel.set_ticked(first, True)
    window.view.frame_all()
    bench.plots.refresh()
    canvas = bench.plots.canvas  # the crosshair and its read-out, a third of the way along the loss plot
    qtbot.mouseMove(canvas.viewport(), QPoint(canvas.width() // 3, canvas.height() // 5))
    qtbot.wait(400)
    out = ROOT / "docs" / "images" / "training.png" if os.environ.get("NEUROCANVAS_SCREENSHOTS") == "1" \
        else tmp_path / "training.png"
    assert window.grab().save(str(out))
    image = QImage(str(out))
    assert image.width() >= 1200 and second.status == first.status == "finished"
