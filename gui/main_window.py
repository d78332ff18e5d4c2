"""The main window: canvas in the middle, palette / inspector / summary docks, menus, status bar.

It owns one `DocumentController` (`window.document`) for the whole session;
opening a file swaps the controller's project, and every view follows its
`projectReset` signal. File handling (new / open / save / recent / examples,
asking before discarding changes) lives here, autosave and crash recovery in
`gui.autosave`; editing goes through the controller. Another feature adds its
panels with `add_dock` and its menu items through `window.menus`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QUndoView,
    QWidget,
)

from engine.errors import UserError
from graphs.errors import ProjectFormatError
from graphs.project import Project, load_project, save_project
from gui import actions, clipboard, files, formatting, trust
from gui.autosave import Autosaver
from gui.canvas.scene import CanvasScene
from gui.canvas.view import CanvasView
from gui.document import DocumentController
from gui.fix_menu import FixMarker, add_fix_actions
from gui.inspector import Inspector
from gui.lessons import install as install_lessons
from gui.palette import Palette
from gui.result_changes import totals
from gui.steady_widgets import SteadyLabel
from gui.summary import ModelSummary
from gui.training_options import freeze_action
from gui.units.editor import install as install_units
from gui.workbench import install as install_workbench

STATE_VERSION = 1
FILE_FILTER = "Neurocanvas projects (*.json);;All files (*)"
Area = Qt.DockWidgetArea


class MainWindow(QMainWindow):
    """The editor window. `document` is the controller of the open project."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowIcon(actions.icon("neurocanvas"))
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.setCorner(Qt.Corner.BottomLeftCorner, Area.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Area.RightDockWidgetArea)
        self.resize(1440, 900)
        self.document = DocumentController(parent=self)
        self.recent = files.RecentFiles()
        self.is_example = False  # the open project is a copy of a shipped example
        self.menus: dict[str, QMenu] = {}
        self.docks: dict[str, QDockWidget] = {}
        self._paste_count, self._paste_anchor = 0, None
        self._view_pending = True
        self._state_restored = False

        self.scene = CanvasScene(self.document, self)
        self.view = CanvasView(self.scene, self)
        self.fix_marker = FixMarker(self.document, self.scene, self)  # the lightbulbs on fixable errors
        self.setCentralWidget(self.view)
        self.act = actions.install(self)

        self.palette = Palette()
        install_units(self)  # Group / Ungroup, editing a unit in place, the palette's Units (gui.units)
        self.inspector = Inspector(self.document)
        self.summary = ModelSummary(self.document)
        self.undo_view = QUndoView(self.document.undo_stack)
        self.undo_view.setEmptyLabel("<opened>")
        self.add_dock(self.palette, "Palette", Area.LeftDockWidgetArea, "paletteDock")
        self.add_dock(self.inspector, "Inspector", Area.RightDockWidgetArea, "inspectorDock")
        self.add_dock(self.summary, "Model Summary", Area.BottomDockWidgetArea, "summaryDock")
        history = self.add_dock(self.undo_view, "Undo History", Area.RightDockWidgetArea, "historyDock")
        self.tabifyDockWidget(self.docks["Inspector"], history)
        self.docks["Inspector"].raise_()
        history.hide()
        self.resizeDocks([self.docks["Palette"], self.docks["Inspector"]], [250, 340], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["Model Summary"]], [210], Qt.Orientation.Vertical)

        self.stats = SteadyLabel()  # their text changes after each edit: no layout of the window (gui.steady_widgets)
        self.stats.setObjectName("statsLabel")
        self.validity = SteadyLabel()
        self.validity.setObjectName("validityLabel")
        self.statusBar().addPermanentWidget(self.stats)
        self.statusBar().addPermanentWidget(self.validity)
        for label in (self.stats, self.validity):  # another project: their widest text so far is forgotten
            self.document.projectReset.connect(label.shrink_to_text)

        self.palette.addRequested.connect(self.add_from_palette)
        self.summary.nodeActivated.connect(self.focus_node)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.statusMessage.connect(self.show_message)
        self.scene.contextMenuRequested.connect(self._context_menu)
        self.document.message.connect(self.show_message)
        self.document.nodeRenamed.connect(self._node_renamed)
        self.document.resultChanged.connect(self._update_stats)
        self.document.undo_stack.cleanChanged.connect(self._show_modified)
        self.document.projectReset.connect(self._update_title)
        self.autosaver = Autosaver(self)  # a recovery file while there are unsaved changes
        install_workbench(self)  # training docks and menus; before the layout is saved and restored
        install_lessons(self)  # Help > Lessons and the Lesson dock
        self._default_state = self.saveState(STATE_VERSION)
        self._restore_settings()
        self._update_title()
        self._update_stats(self.document.result)

    # ---- docks and status -----------------------------------------------------
    def add_dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea, object_name: str | None = None
                 ) -> QDockWidget:
        """Wrap `widget` in a movable, closable dock; its toggle goes into View > Panels. A dock added
        after start-up gets back the place it had when the window last closed."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name or f"{title.replace(' ', '')}Dock")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        if not (self._state_restored and self.restoreDockWidget(dock)):
            self.addDockWidget(area, dock)
        self.docks[title] = dock
        self.menus["panels"].addAction(dock.toggleViewAction())
        return dock

    def show_message(self, text: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def _update_stats(self, result) -> None:
        count = len(self.document.graph)
        params, macs = totals(result)  # from the previous totals and what changed (gui.result_changes)
        self.stats.setText(f"{count} node{'s' if count != 1 else ''} · {formatting.count(params)} params"
                           f" · {formatting.count(macs)} MACs")
        problems = len(result.errors)
        self.validity.setText("✓ ready" if not problems else f"⚠ {problems} problem{'s' if problems != 1 else ''}")
        self.validity.setToolTip("\n".join(e.message for e in result.errors[:20]))
        state = "ok" if not problems else "error"
        if self.validity.property("state") != state:  # restyled only when it turns
            self.validity.setProperty("state", state)
            self.validity.style().unpolish(self.validity)
            self.validity.style().polish(self.validity)

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None, len(ids))
        if len(ids) == 1:
            self.docks["Inspector"].raise_()  # in front of the Data and Training tabs
            errors = self.document.scope_result.errors_for(ids[0])
            if errors:
                self.show_message(f"{ids[0]}: {errors[0].message}")

    def _node_renamed(self, _old_id: str, new_id: str) -> None:
        self.scene.select_nodes([new_id])
        self.show_message(f"Renamed to '{new_id}'")

    def focus_node(self, node_id: str) -> None:
        if "." in node_id:  # a layer inside an instance (`block.conv1`): open its unit there
            self.units.reveal(node_id)
            return
        if not self.document.scope_graph.has_node(node_id):  # a node of the model, seen from inside a unit
            self.document.enter_scope([])
        self.scene.select_nodes([node_id])
        item = self.scene.node_item(node_id)
        if item is not None:
            self.view.centerOn(item)

    # ---- editing (everything goes through the controller) ----------------------
    def add_from_palette(self, type_name: str) -> str:
        return self.view.add_node_centre(type_name)

    def delete_selection(self) -> None:
        self.document.remove(self.scene.selected_node_ids(), self.scene.selected_edges())

    def select_all(self) -> None:
        self.scene.select_nodes(self.document.scope_graph.node_ids())

    def copy(self) -> bool:
        ids = self.scene.selected_node_ids()
        if not ids:
            self.show_message("Select nodes to copy")
            return False
        QApplication.clipboard().setText(clipboard.to_text(clipboard.selection_data(self.document.scope_graph, ids)))
        self._paste_count, self._paste_anchor = 0, None
        self.show_message(f"Copied {len(ids)} node{'s' if len(ids) != 1 else ''}")
        return True

    def cut(self) -> None:
        if self.copy():
            self.delete_selection()

    def paste(self) -> list[str]:
        data = clipboard.from_mime(QApplication.clipboard().mimeData())
        if not data or not data.get("nodes"):
            self.show_message("The clipboard holds no Neurocanvas nodes")
            return []
        positions = [n.get("position", [0, 0]) for n in data["nodes"] if isinstance(n, dict)]
        cursor = self.view.viewport().mapFromGlobal(QCursor.pos())
        anchor = None
        if positions and self.view.underMouse() and self.view.viewport().rect().contains(cursor):
            target = self.view.mapToScene(cursor)
            anchor = (round(target.x()), round(target.y()))
        if anchor != self._paste_anchor:  # pasting again at the same spot steps down and right
            self._paste_anchor, self._paste_count = anchor, 0
        self._paste_count += 1
        if anchor is None:
            offset = (40.0 * self._paste_count, 40.0 * self._paste_count)
        else:
            step = 40.0 * (self._paste_count - 1)
            left = min(float(p[0]) for p in positions)
            top = min(float(p[1]) for p in positions)
            offset = (anchor[0] - left + step, anchor[1] - top + step)
        ids = self.document.paste(data, offset)
        self.scene.select_nodes(ids)
        return ids

    def duplicate(self) -> list[str]:
        ids = self.scene.selected_node_ids()
        if not ids:
            return []
        new_ids = self.document.paste(clipboard.selection_data(self.document.scope_graph, ids), (40.0, 40.0),
                                      "Duplicate")
        self.scene.select_nodes(new_ids)
        return new_ids

    def auto_layout(self) -> None:
        self.document.flush()
        if self.document.auto_layout(self.scene.node_sizes()):
            self.view.frame_all()

    def _context_menu(self, item, event) -> None:
        menu = QMenu(self)
        a = self.act
        if item is None:
            menu.addActions([a.add_node, a.paste, a.select_all])
            menu.addSeparator()
            menu.addActions([a.auto_layout, a.frame_all])
            self.units.add_to_menu(menu)
        else:
            menu.addActions([a.cut, a.copy, a.duplicate] if hasattr(item, "node_id") else [])
            menu.addAction(a.delete)
            if hasattr(item, "node_id"):
                menu.addSeparator()
                selected = self.scene.selected_node_ids()
                ids = selected if item.node_id in selected else [item.node_id]
                menu.addAction(freeze_action(self.document, ids, menu))
                self.units.add_to_menu(menu)
                if self.document.scope_result.errors_for(item.node_id):
                    menu.addSeparator()
                    add_fix_actions(menu, self.document, item.node_id)
        menu.exec(event.screenPos())

    # ---- files -----------------------------------------------------------------
    def display_name(self) -> str:
        return files.display_name(self.document.project, self.is_example)

    def _show_modified(self, clean: bool) -> None:
        # a method, not a lambda: Qt drops it with the window, so the stack emptied as the window is
        # destroyed does not call into a deleted window
        self.setWindowModified(not clean)

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.display_name()}[*] — Neurocanvas")
        self.setWindowModified(not self.document.undo_stack.isClean())

    def _set_project(self, project: Project, is_example: bool = False) -> None:
        self.is_example = is_example
        self.document.set_project(project)
        self.palette.set_custom_types(project.graph.custom_types)  # the project's own layers, under "Custom"
        self._paste_count, self._paste_anchor = 0, None
        self._view_pending = True
        if self.isVisible():
            QTimer.singleShot(0, self._apply_view)
        self._update_title()

    def _apply_view(self) -> None:
        if not self._view_pending:
            return
        self._view_pending = False
        state = self.document.project.gui.get("view")  # the view saved with the project, if it shows it
        if not (isinstance(state, dict) and self.view.restore_view_state(state) and self.view.shows_any_node()):
            self.view.fit()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._apply_view)

    def maybe_save(self) -> bool:
        """True when it is fine to drop the open document (saved, discarded, or unchanged)."""
        if self.document.undo_stack.isClean():
            return True
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {self.display_name()}?",
            buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
        if answer == buttons.Save:
            return self.save()
        return answer == buttons.Discard

    def new_project(self) -> bool:
        if not self.maybe_save():
            return False
        self._set_project(Project())
        return True

    def open_dialog(self) -> bool:
        start = str(files.start_folder(self.document.project.path))
        path, _ = QFileDialog.getOpenFileName(self, "Open project", start, FILE_FILTER)
        return self.open_project(path) if path else False

    def open_project(self, path) -> bool:
        """Open a project file (a shipped example opens as an unsaved copy). On failure a dialog says
        why and the open document stays as it was."""
        if not self.maybe_save():
            return False
        return self._load(path)

    def open_example(self, path) -> bool:
        if not self.maybe_save():
            return False
        return self._load(path)

    def _load(self, path, quiet: bool = False) -> bool:
        try:
            project = load_project(path, trust.code_loader(self, path))  # custom layers: asks first (gui.trust)
        except trust.CodeNotTrusted as declined:
            self.show_message(str(declined))
            return False
        except (ProjectFormatError, UserError) as error:
            if not quiet:
                QMessageBox.critical(self, "Cannot open project", str(error))
            return False
        example = files.is_example(path)
        if example:
            project.path = None
        self._set_project(project, is_example=example)
        if not example:
            self.recent.add(path)
        self.show_message(f"Opened {Path(path).name}" + (" (a copy: Save asks where)" if example else ""))
        return True

    def open_initial(self, path=None) -> None:
        """Start-up: unsaved work of a session that crashed (if the user restores it), else `path`, else
        the last project, else the digits example, else an empty project."""
        if self.autosaver.offer_restore():
            return
        if path and self._load(path):
            return
        last = self.recent.last()
        if not path and last and Path(last).exists() and self._load(last, quiet=True):
            return
        if files.DEFAULT_EXAMPLE.exists() and self._load(files.DEFAULT_EXAMPLE, quiet=True):
            return
        self._set_project(Project())

    def save(self) -> bool:
        path = self.document.project.path
        if path is None or files.is_example(path):
            return self.save_as_dialog()
        return self.save_as(path)

    def save_as_dialog(self) -> bool:
        project = self.document.project
        name = project.path.name if project.path else f"{project.name or 'untitled'}.json".replace(" ", "_")
        start = files.start_folder(project.path)
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", str(start / name), FILE_FILTER)
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self.save_as(path)

    def save_as(self, path) -> bool:
        """Save atomically to `path`; on failure a dialog says why and nothing else changes."""
        project = self.document.project
        project.gui["view"] = self.view.view_state()
        old_name = project.name
        if project.name in ("", "untitled"):
            project.name = Path(path).stem
        try:
            save_project(project, path)
        except ProjectFormatError as error:
            project.name = old_name
            QMessageBox.critical(self, "Cannot save project", str(error))
            return False
        self.is_example = False
        self.document.undo_stack.setClean()
        self.recent.add(path)
        self._update_title()
        self.show_message(f"Saved {Path(path).name}")
        return True

    def fill_recent_menu(self) -> None:
        menu = self.menus["recent"]
        menu.clear()
        paths = self.recent.paths()
        for i, path in enumerate(paths, 1):
            action = menu.addAction(f"&{i % 10}  {Path(path).name}   —   {Path(path).parent}")
            action.setEnabled(Path(path).exists())
            action.triggered.connect(lambda _checked=False, p=path: self.open_project(p))
        if not paths:
            menu.addAction("No recent projects").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear Recent", self.recent.clear).setEnabled(bool(paths))

    def fill_examples_menu(self) -> None:
        menu = self.menus["examples"]
        menu.clear()
        for path in files.example_paths():
            action = menu.addAction(files.example_title(path))
            action.setToolTip(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self.open_example(p))
        if menu.isEmpty():
            menu.addAction("No examples found").setEnabled(False)

    # ---- help ------------------------------------------------------------------
    def show_guide(self) -> None:
        QMessageBox.information(self, "Editor guide", GUIDE)

    def show_about(self) -> None:
        QMessageBox.about(self, "About Neurocanvas",
                          "<b>Neurocanvas</b><br>Build deep-learning models by wiring nodes, check shapes "
                          "live, train, export.")

    # ---- settings --------------------------------------------------------------
    def reset_panel_layout(self) -> None:
        self.restoreState(self._default_state, STATE_VERSION)

    def _restore_settings(self) -> None:
        settings = QSettings()
        geometry = settings.value("window/geometry")
        state = settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state, STATE_VERSION)
        self._state_restored = True

    def save_settings(self) -> None:
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState(STATE_VERSION))
        settings.sync()

    def closeEvent(self, event) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.save_settings()
        self.autosaver.close()
        event.accept()


GUIDE = """<h3>Editing</h3>
<table cellspacing=4>
<tr><td><b>Add a node</b></td><td>drag it from the palette, double-click it there, or press Tab (or double-click
the empty canvas) and type</td></tr>
<tr><td><b>Wire</b></td><td>drag from a port to a port; green ports take the wire, hover another to see why
not. Drag a wire off an input to move or remove it.</td></tr>
<tr><td><b>Select</b></td><td>click, Ctrl+click, or drag a rubber band on the empty canvas</td></tr>
<tr><td><b>Pan / zoom</b></td><td>middle-drag or Space+drag / mouse wheel</td></tr>
<tr><td><b>F / Shift+F</b></td><td>frame all / frame the selection</td></tr>
<tr><td><b>Ctrl+D, Ctrl+C, Ctrl+V</b></td><td>duplicate, copy, paste (wires inside the selection come along)</td></tr>
<tr><td><b>Delete</b></td><td>delete the selected nodes and wires</td></tr>
<tr><td><b>Ctrl+L</b></td><td>auto-layout, left to right</td></tr>
<tr><td><b>Ctrl+Z / Ctrl+Shift+Z or Ctrl+Y</b></td><td>undo / redo (View &gt; Panels &gt; Undo History)</td></tr>
</table>
<p>A red node has a problem: hover it, or select it and read the inspector.</p>"""
