"""The runs of this session: what each was trained with, how it went, and a list to compare them.

A `RunRecord` keeps a run's settings (its hyperparameters and seed), the
project snapshot it trained, its curves (`RunSeries`) and its `RunResult`.
The `RunsPanel` lists them newest first: selecting one shows its curves and
results, ticking others overlays their curves; the tooltip and the details
view say what each was trained with.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QSplitter, QTextBrowser, QVBoxLayout, QWidget

# Curve colours, one a run; none is red, which the list keeps for failed runs.
COLOURS = ("#61afef", "#98c379", "#d19a66", "#c678dd", "#56b6c2", "#e5c07b", "#a9b665", "#d3869b")
FAILED_COLOUR = "#ff6b6b"
STATUS_TEXT = {"starting": "starting", "running": "running", "paused": "paused", "finished": "finished",
               "stopped": "stopped", "early_stopped": "stopped early", "failed": "failed"}


def _settings_text(settings: dict) -> list[str]:
    data = settings.get("dataset", {})
    optimizer = settings.get("optimizer", {})
    optimizer = {"type": optimizer} if isinstance(optimizer, str) else dict(optimizer)
    lines = [f"data: {json.dumps(data)}",
             f"validation split {settings.get('val_split', 0.2)}, seed {settings.get('seed', 0)}",
             f"optimiser: {optimizer.pop('type', 'Adam')} " + ", ".join(f"{k}={v}" for k, v in optimizer.items()),
             f"epochs {settings.get('epochs', 10)}, batch size {settings.get('batch_size', 64)}"]
    if settings.get("schedule"):
        lines.append(f"LR schedule: {json.dumps(settings['schedule'])}")
    for key, title in (("patience", "early stopping patience"), ("grad_clip", "gradient clipping"),
                       ("amp", "mixed precision"), ("compile", "compile")):
        if settings.get(key):
            lines.append(f"{title}: {settings[key]}")
    lines.append(f"device: {settings.get('device', 'auto')}")
    return lines


@dataclass
class RunRecord:
    """One run of the session."""

    number: int
    settings: dict  # the project's training settings when the run started
    project: object  # the Project snapshot it trained
    colour: str
    started_at: datetime = field(default_factory=datetime.now)
    series: object = None  # RunSeries (gui.workbench.series), made by RunsPanel.new_record
    status: str = "starting"
    message: str = ""
    result: object = None  # RunResult, once it ended
    started: object = None  # RunStarted: device, data description, samples...
    evaluation: object = None  # EvaluationReport, once computed

    @property
    def seed(self) -> int:
        return int(self.settings.get("seed", 0))

    @property
    def weights(self):
        return getattr(self.result, "weights", None)

    @property
    def final_metrics(self) -> dict | None:
        return self.series.epochs[-1] if self.series.epochs else None

    def label(self) -> str:
        text = f"Run {self.number} · {self.started_at:%H:%M:%S} · {STATUS_TEXT.get(self.status, self.status)}"
        final = self.final_metrics
        if final is not None:
            metric = self.series.metric
            value = final.get(metric)
            if isinstance(value, float):
                name = "acc" if metric == "val_accuracy" else "MAE"
                text += f" · val {name} {value:.3f}"
        return text

    def details(self) -> str:
        """Plain-text description: settings, seed, device, data, outcome and files."""
        lines = [f"Run {self.number}, started {self.started_at:%Y-%m-%d %H:%M:%S}: {self.status}"]
        if self.message:
            lines.append(self.message)
        lines += _settings_text(self.settings)
        if self.started is not None:
            lines.append(f"trained on {self.started.device}: {self.started.dataset}")
            lines += [f"note: {note}" for note in self.started.notes]
        result = self.result
        if result is not None and result.best_metrics:
            best = result.best_metrics
            value = best.get(result.metric)
            loss = (f"validation loss {best['val_loss']:.4g}" if best.get("val_loss") is not None
                    else f"training loss {best['train_loss']:.4g} (no validation data)")
            lines.append(f"best epoch {result.best_epoch}: {loss}"
                         + (f", {result.metric.replace('_', ' ')} {value:.4g}" if isinstance(value, float) else ""))
        if result is not None and result.out_dir:
            lines.append(f"files: {result.out_dir}")
        if self.weights:
            lines.append(f"weights: {self.weights} ({result.weights_from})")
        return "\n".join(lines)


class RunsPanel(QWidget):
    """The session's runs; select one to look at it, tick others to overlay their curves."""

    currentChanged = Signal(object)  # RunRecord or None
    overlaysChanged = Signal(list)  # [RunRecord] ticked, besides the current one

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: list[RunRecord] = []
        self.list = QListWidget()
        self.list.setObjectName("runsList")
        self.details = QTextBrowser()
        self.details.setObjectName("runDetails")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.list)
        splitter.addWidget(self.details)
        splitter.setSizes([140, 160])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.list.currentItemChanged.connect(self._current_changed)
        self.list.itemChanged.connect(self._item_changed)

    def new_record(self, settings: dict, project) -> RunRecord:
        from gui.workbench.series import RunSeries  # numpy: not needed before the first run

        number = len(self.runs) + 1
        return RunRecord(number, settings, project, COLOURS[(number - 1) % len(COLOURS)], series=RunSeries())

    def add(self, run: RunRecord) -> None:
        """List `run` first and select it."""
        self.runs.append(run)
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, run.number)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Unchecked)
        swatch = QPixmap(12, 12)
        swatch.fill(QColor(run.colour))  # the colour of its curves
        item.setIcon(QIcon(swatch))
        self.list.blockSignals(True)
        self.list.insertItem(0, item)
        self.list.blockSignals(False)
        self.update_run(run)
        self.list.setCurrentItem(item)

    def discard(self, run: RunRecord, select: RunRecord | None) -> None:
        """Forget `run`, the newest run (one that never started training), and select `select` again."""
        assert self.runs and self.runs[-1] is run, "only the newest run can be discarded"
        self.list.blockSignals(True)
        self.list.takeItem(self.list.row(self._item(run)))
        self.runs.pop()
        previous = self._item(select) if select is not None else None
        self.list.setCurrentItem(previous)
        self.list.blockSignals(False)
        self._current_changed(previous, None)

    def _item(self, run: RunRecord) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == run.number:
                return self.list.item(row)
        return None

    def _run(self, item: QListWidgetItem | None) -> RunRecord | None:
        if item is None:
            return None
        return self.runs[item.data(Qt.ItemDataRole.UserRole) - 1]

    def update_run(self, run: RunRecord) -> None:
        """Refresh the run's line, tooltip and (when selected) details."""
        item = self._item(run)
        if item is None:
            return
        details = run.details()
        tooltip = html.escape(details).replace("\n", "<br>")
        self.list.blockSignals(True)
        if item.text() != run.label():
            item.setText(run.label())
        item.setForeground(QColor(FAILED_COLOUR) if run.status == "failed" else QBrush())
        if item.toolTip() != tooltip:
            item.setToolTip(tooltip)
        self.list.blockSignals(False)
        if self.current() is run and self.details.toPlainText() != details:  # no relayout when nothing changed
            self.details.setPlainText(details)

    def current(self) -> RunRecord | None:
        return self._run(self.list.currentItem())

    def select(self, run: RunRecord) -> None:
        item = self._item(run)
        if item is not None:
            self.list.setCurrentItem(item)

    def set_ticked(self, run: RunRecord, ticked: bool) -> None:
        item = self._item(run)
        if item is not None:
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)

    def ticked(self) -> list[RunRecord]:
        current = self.current()
        runs = [self._run(self.list.item(row)) for row in range(self.list.count())
                if self.list.item(row).checkState() == Qt.CheckState.Checked]
        return [run for run in runs if run is not current]

    def _current_changed(self, item, _previous) -> None:
        run = self._run(item)
        self.details.setPlainText(run.details() if run else "")
        self.currentChanged.emit(run)
        self.overlaysChanged.emit(self.ticked())

    def _item_changed(self, _item) -> None:
        self.overlaysChanged.emit(self.ticked())
