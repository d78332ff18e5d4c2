"""Loading the training engine (torch) in the background, once, when something first needs it.

`import torch` takes seconds, and the editor must paint before it happens, so
the workbench never imports the engine at start-up. The first panel shown or
the first Start asks `EngineLoader.when_ready(callback)`; the engine is then
imported on a background thread (the GUI may still stutter: the import holds
the GIL in bursts), panels show "Loading engine…" meanwhile, and the callbacks
run in the GUI thread once it is there.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from gui.workbench.gc_policy import freeze_long_lived
from gui.workbench.tasks import TaskRunner


def _load_engine() -> dict:
    """Import the engine's training and data layers; return what the panels need from them."""
    from engine.data import SOURCES
    from engine.training import list_devices
    from engine.training.optim import OPTIMIZERS, SCHEDULES

    return {"devices": list_devices(), "sources": dict(SOURCES), "optimizers": list(OPTIMIZERS),
            "schedules": list(SCHEDULES)}


class EngineLoader(QObject):
    """Imports the engine once; `info` holds devices, data sources, optimisers and schedules."""

    ready = Signal()
    failed = Signal(str)
    loadingStarted = Signal()

    def __init__(self, tasks: TaskRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.tasks = tasks
        self.info: dict | None = None
        self.error = ""
        self._waiting: list[Callable[[], None]] = []
        self._loading = False

    @property
    def loaded(self) -> bool:
        return self.info is not None

    @property
    def loading(self) -> bool:
        return self._loading

    def load(self) -> None:
        """Start loading unless already loaded or loading."""
        if self.info is not None or self._loading:
            return
        self._loading = True
        self.error = ""
        self.loadingStarted.emit()
        self.tasks.submit(_load_engine, self._loaded, self._failed)

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Call `callback` (in the GUI thread) once the engine is loaded, loading it if needed."""
        if self.info is not None:
            callback()
            return
        self._waiting.append(callback)
        self.load()

    def _loaded(self, info: dict) -> None:
        self._loading = False
        self.info = info
        freeze_long_lived()  # torch's objects live as long as the process: keep them out of collections
        waiting, self._waiting = self._waiting, []
        self.ready.emit()
        for callback in waiting:
            callback()

    def _failed(self, error: BaseException) -> None:
        self._loading = False
        self._waiting.clear()
        self.error = f"the training engine could not be loaded: {error}"
        self.failed.emit(self.error)
