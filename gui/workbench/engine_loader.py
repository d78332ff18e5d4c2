"""Loading the training engine (torch) in the background, once, when something first needs it.

`import torch` takes seconds, and the editor must paint before it happens, so
the workbench never imports the engine at start-up. The first panel shown or
the first Start asks `EngineLoader.when_ready(callback)`; the engine is then
imported on a background thread (the GUI may still stutter: the import holds
the GIL in bursts), panels show "Loading engine…" meanwhile, and the callbacks
run in the GUI thread once it is there. `EnginePanel` is the base of the panels
that fill in from the engine (Data, Training).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QWidget,
)

from gui.widgets import scroll_page
from gui.workbench.gc_policy import freeze_long_lived
from gui.workbench.tasks import TaskRunner

MIN_FIELD_WIDTH = 80  # pixels a settings field may shrink to


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


class EnginePanel(QWidget):
    """A settings panel whose choices come from the engine's `info`, so it fills in only once the engine
    is loaded, which it asks for when first really shown (`activate`). Until then the rows of its
    `form` are hidden (their widgets would show placeholder values) and its `state` line says what
    is happening (or why the engine could not be loaded).

    A subclass builds its widgets (putting `state` at the top and its settings in the QFormLayout
    `form`, then calling `_set_body`), connects the settings to `_settings_changed`, and implements
    `_fill_choices`, `_set_inputs_enabled` and `_settings_changed` (which shows nothing before the
    engine is ready).
    """

    def __init__(self, engine: EngineLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self._ready = False
        self.state = QLabel("The training engine loads when this panel is first shown.")
        self.state.setWordWrap(True)
        engine.failed.connect(self.state.setText)

    def _set_body(self, body: QWidget) -> None:
        """Show `body` in a scroll area that fills the panel and scrolls only vertically. Its fields may
        shrink to MIN_FIELD_WIDTH (a spin box or combo otherwise insists on its longest text), so none is
        cut off on the right in a narrow dock."""
        for field in body.findChildren(QWidget):
            if isinstance(field, (QAbstractSpinBox, QComboBox, QLineEdit)):
                field.setMinimumWidth(MIN_FIELD_WIDTH)
                field.setSizePolicy(QSizePolicy.Policy.Expanding, field.sizePolicy().verticalPolicy())
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        scroll_page(self, body).setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._show_form(self._ready)

    def _show_form(self, visible: bool) -> None:
        for row in range(self.form.rowCount()):
            self.form.setRowVisible(row, visible)

    def activate(self) -> None:
        """Called when the panel is first really shown: load the engine, then fill in."""
        if not self._ready:
            if not self.engine.loaded:
                self.state.setText("Loading the training engine…")
            self.engine.when_ready(self._engine_ready)

    def _engine_ready(self) -> None:
        if self._ready:
            return
        self._ready = True
        self._fill_choices(self.engine.info)
        self.state.hide()
        self._show_form(True)
        self._set_inputs_enabled(True)
        self._settings_changed()  # hides the rows that the current settings don't use

    def _fill_choices(self, info: dict) -> None:
        """Fill the lists the engine decides (data sources, optimisers, devices…) from its `info`."""
        raise NotImplementedError

    def _set_inputs_enabled(self, enabled: bool) -> None:
        raise NotImplementedError

    def _settings_changed(self) -> None:
        raise NotImplementedError
