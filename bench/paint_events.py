"""Counting the paint events a widget gets: how the editor benchmarks and the repaint tests see whether Qt
repainted after an edit. One class for the process: a QObject subclass made per call is garbage for the
collector to free later, inside some other measurement."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject


class PaintCounter(QObject):
    """An event filter that counts the Paint events of the widgets it is installed on."""

    count = 0

    def eventFilter(self, _watched, event):  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False
