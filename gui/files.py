"""Where files live: the resources folder, the shipped examples, the recent-files list, and the folder
every file dialog starts in.

Recent files are kept in QSettings as a JSON list (INI files turn a one-element
list into a plain string), newest first, at most `MAX_RECENT`. Every file
dialog (open, save, export, import) starts in `start_folder`: the folder last
used in any of them, else the open project's folder, else the home folder;
each chosen file is passed to `remember_folder`.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSettings

from graphs.errors import printable

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
EXAMPLES_DIR = RESOURCES / "examples"
ICONS_DIR = RESOURCES / "icons"
DEFAULT_EXAMPLE = EXAMPLES_DIR / "digits_cnn.json"
MAX_RECENT = 10
RECENT_KEY = "files/recent"
LAST_KEY = "files/last"
FOLDER_KEY = "files/folder"  # the folder last used in a file dialog


def example_paths() -> list[Path]:
    """Every shipped example project, sorted by file name."""
    return sorted(EXAMPLES_DIR.glob("*.json"))


def example_title(path: Path) -> str:
    """`residual_cnn.json` -> `Residual cnn`, for the Examples menu."""
    words = Path(path).stem.replace("_", " ").replace("-", " ")
    return words[:1].upper() + words[1:]


def display_name(project, example: bool = False) -> str:
    """How a project is named to the user: its file's name, else its own name (marked when it is
    an unsaved copy of a shipped example), else "untitled"."""
    if project.path is not None:
        return printable(project.path.name)
    return printable(f"{project.name} (example)" if example else (project.name or "untitled"))


def is_example(path) -> bool:
    """True when `path` is a shipped example, which the editor must never overwrite."""
    try:
        return Path(path).resolve().parent == EXAMPLES_DIR.resolve()
    except OSError:
        return False


def remember_folder(path, settings: QSettings | None = None) -> None:
    """Note the folder of `path` (a file, or a folder chosen as such) for the next file dialog."""
    path = Path(path).expanduser()
    folder = path if path.is_dir() else path.parent
    (settings if settings is not None else QSettings()).setValue(FOLDER_KEY, str(folder.resolve()))


def start_folder(project_path=None, settings: QSettings | None = None) -> Path:
    """Where a file dialog starts: the folder last used, else the project's folder, else home."""
    last = (settings if settings is not None else QSettings()).value(FOLDER_KEY, "")
    candidates = [Path(last)] if isinstance(last, str) and last else []
    if project_path is not None and not is_example(project_path):
        candidates.append(Path(project_path).parent)
    return next((folder for folder in candidates if folder.is_dir()), Path.home())


class RecentFiles:
    """The recent-files list and the last opened project, in QSettings."""

    def __init__(self, settings: QSettings | None = None):
        self._settings = settings

    @property
    def settings(self) -> QSettings:
        return self._settings if self._settings is not None else QSettings()

    def paths(self) -> list[str]:
        raw = self.settings.value(RECENT_KEY, "[]")
        try:
            paths = json.loads(raw) if isinstance(raw, str) else []
        except ValueError:
            paths = []
        return [p for p in paths if isinstance(p, str)][:MAX_RECENT]

    def add(self, path) -> None:
        path = str(Path(path).resolve())
        paths = [path, *(p for p in self.paths() if p != path)][:MAX_RECENT]
        settings = self.settings
        settings.setValue(RECENT_KEY, json.dumps(paths))
        settings.setValue(LAST_KEY, path)
        remember_folder(path, settings)

    def remove(self, path) -> None:
        path = str(Path(path).resolve())
        self.settings.setValue(RECENT_KEY, json.dumps([p for p in self.paths() if p != path]))

    def clear(self) -> None:
        self.settings.setValue(RECENT_KEY, "[]")

    def last(self) -> str | None:
        value = self.settings.value(LAST_KEY, "")
        return value if isinstance(value, str) and value else None
