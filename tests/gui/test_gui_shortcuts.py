"""Shortcuts offscreen: every key sequence has one action, the documented keys are bound.

The same checks run on a real X server in test_x11_shortcuts.py, where Qt's standard
bindings differ (Redo is only Ctrl+Shift+Z there, Delete also holds Ctrl+D).
"""

from PySide6.QtGui import QAction, QKeySequence

from gui.actions import assign_shortcuts
from tests.gui.shortcut_check import bound_twice, shortcut_owners

SK = QKeySequence.StandardKey
DOCUMENTED = {  # docs/editor.md, "Keys and mouse"
    "Ctrl+Z": "Undo", "Ctrl+Shift+Z": "Redo", "Ctrl+Y": "Redo", "Ctrl+A": "Select All",
    "F": "Frame All", "Shift+F": "Frame Selected", "Tab": "Add Node…", "Del": "Delete",
    "Backspace": "Delete", "Ctrl+C": "Copy", "Ctrl+X": "Cut", "Ctrl+V": "Paste", "Ctrl+D": "Duplicate",
    "Ctrl+L": "Auto-layout", "Ctrl+N": "New", "Ctrl+O": "Open…", "Ctrl+S": "Save",
    "Ctrl+Shift+S": "Save As…", "Ctrl++": "Zoom In", "Ctrl+-": "Zoom Out", "Ctrl+0": "Actual Size",
}


def test_no_sequence_is_bound_twice(window):
    assert bound_twice(window) == {}


def test_documented_keys_reach_their_action(window):
    owners = shortcut_owners(window)
    assert {key: owners.get(key) for key in DOCUMENTED} == {key: [text] for key, text in DOCUMENTED.items()}


def test_assign_shortcuts_gives_each_sequence_to_one_action(qapp):
    redo, other, undo = QAction("Redo"), QAction("Other"), QAction("Undo")
    platform_redo = [s.toString() for s in QKeySequence.keyBindings(SK.Redo)]
    # another action names the platform's first Redo key (on X11, Delete's Ctrl+D is Duplicate's)
    assign_shortcuts({redo: (SK.Redo, "Ctrl+Alt+Z", "Ctrl+Alt+Z"), other: (platform_redo[0],),
                      undo: (SK.Undo, "Ctrl+Z", "Ctrl+Alt+Z")})
    keys = {action.text(): [s.toString() for s in action.shortcuts()] for action in (redo, other, undo)}
    assert keys["Other"] == [platform_redo[0]]
    assert platform_redo[0] not in keys["Redo"]
    assert keys["Redo"].count("Ctrl+Alt+Z") == 1 and "Ctrl+Alt+Z" not in keys["Undo"]  # the first to name it
    assert keys["Undo"][0] == "Ctrl+Z"
    every = [key for texts in keys.values() for key in texts]
    assert len(every) == len(set(every))
