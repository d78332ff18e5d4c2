"""The Training and Data panels fit their dock at the window's default size: no field is clipped on the
right (issue 11, item 6)."""

import pytest
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QLineEdit,
    QPushButton,
    QWidget,
)

FIELDS = (QAbstractSpinBox, QComboBox, QLineEdit, QCheckBox, QPushButton)


def clipped(panel) -> list[str]:
    """The fields whose right edge lies beyond the visible width of the panel's scroll area."""
    (scroll,) = panel.findChildren(QAbstractScrollArea)[:1]
    viewport = scroll.viewport()
    right = viewport.width()
    found = []
    for field in panel.findChildren(QWidget):
        if not isinstance(field, FIELDS) or not field.isVisibleTo(panel) or not viewport.isAncestorOf(field):
            continue
        edge = field.mapTo(viewport, field.rect().topRight()).x()
        if edge >= right:
            found.append(f"{type(field).__name__} {field.objectName() or field.toolTip()[:30]!r}: right edge "
                         f"{edge} >= {right}")
    return found


@pytest.mark.parametrize(("name", "dataset"), [("training", None), ("data", None), ("data", {"name": "moons"}),
                                             ("data", {"name": "csv", "path": "x.csv"}),
                                             ("data", {"name": "image_folder", "path": "images"})])
def test_panel_fields_are_inside_the_dock_at_the_default_size(bench, qtbot, name, dataset):
    window = bench.window
    assert (window.width(), window.height()) == (1440, 900)
    if dataset is not None:  # the rows its options add
        settings = bench.settings.training
        settings["dataset"] = dataset
        bench.settings.update(settings, "test data")
    bench.show_dock(name)
    panel = bench.docks[name].widget()
    qtbot.waitUntil(lambda: panel._ready, timeout=60_000)
    qtbot.wait(50)  # layouts settle on the next turn of the loop
    assert panel.width() < 500  # the dock's default width, not a window-wide panel
    found = clipped(panel)
    assert not found, "\n".join(found)
