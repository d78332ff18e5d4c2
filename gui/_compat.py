"""A stopgap for a PySide6 build that drops a reference to None on every void call.

The PySide6 6.12 abi3 wheel in this project's Python 3.11 venv returns None
from void methods (`setPen`, `setToolTip`, ...) without taking a reference.
That is harmless on Python 3.12+, where None is immortal, but on 3.11 each call
lowers None's reference count by one, and after a few thousand calls the
interpreter aborts with "Fatal Python error: none_dealloc". A GUI makes that
many calls in seconds.

`apply()` checks for the leak and, only when it is there, gives None and the
other static singletons a reference count too large to ever reach zero, which
is what Python 3.12 does for them anyway. The real fix is a venv on Python
3.12 or newer; then this does nothing.
"""

from __future__ import annotations

import ctypes
import sys

_SINGLETONS = (None, True, False, NotImplemented, Ellipsis)
_applied = False


def binding_drops_none(calls: int = 64) -> bool:
    """True when void PySide6 calls lower None's reference count."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("probe")
    return sys.getrefcount(None) < before - calls // 2


def apply() -> bool:
    """Protect the singletons if (and only if) this interpreter needs it; True when it did."""
    global _applied
    if _applied:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or not binding_drops_none():
        return False
    for obj in _SINGLETONS:
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
    _applied = True
    return True
