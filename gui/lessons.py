"""Starter lessons: example projects that teach one idea each, with a short text beside the canvas.

A lesson is `resources/lessons/NN_name.json` (a normal project that trains as-is on built-in data) and
its text `NN_name.md` (what to look at, what to try). Help > Lessons lists them; opening one loads the
project as an unsaved copy (Save asks where, so the shipped file is never overwritten) and shows the
text in the "Lesson" dock, which closes again when another project replaces the lesson.
`install(window)` adds the menu and the dock to a MainWindow.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMenu, QMessageBox, QTextBrowser

from graphs.errors import printable
from graphs.project import ProjectFormatError, load_project

LESSONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "lessons"
DOCK_TITLE = "Lesson"


def lesson_paths() -> list[Path]:
    """Every shipped lesson project, in order (its file name starts with its number)."""
    return sorted(LESSONS_DIR.glob("[0-9][0-9]_*.json"))


def lesson_title(path: Path) -> str:
    """`02_activation_functions.json` -> `2. Activation functions`."""
    number, _, words = Path(path).stem.partition("_")
    words = words.replace("_", " ")
    return f"{int(number)}. {words[:1].upper()}{words[1:]}"


def lesson_text(path: Path) -> str:
    """The lesson's markdown text (the .md file beside its project)."""
    return Path(path).with_suffix(".md").read_text(encoding="utf-8")


class LessonView(QTextBrowser):
    """The lesson's text, rendered from markdown; links open in the system browser."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("lessonView")
        self.setOpenExternalLinks(True)
        self.lesson: Path | None = None
        self.setPlaceholderText("Open a lesson from Help > Lessons.")

    def show_lesson(self, path: Path) -> None:
        self.lesson = Path(path)
        self.setMarkdown(lesson_text(path))
        self.verticalScrollBar().setValue(0)


class Lessons:
    """The Help > Lessons menu and the Lesson dock of one main window."""

    def __init__(self, window):
        self.window = window
        self.view = LessonView()
        self.dock = window.add_dock(self.view, DOCK_TITLE, Qt.DockWidgetArea.RightDockWidgetArea, "LessonDock")
        self.dock.hide()
        self.menu = QMenu("&Lessons", window)
        self.menu.setObjectName("lessonsMenu")
        help_menu = window.menus["help"]
        first = help_menu.actions()[0] if help_menu.actions() else None
        help_menu.insertMenu(first, self.menu)
        if first is not None:
            help_menu.insertSeparator(first)
        self.menu.aboutToShow.connect(self.fill_menu)
        window.menus["lessons"] = self.menu
        self.fill_menu()
        self._opening = False
        window.document.projectReset.connect(self._project_reset)

    def fill_menu(self) -> None:
        self.menu.clear()
        for path in lesson_paths():
            action = self.menu.addAction(lesson_title(path))
            action.setObjectName(f"lesson_{path.stem}")
            action.triggered.connect(lambda _checked=False, p=path: self.open(p))
        if self.menu.isEmpty():
            self.menu.addAction("No lessons found").setEnabled(False)

    def open(self, path: Path) -> bool:
        """Open lesson `path` ready to train, with its text beside the canvas. False if the user kept the
        open document, or the lesson could not be read (a dialog says why)."""
        window = self.window
        if not window.maybe_save():
            return False
        try:
            project = load_project(path)
            self.view.show_lesson(path)
        except (ProjectFormatError, OSError, UnicodeDecodeError) as error:
            QMessageBox.critical(window, "Cannot open lesson", printable(str(error)))
            return False
        project.path = None  # a copy: Save asks where, so the shipped lesson stays as it is
        init_from = project.training.get("init_from")
        if isinstance(init_from, str) and init_from and not Path(init_from).is_absolute():
            project.training["init_from"] = str(Path(path).resolve().parent / init_from)  # the copy has no folder
        self._opening = True
        try:
            window._set_project(project, is_example=True)
        finally:
            self._opening = False
        if not self.dock.isVisible():
            self.dock.show()
            # room to read: about a third of the window's height, once the dock has its place in the layout
            QTimer.singleShot(50, lambda: window.resizeDocks([self.dock], [int(window.height() * 0.35)],
                                                             Qt.Orientation.Vertical))
        self.dock.raise_()
        window.show_message(f"Opened {lesson_title(path)}: train it with Start Training (F5), then follow the "
                            "lesson's text")
        return True


    def _project_reset(self) -> None:
        """Another project replaced the lesson (New, Open, an example): its text no longer applies."""
        if not self._opening:
            self.view.lesson = None
            self.view.clear()
            self.dock.hide()


def install(window) -> Lessons:
    """Add the lessons to `window` once; returns them."""
    if getattr(window, "lessons", None) is None:
        window.lessons = Lessons(window)
    return window.lessons
