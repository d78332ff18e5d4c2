"""The augmentation editor in the Data panel: the dataset's `"augment"` list and a seeded preview.

The list is edited here (add, remove, move up or down, and each entry's
arguments as a small JSON object); every change is one undoable `SetTraining`
edit through `TrainingSettings`, and undo/redo refresh the list. The preview
shows the Data panel's sample images beside the same images augmented, computed
off the GUI thread with a seed the person chooses (Refresh draws new ones), so
what training will see can be judged before training. Nothing here imports
torch: the preview runs `engine.data.augment.preview_images` in a task.
"""

from __future__ import annotations

import json

from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.augment_names import ARGUMENTS, REQUIRED, STARTERS
from graphs.errors import printable
from gui.workbench.settings import TrainingSettings
from gui.workbench.tasks import TaskRunner
from gui.workbench.views import ImageGrid, compact_combo


def entry_text(entry) -> str:
    """`RandomCrop  size=[32, 32], padding=4` for the list."""
    if not isinstance(entry, dict):
        return printable(json.dumps(entry))
    arguments = ", ".join(f"{k}={json.dumps(v)}" for k, v in entry.items() if k != "type")
    return printable(f"{entry.get('type', '?')}  {arguments}".rstrip())


class AugmentPanel(QGroupBox):
    """Edits `training["dataset"]["augment"]` and previews it on the Data panel's samples."""

    def __init__(self, settings: TrainingSettings, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__("Augmentation (training split only)", parent)
        self.settings, self.tasks = settings, tasks
        self.originals: list = []  # the Data panel's sample images ([H, W] or [H, W, C] in [0, 1])
        self.labels: list[str] = []
        self._token = 0
        self._row: int | None = None  # the row to select once an edit of ours comes back
        self._build()
        settings.changed.connect(self.show_settings)

    def _build(self) -> None:
        self.list = QListWidget()
        self.list.setMaximumHeight(120)
        self.kind = compact_combo()
        self.kind.addItems(list(ARGUMENTS))
        self.add = QPushButton("Add")
        self.remove = QPushButton("Remove")
        self.up = QPushButton("Up")
        self.down = QPushButton("Down")
        self.arguments = QLineEdit()
        self.arguments.setPlaceholderText("arguments as JSON, e.g. {\"p\": 0.5}")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ff6b6b;")
        self.error.hide()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.refresh = QPushButton("Refresh preview")
        self.original_grid = ImageGrid(thumb=40)
        self.augmented_grid = ImageGrid(thumb=40)

        adding = QHBoxLayout()
        adding.addWidget(self.kind, 1)
        adding.addWidget(self.add)
        buttons = QHBoxLayout()
        for widget in (self.remove, self.up, self.down):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        preview_row = QHBoxLayout()
        preview_row.addWidget(self.refresh)
        preview_row.addWidget(self.seed)
        preview_row.addStretch(1)
        side_by_side = QHBoxLayout()
        for title, grid in (("Original", self.original_grid), ("Augmented", self.augmented_grid)):
            column = QVBoxLayout()
            column.addWidget(QLabel(f"<b>{title}</b>"))
            column.addWidget(grid)
            column.addStretch(1)
            side_by_side.addLayout(column, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addLayout(adding)
        layout.addLayout(buttons)
        layout.addWidget(self.arguments)
        layout.addWidget(self.error)
        layout.addLayout(preview_row)
        layout.addLayout(side_by_side)

        self.add.clicked.connect(self.add_entry)
        self.remove.clicked.connect(self.remove_entry)
        self.up.clicked.connect(lambda: self.move_entry(-1))
        self.down.clicked.connect(lambda: self.move_entry(1))
        self.arguments.editingFinished.connect(self.set_arguments)
        self.list.currentRowChanged.connect(self._show_arguments)
        self.refresh.clicked.connect(self.new_preview)
        self.seed.valueChanged.connect(lambda _v: self.update_preview())

    # ---- the list ----------------------------------------------------------------------
    @property
    def entries(self) -> list:
        spec = self.settings.training.get("dataset") or {}
        entries = spec.get("augment") or []
        return entries if isinstance(entries, list) else []

    def show_settings(self) -> None:
        row = self.list.currentRow() if self._row is None else self._row
        self._row = None
        entries = self.entries
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems([entry_text(entry) for entry in entries])
        self.list.blockSignals(False)
        self.list.setCurrentRow(min(max(row, 0), len(entries) - 1) if entries else -1)
        self._show_arguments(self.list.currentRow())
        self.update_preview()

    def _show_arguments(self, row: int) -> None:
        entries = self.entries
        entry = entries[row] if 0 <= row < len(entries) and isinstance(entries[row], dict) else None
        self.arguments.setEnabled(entry is not None)
        self.arguments.setText("" if entry is None else json.dumps({k: v for k, v in entry.items() if k != "type"}))
        if entry is not None and entry.get("type") in ARGUMENTS:
            self.arguments.setToolTip(f"{entry['type']} takes: {', '.join(ARGUMENTS[entry['type']])}")
        for button in (self.remove, self.up, self.down):
            button.setEnabled(entry is not None)

    def _commit(self, entries: list, text: str, row: int) -> None:
        training = self.settings.training
        dataset = dict(training.get("dataset") or {})
        if entries:
            dataset["augment"] = entries
        else:
            dataset.pop("augment", None)
        training["dataset"] = dataset
        self._show_error("")
        self._row = row  # selected by show_settings, which the edit triggers
        if not self.settings.update(training, text):
            self._row = None

    def add_entry(self) -> None:
        kind = self.kind.currentText()
        entry = {"type": kind, **json.loads(json.dumps(STARTERS.get(kind, {})))}
        size = self._image_size()
        if size is not None and "size" in entry:
            entry["size"] = size
        entries = [*self.entries, entry]
        self._commit(entries, f"Add augmentation {kind}", len(entries) - 1)

    def remove_entry(self) -> None:
        row, entries = self.list.currentRow(), self.entries
        if 0 <= row < len(entries):
            removed = entries.pop(row)
            kind = removed.get("type", "") if isinstance(removed, dict) else ""
            self._commit(entries, f"Remove augmentation {kind}".rstrip(), min(row, len(entries) - 1))

    def move_entry(self, step: int) -> None:
        row, entries = self.list.currentRow(), self.entries
        if 0 <= row < len(entries) and 0 <= row + step < len(entries):
            entries[row], entries[row + step] = entries[row + step], entries[row]
            self._commit(entries, "Move augmentation " + ("up" if step < 0 else "down"), row + step)

    def set_arguments(self) -> None:
        row, entries = self.list.currentRow(), self.entries
        if not 0 <= row < len(entries) or not isinstance(entries[row], dict):
            return
        kind = entries[row].get("type")
        try:
            arguments = json.loads(self.arguments.text() or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("the arguments must be a JSON object such as {\"p\": 0.5}")
        except ValueError as error:
            self._show_error(f"augment entry {row} ({kind}): {error}")
            return
        missing = [name for name in REQUIRED.get(kind, ()) if name not in arguments]
        if missing:
            self._show_error(f"augment entry {row} ({kind}) needs {', '.join(missing)}")
            return
        arguments.pop("type", None)
        entries[row] = {"type": kind, **arguments}
        self._commit(entries, f"Set {kind} arguments", row)

    def _image_size(self) -> list[int] | None:
        if not self.originals:
            return None
        return list(self.originals[0].shape[:2])

    def _show_error(self, text: str) -> None:
        self.error.setText(printable(text))
        self.error.setVisible(bool(text))

    # ---- the preview ----------------------------------------------------------------------
    def set_originals(self, images: list, labels: list[str]) -> None:
        """The sample images to preview on (the Data panel's), as it shows them."""
        self.originals, self.labels = list(images), list(labels)
        self.original_grid.set_images(self.originals, self.labels)
        self.update_preview()

    def new_preview(self) -> None:
        """Draw new random augmentations (the next seed)."""
        self.seed.setValue(self.seed.value() + 1)  # updates the preview through valueChanged

    def update_preview(self) -> None:
        entries, images, seed = self.entries, self.originals, self.seed.value()
        self.tasks.cancel(self._token)
        if not images:
            self.augmented_grid.clear()
            return
        if not entries:
            self.augmented_grid.set_images(images, self.labels)
            return

        def run():
            from engine.data.augment import preview_images

            return preview_images(entries, images, seed)

        def done(augmented) -> None:
            self.augmented_grid.set_images(augmented, self.labels)

        def failed(error: BaseException) -> None:
            self.augmented_grid.clear()
            self._show_error(str(error))

        self._token = self.tasks.submit(run, done, failed)
