"""Fixtures for the reliability suite's GUI tests: the editor's offscreen Qt, isolated settings and
data folders, captured dialogs and a main window (imported from tests/gui/conftest.py, not copied),
and the workbench fixtures for training runs (from tests/workbench/conftest.py).
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.gui.conftest import dialogs, isolated_settings, themed, window  # noqa: E402,F401
from tests.workbench.conftest import bench, finished, open_example  # noqa: E402,F401
