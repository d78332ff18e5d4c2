"""Scene build and frame-all repaint of a large graph, offscreen (used by section 4).

Scene build: the time for the canvas to mirror a freshly opened 1,000-node document
(controller + scene items, events processed). Repaint: `frame_all()` then a full
synchronous repaint of the view's viewport."""

from __future__ import annotations

import os
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def scene_timings(graph, repeats: int) -> tuple[list[float], list[float]]:
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from graphs.project import Project

    settings_dir = tempfile.mkdtemp(prefix="nc-bench-settings-")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
    app = QApplication.instance() or QApplication([])
    QCoreApplication.setOrganizationName("NeurocanvasBench")
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    build, paint = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        window.document.set_project(Project(graph.copy(), name="big"))
        app.processEvents()
        build.append((time.perf_counter() - start) * 1000)
        viewport = window.view.viewport()
        start = time.perf_counter()
        window.view.frame_all()
        viewport.repaint()
        paint.append((time.perf_counter() - start) * 1000)
    window.document.undo_stack.setClean()
    window.close()
    app.processEvents()
    return build, paint
