"""The installed Qt binding keeps Python's reference counts intact.

PySide6 6.12's abi3 wheel returns unowned None from void methods on Python < 3.12, which
aborts the interpreter after a few thousand calls; pyproject pins it away there. This
guards the pin (it fails if a broken combination is installed again)."""

import sys

from PySide6.QtCore import QObject


def test_void_qt_calls_do_not_drop_references_to_none():
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(500):
        probe.setObjectName("probe")
    assert sys.getrefcount(None) >= before - 50
