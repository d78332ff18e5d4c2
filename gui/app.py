"""Start the editor: `run(path)` creates the QApplication, shows the main window, runs the loop.

Only Qt and the torch-free document and shape code are imported here, so the
window paints quickly; anything that needs torch must import it later, after
the first paint.

Before any Qt object exists, `display_problem` checks that a window can open
at all (Qt would otherwise abort with an xcb error). Ctrl+C in the terminal
closes the window the normal way (the unsaved-changes prompt, the recovery
file). `main` (the program) ends the process as soon as the window has closed:
Python's own teardown of torch and Qt takes most of a second and keeps nothing.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from typing import NoReturn

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from gui import theme
from gui.main_window import MainWindow

APP_NAME = "Neurocanvas"
NO_DISPLAY_STATUS = 2
INTERRUPT_POLL_MS = 200  # how often Python gets to run a Ctrl+C handler while Qt's loop waits


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication, created once, named and themed."""
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    theme.apply(app)
    return app


def display_problem(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> str:
    """Why no window can open here, as a hint for the terminal ("" when one can): on Linux, neither an
    X11 nor a Wayland display is set, and no Qt platform is chosen."""
    if not platform.startswith("linux") or any(environ.get(name) for name in
                                               ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return ""
    return ("neurocanvas: no display found: run the editor in an X11 or Wayland session (DISPLAY or "
            "WAYLAND_DISPLAY set), or under a virtual one: xvfb-run -a python main.py\n"
            "The commands check, train, export, import-onnx and import-torch need no display.")


def close_on_interrupt(app: QApplication, window: MainWindow) -> QTimer:
    """Make Ctrl+C (SIGINT) close `window` through its normal close path. Python runs signal handlers only
    between its own bytecodes, so a timer hands it control a few times a second."""

    def interrupted(_signum, _frame) -> None:
        if app.activeModalWidget() is None:  # a prompt is open: it is answering the last Ctrl+C
            QTimer.singleShot(0, window.close)

    signal.signal(signal.SIGINT, interrupted)
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(INTERRUPT_POLL_MS)
    return timer


def exit_now(code: int) -> NoReturn:
    """End the process without Python's teardown. Everything kept is already written: the window saved its
    settings and dealt with the recovery file when it closed, and the workbench waited for its file
    writes when the application quit."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def run(path: str | None = None) -> int:
    """Open `path`, else the last project, else the digits example; return the exit code once the window
    has closed (2, with a hint on stderr, when no window can open)."""
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return NO_DISPLAY_STATUS
    app = create_app()
    window = MainWindow()
    window.open_initial(path)
    show_fitted(window)
    close_on_interrupt(app, window)
    app._neurocanvas_window = window  # keep a reference while the loop runs
    try:
        return app.exec()
    finally:
        del app._neurocanvas_window


TITLE_BAR = 40  # pixels a window manager adds above the window, about


def show_fitted(window: MainWindow) -> None:
    """Show the window; maximised on a first start whose default size (with a title bar) is larger than the
    screen, so the status bar is never off-screen. A size the user left last time is kept as it was."""
    screen = window.screen().availableGeometry()
    remembered = QSettings().value("window/geometry") is not None
    if not remembered and (window.width() > screen.width() or window.height() + TITLE_BAR > screen.height()):
        window.setWindowState(window.windowState() | Qt.WindowState.WindowMaximized)
    window.show()


def main(path: str | None = None) -> NoReturn:
    """The editor as a program: `run`, then end the process at once (`exit_now`)."""
    exit_now(run(path))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
