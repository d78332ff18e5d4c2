"""Which key sequences the main window binds to more than one action (Qt fires neither of them).

Used in-process (offscreen) and inside the editor started on a real X server, where the platform's
standard key bindings differ.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence


def shortcut_owners(window) -> dict[str, list[str]]:
    """Every sequence any QAction under `window` is bound to -> the texts of those actions."""
    owners: dict[str, list[str]] = {}
    for action in window.findChildren(QAction):
        for sequence in action.shortcuts():
            name = sequence.toString(QKeySequence.SequenceFormat.PortableText)
            owners.setdefault(name, []).append(action.text().replace("&", ""))
    return owners


def bound_twice(window) -> dict[str, list[str]]:
    return {name: texts for name, texts in shortcut_owners(window).items() if len(texts) > 1}
