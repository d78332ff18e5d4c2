"""Start the editor: `run(path)` creates the QApplication, shows the main window, runs the loop.

Only Qt and the torch-free document and shape code are imported here, so the
window paints quickly; anything that needs torch must import it later, after
the first paint.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from gui import theme
from gui.main_window import MainWindow

APP_NAME = "Neurocanvas"


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication, created once, named and themed."""
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    theme.apply(app)
    return app


def run(path: str | None = None) -> int:
    """Open `path`, else the last project, else the digits example; return the exit code."""
    app = create_app()
    window = MainWindow()
    window.open_initial(path)
    window.show()
    app._neurocanvas_window = window  # keep a reference while the loop runs
    try:
        return app.exec()
    finally:
        del app._neurocanvas_window


if __name__ == "__main__":
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else None))
