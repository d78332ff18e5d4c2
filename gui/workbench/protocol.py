"""What the workbench needs from the window it is installed in: `WorkbenchWindow`.

`gui.main_window.MainWindow` satisfies it; so does any QMainWindow that has the
members below (tests/workbench/test_protocol.py builds the workbench in a small
one). The workbench reaches its window only through these members: the open
document, the canvas scene (overlays, selection), the named menus and docks,
adding a dock, status messages, and saving or opening a project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PySide6.QtCore import QObject, Qt
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QDockWidget, QMenu, QMenuBar, QStatusBar, QToolBar, QWidget

    from gui.canvas.scene import CanvasScene
    from gui.document import DocumentController


@runtime_checkable
class WorkbenchWindow(Protocol):
    """A QMainWindow with the editor's document, canvas, menus and docks.

    `menus` holds at least "file", "examples", "export", "help" and "panels" (the workbench adds "train");
    `docks` maps dock titles to docks (the workbench places its own beside "Inspector" and "Model Summary"
    when they are there). The workbench sets `workbench` on the window once installed.
    """

    document: DocumentController
    scene: CanvasScene
    menus: dict[str, QMenu]
    docks: dict[str, QDockWidget]

    def add_dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea, object_name: str | None = None
                 ) -> QDockWidget: ...

    def show_message(self, text: str, timeout_ms: int = 8000) -> None: ...

    def save(self) -> bool: ...  # False when the user cancelled or the write failed

    def maybe_save(self) -> bool: ...  # asks about unsaved changes; False: the user cancelled

    def open_project(self, path) -> bool: ...

    # The QMainWindow methods the workbench calls (any QMainWindow has them).
    def statusBar(self) -> QStatusBar: ...  # noqa: N802 - Qt's names

    def menuBar(self) -> QMenuBar: ...  # noqa: N802

    def addToolBar(self, area: Qt.ToolBarArea, toolbar: QToolBar) -> None: ...  # noqa: N802

    def addAction(self, action: QAction) -> None: ...  # noqa: N802

    def tabifyDockWidget(self, first: QDockWidget, second: QDockWidget) -> None: ...  # noqa: N802

    def splitDockWidget(self, first: QDockWidget, second: QDockWidget, orientation: Qt.Orientation  # noqa: N802
                        ) -> None: ...

    def resizeDocks(self, docks: list, sizes: list, orientation: Qt.Orientation) -> None: ...  # noqa: N802

    def installEventFilter(self, watcher: QObject) -> None: ...  # noqa: N802

    def height(self) -> int: ...
