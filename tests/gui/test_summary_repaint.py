"""The summary table of a large model repaints only when an edit moves a row it shows: a node deleted or put back
far below the rows on screen leaves the table unpainted (Qt's table repainted every row it shows), while its
scroll range follows; a row deleted on screen, or at the end of a table scrolled to the bottom, shows the rows a
freshly built table shows there."""

import pytest
from PySide6.QtCore import QPoint

from bench.editor_scale import big_graph
from bench.paint_events import PaintCounter
from graphs.project import Project
from gui import summary as summary_module
from gui.summary import ModelSummary


@pytest.fixture
def big_window(window, qtbot, monkeypatch):
    monkeypatch.setattr(summary_module, "SORTED_UP_TO", 0)  # the rows kept edit by edit, as at 10,000 nodes
    window._set_project(Project(big_graph(4 * 60 + 4), name="big"))
    window.resize(1200, 800)
    qtbot.waitUntil(lambda: window.scene.updates_pending() == 0, timeout=20_000)
    window.summary.table.viewport().repaint()
    return window


def settle(window, qtbot) -> None:
    window.document.flush()
    qtbot.wait(30)


def shown(window) -> list:
    """The node ids of the rows the table shows, top to bottom, as they are painted."""
    table = window.summary.table
    rows = range(table.rowAt(0), table.rowAt(table.viewport().height() - 1) + 1)
    return [table.model().row(row)[0] for row in rows]


def fresh_rows(window) -> list:
    fresh = ModelSummary(window.document)
    try:
        return [row[0] for row in fresh.model.rows]
    finally:
        fresh.deleteLater()


def test_a_row_moved_far_below_the_screen_repaints_no_row(big_window, qtbot):
    window = big_window
    table, document = window.summary.table, window.document
    paints = PaintCounter()
    table.viewport().installEventFilter(paints)
    bar, before = table.verticalScrollBar(), shown(window)
    assert 0 < len(before) < 100
    maximum = bar.maximum()
    document.remove(["ln50"])
    settle(window, qtbot)
    assert paints.count == 0 and bar.maximum() == maximum - 1 and shown(window) == before
    document.undo_stack.undo()
    settle(window, qtbot)
    assert paints.count == 0 and bar.maximum() == maximum and shown(window) == before
    document.remove(["ln0"])  # a row on screen: the rows below it move up, and are painted
    settle(window, qtbot)
    qtbot.waitUntil(lambda: paints.count > 0, timeout=5_000)
    rows = fresh_rows(window)
    assert shown(window) == rows[:len(shown(window))]


def test_a_table_scrolled_to_the_bottom_shows_the_last_rows_after_a_delete(big_window, qtbot):
    window = big_window
    table, document = window.summary.table, window.document
    table.scrollToBottom()
    settle(window, qtbot)
    bar = table.verticalScrollBar()
    last = shown(window)
    assert "loss" in last or "" in last  # the end of the model, and the totals row
    document.remove(["fc59"])
    settle(window, qtbot)
    rows = fresh_rows(window)  # (the totals row last)
    assert rows[-1] == "" and shown(window) == rows[-len(shown(window)):]
    assert table.indexAt(QPoint(1, 1)).row() == table.rowAt(0)
    assert bar.value() == bar.maximum()
