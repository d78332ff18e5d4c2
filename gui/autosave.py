"""Autosave and crash recovery: unsaved work survives a crash, a kill or a power cut.

While the open project has unsaved changes, `Autosaver` writes it at most every
`interval_ms` (60 s) to this session's recovery file in `recovery_folder()`
(QStandardPaths' AppDataLocation/recovery, so an untitled project or one in a read-only
folder is covered too, and project folders stay clean). The file is a plain project
file (File > Open reads it) written atomically; its `gui.recovery` section records the
project's own path, and whether it was a copy of a shipped example. The session holds a
`QLockFile` beside it for as long as it runs.

The recovery file goes away whenever nothing would be lost without it: after a save, an
undo back to the saved state, opening another project, or a normal close of the window
(Save or Discard; a cancelled close keeps it).

At start-up `offer_restore()` looks for recovery files whose lock is free or stale (their
session ended without closing normally) and asks about the newest: Restore opens it as a
modified document of its original file (the title shows [*], Save writes to that file),
Discard deletes it. Older ones are offered at later starts. A recovery file that cannot
be read is renamed `*.unreadable`, never deleted.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QStandardPaths, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from engine.errors import UserError
from graphs.errors import ProjectFormatError
from graphs.project import Project, atomic_write, loads_project
from gui import files, trust

INTERVAL_MS = 60_000
RECOVERY_KEY = "recovery"  # the section of project.gui where a recovery file says where it belongs
PATTERN = "session-*.json"


def recovery_folder() -> Path:
    """Where recovery files live: the application's data folder, `recovery`."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".neurocanvas") / "recovery"


def recovery_bytes(project: Project, example: bool = False) -> bytes:
    """The recovery file of `project`: the project file, with where it belongs in `gui.recovery`."""
    data = project.to_dict()
    data.setdefault("gui", {})[RECOVERY_KEY] = {
        "path": str(project.path) if project.path is not None else None, "example": bool(example)}
    if project.graph.custom_types.files:  # custom layers: found from the recovery folder, trusted again there
        data["gui"][RECOVERY_KEY]["custom_code"] = project.custom_code
        data["custom_code"] = [str(file.path) for file in project.graph.custom_types.files]
    return (json.dumps(data, indent=1) + "\n").encode("utf-8")


def _lock_for(path: Path) -> QLockFile:
    lock = QLockFile(str(path.with_suffix(".lock")))
    lock.setStaleLockTime(0)  # only a dead process's lock is stale, never an old one
    return lock


class Autosaver(QObject):
    """Autosaves one MainWindow's document and offers to restore an abandoned session's work."""

    written = Signal(str)  # the recovery file, after each autosave

    def __init__(self, window, folder: str | os.PathLike | None = None, interval_ms: int = INTERVAL_MS):
        super().__init__(window)
        self.window = window
        self.folder = Path(folder) if folder is not None else recovery_folder()
        self.path = self.folder / f"session-{os.getpid()}-{secrets.token_hex(4)}.json"
        self._lock: QLockFile | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.save_now)
        self._attached = True  # False once the document goes: its stack's last signals mean nothing then
        stack = window.document.undo_stack
        stack.indexChanged.connect(self._changed)
        stack.cleanChanged.connect(self._clean_changed)
        window.document.destroyed.connect(self._detach)

    @property
    def stack(self):
        return self.window.document.undo_stack

    @property
    def pending(self) -> bool:
        """An autosave is scheduled."""
        return self._timer.isActive()

    @property
    def interval_ms(self) -> int:
        return self._timer.interval()

    def set_interval(self, interval_ms: int) -> None:
        self._timer.setInterval(interval_ms)

    # ---- writing ---------------------------------------------------------------
    def _detach(self, *_args) -> None:
        """The window is being destroyed without a normal close: the stack, emptied as it is deleted,
        says "clean", but the work is still unsaved, so its recovery file stays, unlocked: the next
        start offers it."""
        self._attached = False
        self._timer.stop()
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def _changed(self, *_args) -> None:
        if self._attached and not self.stack.isClean() and not self._timer.isActive():
            self._timer.start()

    def _clean_changed(self, clean: bool) -> None:
        if not self._attached:
            return
        if clean:
            self._timer.stop()
            self.remove()
        else:
            self._changed()

    def save_now(self) -> bool:
        """Write the recovery file now if there are unsaved changes; False when there was nothing to
        write or the disk refused (the status bar says so; the next change tries again)."""
        if self.stack.isClean():
            return False
        window = self.window
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._hold_lock()
            atomic_write(self.path, recovery_bytes(window.document.project, window.is_example))
        except OSError as error:
            window.show_message(f"Autosave failed: {error.strerror or error}")
            return False
        self.written.emit(str(self.path))
        return True

    def _hold_lock(self) -> None:
        if self._lock is None:
            lock = _lock_for(self.path)
            if not lock.tryLock(0):
                raise OSError(f"cannot lock {lock.fileName()} ({lock.error().name})")
            self._lock = lock

    def remove(self) -> None:
        """Delete this session's recovery file (nothing unsaved is left) and release its lock."""
        _unlink(self.path)
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def close(self) -> None:
        """The window closed normally: no recovery is needed."""
        self._timer.stop()
        self.remove()

    # ---- restoring -------------------------------------------------------------
    def abandoned(self) -> list[tuple[Path, QLockFile]]:
        """Recovery files of sessions that ended without closing normally, newest first, each with
        its lock, now held by this session (release it with `unlock()`)."""
        try:
            paths = sorted(self.folder.glob(PATTERN), key=_modified, reverse=True)
        except OSError:
            return []
        found = []
        for path in paths:
            lock = _lock_for(path)
            if path != self.path and path.is_file() and lock.tryLock(0):
                found.append((path, lock))
        return found

    def offer_restore(self) -> bool:
        """Ask whether to restore the newest abandoned recovery file; True when it was restored."""
        found = self.abandoned()
        try:
            return any(self._offer(path) for path, _lock in found)  # stops at the first one restored
        finally:
            for _path, lock in found:
                lock.unlock()

    def _offer(self, path: Path) -> bool:
        """Ask about one recovery file and restore or delete it; True when restored."""
        try:
            project = loads_project(path.read_bytes(), path, trust.code_loader(self.window, path))
        except trust.CodeNotTrusted:  # kept, and offered again at the next start
            return False
        except (ProjectFormatError, UserError, OSError) as error:
            _set_aside(path)
            QMessageBox.warning(self.window, "Recovery file unreadable",
                                f"A recovery file could not be read; it was kept as "
                                f"{path.with_suffix('.unreadable')}. {error}")
            return False
        info = project.gui.pop(RECOVERY_KEY, None)
        info = info if isinstance(info, dict) else {}
        original = info.get("path")
        project.path = Path(original) if isinstance(original, str) and original else None
        if "custom_code" in info:  # as the project lists its custom layers, not as the recovery file found them
            project.custom_code = info["custom_code"]
        example = info.get("example") is True
        answer = self._ask(project, path, example)
        if answer is True:
            self._restore(project, path, example)
        elif answer is False:
            _unlink(path)
        return answer is True

    def _ask(self, project: Project, path: Path, example: bool) -> bool | None:
        """True: restore; False: discard; None: neither (the dialog was closed)."""
        name = files.display_name(project, example)
        when = time.strftime("%H:%M on %d %b %Y", time.localtime(_modified(path)))
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.window, "Restore unsaved changes?",
            f"Neurocanvas did not close normally. Restore the unsaved changes to {name}, autosaved at {when}?\n\n"
            "Yes opens them as unsaved changes; Discard deletes them.",
            buttons.Yes | buttons.Discard, buttons.Yes)
        return True if answer == buttons.Yes else False if answer == buttons.Discard else None

    def _restore(self, project: Project, path: Path, example: bool) -> None:
        """Open `project` as unsaved changes, then take its recovery over as this session's."""
        window = self.window
        window._set_project(project, is_example=example)
        self.stack.resetClean()  # modified: the title shows [*], and closing asks to save
        if self.save_now():  # this session's own recovery file holds the work now
            _unlink(path)
        where = f"; Save writes them to {project.path}" if project.path is not None else ""
        window.show_message(f"Restored unsaved changes{where}")


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass  # gone already, or a read-only folder: then it is offered again at the next start


def _set_aside(path: Path) -> None:
    try:
        path.replace(path.with_suffix(".unreadable"))
    except OSError:
        pass
