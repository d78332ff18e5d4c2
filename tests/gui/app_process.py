"""Run a short script against the editor in a fresh Python process (from the repository root), for
what only a new process shows: what start-up imports, what a killed session leaves behind, how the
window behaves on a real X server.

    from tests.gui.app_process import run_app_script, start_app_script
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _prelude(settings: Path) -> str:
    """Keeps QSettings (INI format) in `settings` and imports `create_app` and `MainWindow`."""
    return (
        "from PySide6.QtCore import QSettings\n"
        "QSettings.setDefaultFormat(QSettings.Format.IniFormat)\n"
        f"QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, {str(settings)!r})\n"
        "from gui.app import create_app\n"
        "from gui.main_window import MainWindow\n"
    )


def run_app_script(code: str, settings: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` offscreen after the prelude; returns the finished process, its output captured as text."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-c", _prelude(settings) + code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def start_app_script(code: str, settings: Path, env: dict) -> subprocess.Popen:
    """Start `code` after the prelude with `env` added to the environment (the platform, the display);
    stdout and stderr are pipes of text lines, read by the caller while it runs."""
    return subprocess.Popen([sys.executable, "-u", "-c", _prelude(settings) + code], cwd=ROOT,
                            env=dict(os.environ, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1)
