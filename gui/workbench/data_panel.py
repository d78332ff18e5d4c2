"""The Data panel: which dataset to train on, its options, the validation split and seed, and a preview.

Every committed change is an undoable edit of `project.training` through
`TrainingSettings`. Choosing a different dataset first loads it in the
background; once its shapes are known, the dataset and the Input/Target
shapes that must follow it are pushed as one undo step (when the data can't
be loaded the choice is still recorded, and the panel says what is wrong).
The preview (a table of rows, a grid of images or of sounds' spectrograms,
with their labels, and the class counts) is loaded off the GUI thread
whenever the settings it depends on change, including through undo. Nothing loads until the panel is shown.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from graphs.errors import printable, quoted
from gui.workbench import data_sources as sources
from gui.workbench.audio_preview import SpectrogramPreview
from gui.workbench.augment_panel import AugmentPanel
from gui.workbench.column_roles import ColumnRoles
from gui.workbench.engine_loader import EngineLoader, EnginePanel
from gui.workbench.settings import TrainingSettings
from gui.workbench.tasks import TaskRunner
from gui.workbench.text_preview import TextPreview
from gui.workbench.views import ClassCounts, ImageGrid, compact_combo, fill_table, read_only_table

MANAGED = ("path", "target", "columns", "grayscale", "size", "autoencoder", "features", *sources.NUMBER_OPTIONS)


def _muted(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setObjectName(name or "mutedLabel")
    return label


class DataPanel(EnginePanel):
    """Edits `training["dataset"]`, `val_split` and `seed`; shows what the data looks like."""

    shapesLoaded = Signal(dict, object)  # training settings, their dataset's DataShapes (None: can't load)

    def __init__(self, settings: TrainingSettings, engine: EngineLoader, tasks: TaskRunner,
                 parent: QWidget | None = None):
        super().__init__(engine, parent)
        self.settings, self.tasks = settings, tasks
        self.preview = None  # the DataPreview shown
        self.shown_key: sources.PreviewKey | None = None
        self._pending: sources.PreviewKey | None = None
        self._token = 0
        self._edited_roles: dict | None = None  # the column roles just chosen, until they are committed
        self._build()
        settings.changed.connect(self._settings_changed)

    # ---- layout ----------------------------------------------------------------
    def _build(self) -> None:
        self.state.setObjectName("dataState")
        self.source = compact_combo()
        self.numbers = {name: QLineEdit() for name in sources.NUMBER_OPTIONS}
        for field in self.numbers.values():
            field.setPlaceholderText("default")
        self.path = QLineEdit()
        self.path.setPlaceholderText("choose a file…")
        self.browse = QPushButton("Browse…")
        path_row = QWidget()
        row = QHBoxLayout(path_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path, 1)
        row.addWidget(self.browse)
        self.target = compact_combo()
        self.columns = ColumnRoles()
        self.grayscale = QCheckBox("Grayscale")
        self.size = QLineEdit()
        self.size.setPlaceholderText("height, width (default: the first image's)")
        self.autoencoder = QCheckBox("Autoencoder (target = input)")
        self.features = compact_combo()
        for name, title in sources.AUDIO_FEATURES.items():
            self.features.addItem(title, name)
        self.val_split = QDoubleSpinBox()
        self.val_split.setRange(0.0, 0.9)
        self.val_split.setSpecialValueText("none: train on all")  # shown at 0
        self.val_split.setSingleStep(0.05)
        self.val_split.setDecimals(2)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        for spin in (self.val_split, self.seed):
            spin.setKeyboardTracking(False)

        self.form = QFormLayout()
        self.form.addRow("Dataset", self.source)
        for name, field in self.numbers.items():
            self.form.addRow(sources.NUMBER_OPTIONS[name][0], field)
        self.form.addRow("File", path_row)
        self.form.addRow("Target column", self.target)
        self.form.addRow(self.columns)  # the whole width: a dock may be narrow
        self.form.addRow("Image size", self.size)
        self.form.addRow("", self.grayscale)
        self.form.addRow("Features", self.features)
        self.form.addRow("", self.autoencoder)
        self.form.addRow("Validation split", self.val_split)
        self.form.addRow("Seed", self.seed)
        self._path_row = path_row

        self.description = _muted(name="dataDescription")
        self.error = _muted(name="dataError")
        self.error.setStyleSheet("color: #ff6b6b;")
        self.error.hide()
        self.notes = _muted(name="dataNotes")
        self.notes.hide()
        self.table = read_only_table()
        self.table.setMinimumHeight(160)
        self.images = ImageGrid(thumb=40)
        self.samples = QStackedWidget()
        self.samples.addWidget(self.table)
        self.samples.addWidget(self.images)
        self.spectrograms = SpectrogramPreview()
        self.samples.addWidget(self.spectrograms)
        self.texts = TextPreview()
        self.samples.addWidget(self.texts)
        self.counts = ClassCounts()
        self.counts.hide()

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.state)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.description)
        layout.addWidget(self.notes)
        layout.addWidget(QLabel("<b>Samples</b>"))
        layout.addWidget(self.samples)
        self.counts_title = QLabel("<b>Classes</b> (train + validation)")
        layout.addWidget(self.counts_title)
        layout.addWidget(self.counts)
        self.augment = AugmentPanel(self.settings, self.tasks)
        layout.addWidget(self.augment)
        layout.addStretch(1)
        self._set_body(body)
        self.setEnabled(True)
        self._set_inputs_enabled(False)

        self.source.activated.connect(lambda _i: self._commit("Use dataset"))
        for field in (*self.numbers.values(), self.path, self.size):
            field.editingFinished.connect(self._field_edited)
        self.target.activated.connect(lambda _i: self._commit("Set target column"))
        self.columns.rolesEdited.connect(self._roles_edited)
        self.grayscale.toggled.connect(lambda _on: self._commit("Set grayscale"))
        self.features.activated.connect(lambda _i: self._commit("Set audio features"))
        self.autoencoder.toggled.connect(lambda _on: self._commit("Set autoencoder"))
        self.val_split.valueChanged.connect(lambda _v: self._commit("Set validation split", "val_split"))
        self.seed.valueChanged.connect(lambda _v: self._commit("Set seed", "seed"))
        self.browse.clicked.connect(self.choose_file)

    def _set_inputs_enabled(self, enabled: bool) -> None:
        for widget in (self.source, self.browse, self.path, self.target, self.columns, self.grayscale, self.size,
                       self.features,
                       self.autoencoder, self.val_split, self.seed, *self.numbers.values()):
            widget.setEnabled(enabled)

    # ---- engine ---------------------------------------------------------------------
    def _fill_choices(self, info: dict) -> None:
        self.source.clear()
        for name in info["sources"]:
            self.source.addItem(sources.source_title(name), name)

    # ---- settings -> widgets ------------------------------------------------------
    def _settings_changed(self) -> None:
        if not self._ready:
            return
        self._show_settings(self.settings.training)
        key = sources.PreviewKey.of(self.settings.training, self.settings.base_dir)
        if key not in (self.shown_key, self._pending):
            self._load(self.settings.training)

    def _show_settings(self, training: dict) -> None:
        spec = training.get("dataset") or {}
        widgets = (self.source, self.target, self.grayscale, self.features, self.autoencoder, self.val_split, self.seed)
        for widget in widgets:
            widget.blockSignals(True)
        try:
            name = spec.get("name", "")
            if self.source.findData(name) < 0:
                self.source.addItem(f"{name} (unknown)", name)
            self.source.setCurrentIndex(self.source.findData(name))
            for option, field in self.numbers.items():
                field.setText(str(spec[option]) if option in spec else "")
            self.path.setText(str(spec.get("path", "")))
            self._fill_targets(spec)
            self.grayscale.setChecked(bool(spec.get("grayscale", False)))
            self.features.setCurrentIndex(max(0, self.features.findData(spec.get("features", "log_mel"))))
            size = spec.get("size")
            self.size.setText(", ".join(str(v) for v in size) if isinstance(size, list) else str(size or ""))
            self.autoencoder.setChecked(bool(spec.get("autoencoder", False)))
            self.val_split.setValue(float(training.get("val_split", 0.2)))
            self.seed.setValue(int(training.get("seed", 0)))
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._show_rows(name)
        if isinstance(spec.get("sample"), str):  # a generated set stands in for the person's own files
            self.path.setPlaceholderText(f"generated sample set {quoted(spec['sample'])} "
                                         "(choose your own file or folder to replace it)")

    def _fill_targets(self, spec: dict) -> None:
        self.target.clear()
        if spec.get("name") not in sources.COLUMN_SOURCES:
            return
        if not spec.get("path"):  # a generated sample: the columns come with the loaded data
            target = spec.get("target")
            if spec.get("name") == "csv":
                self.columns.set_columns([], spec.get("columns"), target if isinstance(target, str) else None)
            return
        path = Path(spec["path"]).expanduser()
        columns = sources.csv_columns(path if path.is_absolute() else self.settings.base_dir / path,
                                      spec.get("delimiter", ","))
        self._fill_target_choices(spec, columns)
        if spec.get("header") is False:  # the engine names the columns by index
            columns = [str(i) for i in range(len(columns))]
        self.columns.set_columns(columns, spec.get("columns"), columns[self.target.currentIndex()] if columns else None)

    def _fill_target_choices(self, spec: dict, columns: list[str]) -> None:
        for name in columns:  # shown escaped, kept as the file spells it
            self.target.addItem(printable(name), name)
        target = spec.get("target", -1)
        index = target if isinstance(target, int) else self.target.findData(str(target))
        self.target.setCurrentIndex(index % len(columns) if columns and index is not None and index >= -len(columns)
                                    else len(columns) - 1)

    def _show_rows(self, name: str) -> None:
        accepted = self.engine.info["sources"].get(name, ()) if self.engine.info else ()
        for option, field in self.numbers.items():
            self.form.setRowVisible(field, option in accepted)
        self.form.setRowVisible(self._path_row, name in sources.FILE_SOURCES)
        folder = sources.FILE_SOURCES.get(name, ("", ""))[1] is None
        sample = (self.settings.training.get("dataset") or {}).get("sample")
        self.path.setPlaceholderText(f"generated set '{printable(str(sample))}'" if sample
                                     else "choose a folder…" if folder else "choose a file…")
        self.form.setRowVisible(self.target, name in sources.COLUMN_SOURCES)
        self.form.setRowVisible(self.columns, name == "csv")
        self.form.setRowVisible(self.size, name == "image_folder")
        self.form.setRowVisible(self.grayscale, name == "image_folder")
        self.form.setRowVisible(self.features, name == "audio_folder")
        if name == "audio_folder":  # only the sizes the chosen features use
            features = self.features.currentData()
            for option in ("n_mels", "n_fft", "hop_length"):
                self.form.setRowVisible(self.numbers[option], features != "waveform")
            self.form.setRowVisible(self.numbers["n_mfcc"], features == "mfcc")
        self.augment.setVisible(name == "image_folder")

    # ---- widgets -> settings --------------------------------------------------------
    def _field_edited(self) -> None:
        field = self.sender()
        if field is self.path:
            self._commit("Set data file")
        elif field is self.size:
            self._commit("Set image size")
        else:
            self._commit("Set dataset option")

    def dataset_spec(self) -> dict:
        """The dataset spec the widgets describe (raises ValueError with a sentence for unreadable fields)."""
        name = self.source.currentData()
        old = self.settings.training.get("dataset") or {}
        spec = {k: v for k, v in old.items() if k not in MANAGED} if old.get("name") == name else {"name": name}
        accepted = self.engine.info["sources"].get(name, ())
        for option in sources.number_options(accepted):
            value = sources.parse_number(option, self.numbers[option].text())
            if value is not None:
                spec[option] = value
        if name in sources.FILE_SOURCES and self.path.text().strip():
            spec["path"] = self.path.text().strip()
            spec.pop("sample", None)  # a folder of one's own replaces a generated set
        if name in sources.COLUMN_SOURCES and self.target.count() and spec.get("path") == old.get("path"):
            spec["target"] = self.target.currentData()
        if name == "csv":
            self._set_roles(spec, old)
        if name == "image_folder":
            if self.grayscale.isChecked():
                spec["grayscale"] = True
            size = sources.parse_size(self.size.text())
            if size is not None:
                spec["size"] = size
        if name == "audio_folder" and (self.features.currentData() != "log_mel" or "features" in old):
            spec["features"] = self.features.currentData()
        if self.autoencoder.isChecked():
            spec["autoencoder"] = True
        return spec

    def _set_roles(self, spec: dict, old: dict) -> None:
        """The "columns" option (and the target, when a role chose it) from the roles just chosen, else
        the roles the spec had while it reads the same file."""
        same_file = old.get("name") == "csv" and spec.get("path") == old.get("path")
        roles = self._edited_roles if self._edited_roles is not None else (old.get("columns") if same_file else None)
        self._edited_roles = None
        if not isinstance(roles, dict):
            return
        target = next((name for name, role in roles.items() if role == "target"), None)
        if target is not None:
            spec["target"] = target
        roles = {name: role for name, role in roles.items() if role != "target" and name != spec.get("target")}
        if roles:
            spec["columns"] = roles

    def _roles_edited(self, roles: dict) -> None:
        self._edited_roles = roles
        self._commit("Set column roles")

    def _commit(self, text: str, field: str | None = None) -> None:
        try:
            spec = self.dataset_spec()
        except ValueError as error:
            self._show_error(str(error))
            return
        training = self.settings.training
        changed_data = spec != training.get("dataset")
        training.update(dataset=spec, val_split=round(self.val_split.value(), 4), seed=self.seed.value())
        if changed_data:
            self._show_rows(spec["name"])
            self._load(training, f"{text}: {spec['name']}")
        else:
            self.settings.update(training, text, field)

    def choose_file(self) -> None:
        name = self.source.currentData()
        if name not in sources.FILE_SOURCES:
            return
        start = str(self.settings.base_dir)
        title, file_filter = sources.FILE_SOURCES[name]
        if file_filter is None:
            path = QFileDialog.getExistingDirectory(self, f"Choose an {title.lower()}", start)
        else:
            path, _ = QFileDialog.getOpenFileName(self, f"Choose a {title}", start, file_filter)
        if not path:
            return
        self.path.setText(self._stored_path(Path(path)))
        self.target.clear()
        self._commit("Set data file")

    def _stored_path(self, path: Path) -> str:
        """Relative to the project's folder when the file is inside it (so the project can move), else absolute."""
        if self.settings.document.project.path is not None:
            try:
                return str(path.resolve().relative_to(self.settings.base_dir.resolve()))
            except ValueError:
                pass
        return str(path)

    # ---- the preview ------------------------------------------------------------------
    def _load(self, training: dict, push_text: str | None = None) -> None:
        """Load the preview of `training` in the background; with `push_text`, then record the settings."""
        base_dir = self.settings.base_dir
        key = sources.PreviewKey.of(training, base_dir)
        self.tasks.cancel(self._token)
        self._pending = key
        self.description.setText("Loading data…")

        def done(result) -> None:
            if self._pending != key:
                return
            self._pending, self.shown_key = None, key
            preview, shapes = result
            self._show_preview(preview)
            self.shapesLoaded.emit(training, shapes)
            if push_text:
                self.settings.use_dataset(training, shapes, push_text)

        def failed(error: BaseException) -> None:
            if self._pending != key:
                return
            self._pending, self.shown_key = None, key
            self._show_preview(None)
            self._show_error(str(error))
            self.shapesLoaded.emit(training, None)
            if push_text:
                self.settings.update(training, push_text)

        self._token = self.tasks.submit(lambda: sources.load_preview(training, base_dir), done, failed)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _show_preview(self, preview) -> None:
        self.preview = preview
        self._show_error("")
        self.columns.set_use(preview.preprocessing if preview is not None else None)
        roles = ((preview.preprocessing or {}).get("roles") or {}) if preview is not None else {}
        if roles and not self.target.count():  # a generated sample: its columns are known once loaded
            self._fill_target_choices({"target": preview.preprocessing.get("target")}, list(roles))
        self.notes.setText("\n".join(f"• {printable(note)}" for note in (preview.notes if preview else [])))
        self.notes.setVisible(bool(self.notes.text()))
        if preview is None:
            self.description.setText("")
            fill_table(self.table, [], [])
            self.images.clear()
            self.spectrograms.clear()
            self.texts.clear()
            self.counts.set_counts(None)
            self.counts_title.hide()
            self.augment.set_originals([], [])
            return
        self.description.setText(preview.description)
        if preview.kind == "images":
            self.images.set_images(preview.images, preview.labels)
            self.samples.setCurrentWidget(self.images)
        elif preview.kind == "audio":
            features = (self.settings.training.get("dataset") or {}).get("features", "log_mel")
            self.spectrograms.set_preview(preview.images, preview.labels, features)
            self.samples.setCurrentWidget(self.spectrograms)
        elif preview.kind == "text":
            self.texts.show_preview(preview)
            self.samples.setCurrentWidget(self.texts)
        else:
            rows = [[*row, label] for row, label in zip(preview.rows, preview.labels)]
            fill_table(self.table, [*preview.columns, "label"], rows)
            self.samples.setCurrentWidget(self.table)
        self.counts.set_counts(preview.class_counts)
        self.counts_title.setVisible(bool(preview.class_counts))
        self.augment.set_originals(preview.images if preview.kind == "images" else [], preview.labels)
