"""Every shipped example opens cleanly; the editor screenshot for the README."""

import os
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from gui import files

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", files.example_paths(), ids=lambda p: p.stem)
def test_each_example_opens_without_errors(window, path, dialogs):
    assert window.open_project(path)
    result = window.document.result
    assert result.errors == [], [e.message for e in result.errors]
    assert len(window.scene.node_items()) == len(window.document.graph)
    assert len(window.scene.edge_items()) == len(window.document.graph.edges())
    assert all(item.shape_text not in ("?", "…") for item in window.scene.node_items())
    assert window.summary.model.rowCount() == len(window.document.graph) + 1
    assert dialogs.shown == []


def test_examples_are_listed():
    names = {p.stem for p in files.example_paths()}
    assert {"digits_cnn", "iris_mlp", "residual_cnn", "digits_vit", "digits_vae", "digits_mobilenetv2",
            "digits_unet_denoiser"} <= names


def _non_trivial(path: Path) -> None:
    image = QImage(str(path))
    assert image.width() >= 1000 and image.height() >= 600
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 29)}
    assert len(colours) > 20


def test_screenshot_of_the_editor(window, example, tmp_path, qtbot):
    """Writes docs/images/editor.png when NEUROCANVAS_SCREENSHOTS=1, else into tmp_path."""
    window.resize(1920, 1040)
    assert window.open_project(example("residual_cnn"))
    qtbot.wait(50)
    window.scene.select_nodes(["conv2"] if window.document.graph.has_node("conv2") else [])
    # the residual block, with its skip wire
    block = [n for n in ("act1", "conv2", "bn2", "act2", "conv3", "bn3", "add") if window.document.graph.has_node(n)]
    window.view.frame_rect(window.scene.nodes_rect([window.scene.node_item(n) for n in block]), max_zoom=1.0)
    qtbot.wait(50)
    if os.environ.get("NEUROCANVAS_SCREENSHOTS") == "1":
        out = ROOT / "docs" / "images" / "editor.png"
        out.parent.mkdir(parents=True, exist_ok=True)
    else:
        out = tmp_path / "editor.png"
    assert window.grab().save(str(out))
    _non_trivial(out)
