"""Run a short script against the editor in a fresh Python process (offscreen, from the repository root),
for what only a new process shows: what start-up imports, what a killed session leaves behind.

    from tests.gui.app_process import run_app_script
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_app_script(code: str, settings: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` after a prelude that keeps QSettings (INI format) in `settings` and imports
    `create_app` and `MainWindow`; returns the finished process, its output captured as text."""
    prelude = (
        "from PySide6.QtCore import QSettings\n"
        "QSettings.setDefaultFormat(QSettings.Format.IniFormat)\n"
        f"QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, {str(settings)!r})\n"
        "from gui.app import create_app\n"
        "from gui.main_window import MainWindow\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
