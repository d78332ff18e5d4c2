"""The "Try it" panel: ask the trained model about one new image, sound, sentence or table row.

Drop a file on the panel (or choose one), or type a sentence or a CSV row, and the panel shows the
top-k classes with bars (or the value of a regression). It uses the model File > Export would
export (the selected run's, else the newest run with weights), or a weights file chosen with
"Weights…". The model is loaded, and every input prepared and run, by `engine.predict` in the
workbench's background tasks, exactly as the `predict` command does it; the GUI thread only shows
the answer. A bad input (the wrong kind of file for the model, a damaged file, weights of another
graph) is said in the panel in words, naming the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from graphs.errors import printable
from gui import files
from gui.workbench.tasks import TaskRunner

BAR_STEPS = 1000
PREVIEW_SIDE = 128
DEFAULT_TOP_K = 3
TOP_K_KEY = "tryIt/topK"  # QSettings: how many classes the panel shows, remembered between sessions
FILE_FILTERS = {
    "images": "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff)",
    "audio": "WAV files (*.wav)",
    "table": "CSV files (*.csv)",
    "text": "Text files (*.txt)",
}
TYPED_HINTS = {
    "text": "Type a sentence and press Enter",
    "table": "Type a CSV row and press Enter",
}


def load_predictor(source, project):
    """The source's model ready to predict (runs in a background task)."""
    from engine.predict import Predictor

    return Predictor.load(project, source.weights, graph=source.graph)


def answer_file(predictor, path: Path, top_k: int):
    """Predictions for a file (runs in a background task): one for an image or a sound, one a row of a CSV
    file (the first few), the texts of a text file (the first few)."""
    if predictor.kind.name == "text":
        batches = predictor.batches([], text_file=str(path), batch_size=16)
    else:
        batches = predictor.batches([str(path)], batch_size=16)
    return predictor.predict(next(iter(batches)), top_k)


def answer_typed(predictor, text: str, top_k: int):
    from engine.predict import typed_input

    return predictor.predict(typed_input(predictor, text), top_k)


class ClassBars(QWidget):
    """The top-k classes of one answer as labelled bars, most likely first (or a regression's value)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("")
        self.title.setWordWrap(True)
        self.title.setObjectName("tryItAnswer")
        self.bars: list[QProgressBar] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.title)

    def show_answer(self, prediction, more: int = 0) -> None:
        for bar in self.bars:
            bar.deleteLater()
        self.bars = []
        if prediction.value is not None:
            self.title.setText(f"{_short(prediction.name)}: {', '.join(f'{v:.6g}' for v in prediction.value)}")
            return
        self.title.setText(f"{_short(prediction.name)}: <b>{_escaped(prediction.label)}</b>"
                           + (f" (and {more} more inputs; the predict command takes many)" if more else ""))
        for label, probability in prediction.top_k:
            bar = QProgressBar()
            bar.setRange(0, BAR_STEPS)
            bar.setValue(round(probability * BAR_STEPS))
            bar.setFormat(f"{printable(label)}  {probability:.1%}")
            bar.setTextVisible(True)
            bar.setToolTip(f"{printable(label)}: probability {probability:.4f}")
            self._layout.addWidget(bar)
            self.bars.append(bar)

    def show_text(self, text: str) -> None:
        for bar in self.bars:
            bar.deleteLater()
        self.bars = []
        self.title.setText(text)


def _remembered_top_k() -> int:
    try:
        return int(QSettings().value(TOP_K_KEY, DEFAULT_TOP_K))
    except (TypeError, ValueError):
        return DEFAULT_TOP_K


def _short(name: str) -> str:
    """An input's name without its folders (`photos/cat.png` -> `cat.png`, `a/b.csv line 3` -> `b.csv line 3`)."""
    return _escaped(Path(name).name or name)


def _escaped(text: str) -> str:
    return printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class TryItPanel(QWidget):
    """Asks the trained model about one input at a time. `model_source()` gives the model to use (a
    `ModelSource`), `project()` the open project (for a weights file chosen here)."""

    answered = Signal()  # an answer (or an error) is shown

    def __init__(self, tasks: TaskRunner, model_source: Callable, project: Callable, parent: QWidget | None = None):
        super().__init__(parent)
        self.tasks, self.model_source, self.project = tasks, model_source, project
        self.chosen_weights: Path | None = None
        self.predictor = None
        self._predictor_key = None
        self._busy = 0
        self.setAcceptDrops(True)

        self.model_label = QLabel("Train a model, or choose weights.")
        self.model_label.setWordWrap(True)
        self.model_label.setObjectName("tryItModel")
        self.weights_button = QPushButton("Weights…")
        self.weights_button.setToolTip("Use a weights file (.safetensors) of this project's model")
        self.weights_button.clicked.connect(self.choose_weights)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(self.weights_button)

        self.file_button = QPushButton("Choose File…")
        self.file_button.setToolTip("An image, a WAV file, a CSV file of rows or a text file, as the model takes; "
                                    "or drop one on this panel")
        self.file_button.clicked.connect(self.choose_file)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 20)
        self.top_k.setValue(_remembered_top_k())
        self.top_k.valueChanged.connect(lambda value: QSettings().setValue(TOP_K_KEY, value))
        self.top_k.setPrefix("top ")
        self.top_k.setToolTip("How many classes to show")
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_button)
        file_row.addStretch(1)
        file_row.addWidget(self.top_k)

        self.typed = QLineEdit()
        self.typed.setPlaceholderText("Type a sentence or a CSV row and press Enter")
        self.typed.setObjectName("tryItTyped")
        self.typed.returnPressed.connect(self.predict_typed)

        self.preview = QLabel("Drop an image, a WAV file or a CSV file here")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setWordWrap(True)  # a narrow dock must not be held wide by this sentence
        self.preview.setMinimumHeight(PREVIEW_SIDE)
        self.preview.setObjectName("tryItPreview")
        self.preview.setStyleSheet("QLabel#tryItPreview { border: 1px dashed palette(mid); }")
        self.bars = ClassBars()

        layout = QVBoxLayout(self)
        layout.addLayout(model_row)
        layout.addLayout(file_row)
        layout.addWidget(self.typed)
        layout.addWidget(self.preview)
        layout.addWidget(self.bars)
        layout.addStretch(1)

    # ---- which model -----------------------------------------------------------------
    def activate(self, *_changed) -> None:
        """Say which model the panel uses (when the dock is shown, or a run ends)."""
        source = self._source()
        self.model_label.setText(f"Model: {printable(source.label)}" if source.weights is not None else
                                 "Train a model (or choose weights) to try it.")

    def _source(self):
        source = self.model_source()
        if self.chosen_weights is not None:
            source = type(source)(None, self.chosen_weights, f"the weights in {self.chosen_weights.name}",
                                  source.project_name)
        return source

    def choose_weights(self, path: str | None = None) -> None:
        if path is None:
            start = files.start_folder(self.project().path)
            path, _ = QFileDialog.getOpenFileName(self, "Weights to try", str(start),
                                                  "safetensors weights (*.safetensors)")
            if not path:
                return
            files.remember_folder(path)
        self.chosen_weights = Path(path)
        self.predictor = None
        self.activate()

    # ---- inputs ------------------------------------------------------------------------
    def choose_file(self) -> None:
        kind = self.predictor.kind.name if self.predictor is not None else None
        file_filter = FILE_FILTERS.get(kind, ";;".join(FILE_FILTERS.values()))
        start = files.start_folder(self.project().path)
        path, _ = QFileDialog.getOpenFileName(self, "Input to try", str(start), file_filter + ";;All files (*)")
        if path:
            files.remember_folder(path)
            self.predict_file(Path(path))

    def dragEnterEvent(self, event) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.predict_file(paths[0])

    def predict_file(self, path: Path) -> None:
        """Show the file (an image's picture) and ask the model about it."""
        pixmap = QPixmap(str(path)) if path.is_file() else QPixmap()
        if not pixmap.isNull():
            self.preview.setPixmap(pixmap.scaled(PREVIEW_SIDE, PREVIEW_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.FastTransformation))
        else:
            self.preview.setText(printable(path.name))
        top_k = self.top_k.value()
        self._ask(lambda predictor: answer_file(predictor, path, top_k))

    def predict_typed(self) -> None:
        text, top_k = self.typed.text(), self.top_k.value()
        self._ask(lambda predictor: answer_typed(predictor, text, top_k))

    # ---- in the background -------------------------------------------------------------
    def _ask(self, question) -> None:
        source = self._source()
        if source.weights is None:
            self._failed(RuntimeError("there is no trained model yet: train one, or choose weights"))
            return
        key = (str(source.weights), source.label)
        predictor = self.predictor if self._predictor_key == key else None
        project = self.project()
        self._busy += 1
        self.bars.show_text("Thinking…")

        def job():
            model = predictor if predictor is not None else load_predictor(source, project)
            return model, question(model)

        self.tasks.submit(job, lambda result: self._answered(key, *result), self._failed)

    def _answered(self, key, predictor, predictions) -> None:
        self._busy -= 1
        self.predictor, self._predictor_key = predictor, key
        self._set_hint(predictor.kind.name)
        first = predictions[0]
        if first.error is not None:
            self.bars.show_text(f"<span style='color:#d9534f'>{_escaped(first.error)}</span>")
        else:
            self.bars.show_answer(first, len(predictions) - 1)
        self.answered.emit()

    def _failed(self, error: BaseException) -> None:
        self._busy = max(0, self._busy - 1)
        self.bars.show_text(f"<span style='color:#d9534f'>{_escaped(str(error))}</span>")
        self.answered.emit()

    def _set_hint(self, kind: str) -> None:
        self.typed.setEnabled(kind in TYPED_HINTS)
        self.typed.setPlaceholderText(TYPED_HINTS.get(kind, "This model takes files: drop or choose one"))
        if kind == "table" and self.predictor is not None:
            from engine.predict import row_columns

            self.typed.setToolTip("Columns: " + ", ".join(printable(c) for c in row_columns(self.predictor)))
