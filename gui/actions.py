"""The main window's actions, menus and toolbar, with the standard shortcuts.

Canvas-only shortcuts (Delete, F, Shift+F, Tab, Select All) are scoped to the
canvas, so typing in the palette search or an inspector field never deletes
nodes or frames the view. `window.menus` maps "file", "edit", "view", "help",
"panels", "recent", "examples" and "export" to their QMenus, so later
features (the training workbench) can add to them.
"""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QToolBar

from gui.files import ICONS_DIR

SK = QKeySequence.StandardKey


def icon(name: str) -> QIcon:
    path = ICONS_DIR / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def _action(window, text: str, slot, shortcut=None, icon_name: str | None = None, tip: str = "",
            canvas_only: bool = False) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        keys = QKeySequence.keyBindings(shortcut) if isinstance(shortcut, QKeySequence.StandardKey) \
            else [QKeySequence(shortcut)]
        action.setShortcuts(keys)
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
    a.new = _action(w, "&New", w.new_project, SK.New, "new", "Start an empty project")
    a.open = _action(w, "&Open…", w.open_dialog, SK.Open, "open", "Open a project file")
    a.save = _action(w, "&Save", w.save, SK.Save, "save", "Save the project")
    a.save_as = _action(w, "Save &As…", w.save_as_dialog, SK.SaveAs, tip="Save the project under a new name")
    a.quit = _action(w, "&Quit", w.close, SK.Quit)
    a.quit.setMenuRole(QAction.MenuRole.QuitRole)

    a.undo = stack.createUndoAction(w, "&Undo")
    a.undo.setShortcuts(QKeySequence.keyBindings(SK.Undo))
    a.undo.setIcon(icon("undo"))
    a.redo = stack.createRedoAction(w, "&Redo")
    a.redo.setShortcuts(QKeySequence.keyBindings(SK.Redo) + [QKeySequence("Ctrl+Shift+Z")])
    a.redo.setIcon(icon("redo"))
    w.addAction(a.undo)
    w.addAction(a.redo)
    a.cut = _action(w, "Cu&t", w.cut, SK.Cut)
    a.copy = _action(w, "&Copy", w.copy, SK.Copy)
    a.paste = _action(w, "&Paste", w.paste, SK.Paste)
    a.duplicate = _action(w, "D&uplicate", w.duplicate, "Ctrl+D", tip="Copy and paste the selection in one go")
    a.delete = _action(w, "&Delete", w.delete_selection, SK.Delete, canvas_only=True)
    a.delete.setShortcuts([*QKeySequence.keyBindings(SK.Delete), QKeySequence(Qt.Key.Key_Backspace)])
    a.select_all = _action(w, "Select &All", w.select_all, SK.SelectAll, canvas_only=True)
    a.add_node = _action(w, "Add &Node…", w.view.open_quick_add, "Tab", "add",
                         "Search for a node type and add it under the cursor", canvas_only=True)
    a.auto_layout = _action(w, "Auto-&layout", w.auto_layout, "Ctrl+L", "layout",
                            "Arrange the nodes left to right in layers")

    a.frame_all = _action(w, "&Frame All", w.view.frame_all, "F", "frame", canvas_only=True)
    a.frame_selected = _action(w, "Frame &Selected", w.view.frame_selected, "Shift+F", canvas_only=True)
    a.zoom_in = _action(w, "Zoom &In", lambda: w.view.zoom_by(1.25), SK.ZoomIn)
    a.zoom_out = _action(w, "Zoom &Out", lambda: w.view.zoom_by(0.8), SK.ZoomOut)
    a.zoom_reset = _action(w, "&Actual Size", lambda: w.view.set_zoom(1.0), "Ctrl+0")
    a.reset_layout = _action(w, "&Reset Panel Layout", w.reset_panel_layout)
    a.guide = _action(w, "Editor &Guide", w.show_guide, SK.HelpContents)
    a.about = _action(w, "&About Neurocanvas", w.show_about)

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

    toolbar = QToolBar("Main toolbar", w)
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
    w.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    w.toolbar = toolbar
    return a
