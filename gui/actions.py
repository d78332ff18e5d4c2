"""The main window's actions, menus and toolbar, with the standard shortcuts.

Canvas-only shortcuts (Delete, F, Shift+F, Tab, Select All) are scoped to the
canvas, so typing in the palette search or an inspector field never deletes
nodes or frames the view. `window.menus` maps "file", "edit", "view", "help",
"panels", "recent", "examples" and "export" to their QMenus, so later
features (the training workbench) can add to them.

Each action's keys are the platform's bindings for its standard key plus our
documented extras (Redo: Ctrl+Shift+Z and Ctrl+Y everywhere), and no key
sequence is bound twice: Qt fires neither of two actions that share one
("Ambiguous shortcut overload"), and the platforms differ (on X11 Redo already
holds Ctrl+Shift+Z and Delete holds Ctrl+D, our Duplicate). `assign_shortcuts`
gives each sequence to one action, a key we name explicitly before a
platform binding.
"""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence

from gui.files import ICONS_DIR
from gui.steady_widgets import SteadyToolBar

SK = QKeySequence.StandardKey


def icon(name: str) -> QIcon:
    path = ICONS_DIR / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


Keys = tuple  # of QKeySequence.StandardKey (the platform's bindings) and str (one sequence)


def assign_shortcuts(wanted: dict[QAction, Keys]) -> None:
    """Set every action's shortcuts, the platform's order first, so that no sequence belongs to two
    actions: a sequence named as a string goes to its action; a platform binding that another
    action names, or that an earlier action already holds, is left out."""
    def name(sequence) -> str:
        return QKeySequence(sequence).toString(QKeySequence.SequenceFormat.PortableText)

    named = {name(key): action for action, keys in wanted.items() for key in keys if isinstance(key, str)}
    taken: set[str] = set()
    for action, keys in wanted.items():
        sequences = []
        for key in keys:
            if isinstance(key, str):
                candidates = [QKeySequence(key)]
            else:
                candidates = [s for s in QKeySequence.keyBindings(key) if named.get(name(s), action) is action]
            for sequence in candidates:
                if not sequence.isEmpty() and name(sequence) not in taken:
                    taken.add(name(sequence))
                    sequences.append(sequence)
        action.setShortcuts(sequences)


def _action(window, text: str, slot, icon_name: str | None = None, tip: str = "",
            canvas_only: bool = False) -> QAction:
    action = QAction(text, window)
    if icon_name:
        action.setIcon(icon(icon_name))
    if tip:
        action.setStatusTip(tip)
    if canvas_only:
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        window.view.addAction(action)
    else:
        window.addAction(action)
    action.triggered.connect(lambda _checked=False: slot())
    return action


def install(window) -> SimpleNamespace:
    """Create every action, the menu bar and the toolbar of `window` (a MainWindow)."""
    w = window
    stack = w.document.undo_stack
    a = SimpleNamespace()
    a.new = _action(w, "&New", w.new_project, "new", "Start an empty project")
    a.open = _action(w, "&Open…", w.open_dialog, "open", "Open a project file")
    a.save = _action(w, "&Save", w.save, "save", "Save the project")
    a.save_as = _action(w, "Save &As…", w.save_as_dialog, tip="Save the project under a new name")
    a.quit = _action(w, "&Quit", w.close)
    a.quit.setMenuRole(QAction.MenuRole.QuitRole)

    a.undo = stack.createUndoAction(w, "&Undo")
    a.undo.setIcon(icon("undo"))
    a.redo = stack.createRedoAction(w, "&Redo")
    a.redo.setIcon(icon("redo"))
    w.addAction(a.undo)
    w.addAction(a.redo)
    a.cut = _action(w, "Cu&t", w.cut)
    a.copy = _action(w, "&Copy", w.copy)
    a.paste = _action(w, "&Paste", w.paste)
    a.duplicate = _action(w, "D&uplicate", w.duplicate, tip="Copy and paste the selection in one go")
    a.delete = _action(w, "&Delete", w.delete_selection, canvas_only=True)
    a.select_all = _action(w, "Select &All", w.select_all, canvas_only=True)
    a.add_node = _action(w, "Add &Node…", w.view.open_quick_add, "add",
                         "Search for a node type and add it under the cursor", canvas_only=True)
    a.auto_layout = _action(w, "Auto-&layout", w.auto_layout, "layout", "Arrange the nodes left to right in layers")

    a.frame_all = _action(w, "&Frame All", w.view.frame_all, "frame", canvas_only=True)
    a.frame_selected = _action(w, "Frame &Selected", w.view.frame_selected, canvas_only=True)
    a.zoom_in = _action(w, "Zoom &In", lambda: w.view.zoom_by(1.25))
    a.zoom_out = _action(w, "Zoom &Out", lambda: w.view.zoom_by(0.8))
    a.zoom_reset = _action(w, "&Actual Size", lambda: w.view.set_zoom(1.0))
    a.reset_layout = _action(w, "&Reset Panel Layout", w.reset_panel_layout)
    a.guide = _action(w, "Editor &Guide", w.show_guide)
    a.about = _action(w, "&About Neurocanvas", w.show_about)
    # the keys docs/editor.md lists, on every platform
    assign_shortcuts({
        a.new: (SK.New,), a.open: (SK.Open,), a.save: (SK.Save,), a.save_as: (SK.SaveAs,),
        a.quit: (SK.Quit,),
        a.undo: (SK.Undo, "Ctrl+Z"), a.redo: (SK.Redo, "Ctrl+Shift+Z", "Ctrl+Y"),
        a.cut: (SK.Cut,), a.copy: (SK.Copy,), a.paste: (SK.Paste,), a.duplicate: ("Ctrl+D",),
        a.delete: (SK.Delete, "Del", "Backspace"), a.select_all: (SK.SelectAll,), a.add_node: ("Tab",),
        a.auto_layout: ("Ctrl+L",), a.frame_all: ("F",), a.frame_selected: ("Shift+F",),
        a.zoom_in: (SK.ZoomIn, "Ctrl+="), a.zoom_out: (SK.ZoomOut,), a.zoom_reset: ("Ctrl+0",),
        a.guide: (SK.HelpContents,),
    })

    bar = w.menuBar()
    menus = w.menus
    menus["file"] = bar.addMenu("&File")
    menus["edit"] = bar.addMenu("&Edit")
    menus["view"] = bar.addMenu("&View")
    menus["help"] = bar.addMenu("&Help")

    f = menus["file"]
    f.addActions([a.new, a.open])
    menus["recent"] = f.addMenu("Open &Recent")
    menus["recent"].aboutToShow.connect(w.fill_recent_menu)
    menus["examples"] = f.addMenu("&Examples")
    menus["examples"].aboutToShow.connect(w.fill_examples_menu)
    f.addSeparator()
    f.addActions([a.save, a.save_as])
    menus["export"] = f.addMenu("E&xport")
    placeholder = menus["export"].addAction("Nothing to export yet")
    placeholder.setEnabled(False)
    f.addSeparator()
    f.addAction(a.quit)

    e = menus["edit"]
    e.addActions([a.undo, a.redo])
    e.addSeparator()
    e.addActions([a.cut, a.copy, a.paste, a.duplicate, a.delete, a.select_all])
    e.addSeparator()
    e.addActions([a.add_node, a.auto_layout])

    v = menus["view"]
    v.addActions([a.frame_all, a.frame_selected])
    v.addSeparator()
    v.addActions([a.zoom_in, a.zoom_out, a.zoom_reset])
    v.addSeparator()
    menus["panels"] = v.addMenu("&Panels")
    v.addAction(a.reset_layout)

    menus["help"].addActions([a.guide, a.about])

    toolbar = SteadyToolBar("Main toolbar", w)  # no window layout when the undo text changes
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    toolbar.addActions([a.new, a.open, a.save])
    toolbar.addSeparator()
    toolbar.addActions([a.undo, a.redo])
    toolbar.addSeparator()
    toolbar.addActions([a.add_node, a.auto_layout, a.frame_all])
    for action in (a.undo, a.redo):  # their text names the command; the tooltip shows it, the bar stays put
        toolbar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        toolbar.keep_steady(action)
    w.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    w.toolbar = toolbar
    return a
