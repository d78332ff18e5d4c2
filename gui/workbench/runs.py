"""The open project's runs, of this session and from its history: what each was trained with, how it
went, and a list to compare and delete them.

A `RunRecord` keeps a run's settings (its hyperparameters and seed), the
project snapshot it trained, its curves (`RunSeries`) and its `RunResult`.
The `RunsPanel` lists them newest first: selecting one shows its curves and
results, ticking others overlays their curves; the tooltip and the details
view say what each was trained with. Runs from the project's history
(`gui.workbench.history`) carry their folder's `summary`; a damaged one is
listed in red with the reason. Compare (the current run and one ticked run,
or two ticked runs) and Delete act on the list's runs.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from graphs.errors import printable

# Curve colours, one a run; none is red, which the list keeps for failed runs.
COLOURS = ("#61afef", "#98c379", "#d19a66", "#c678dd", "#56b6c2", "#e5c07b", "#a9b665", "#d3869b")
FAILED_COLOUR = "#ff6b6b"
STATUS_TEXT = {"starting": "starting", "running": "running", "paused": "paused", "finished": "finished",
               "stopped": "stopped", "early_stopped": "stopped early", "failed": "failed",
               "unfinished": "unfinished", "unrecorded": "unrecorded", "damaged": "damaged"}
BAD_STATUSES = ("failed", "damaged")


def _settings_text(settings: dict) -> list[str]:
    data = settings.get("dataset", {})
    optimizer = settings.get("optimizer", {})
    optimizer = {"type": optimizer} if isinstance(optimizer, str) else dict(optimizer)
    lines = [f"data: {json.dumps(data)}",
             (f"{settings['folds']}-fold cross-validation" if settings.get("folds")
              else f"validation split {settings.get('val_split', 0.2)}") + f", seed {settings.get('seed', 0)}",
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
    summary: object = None  # engine.history.folders.RunSummary for a run from the project's history

    @property
    def seed(self) -> int:
        return int(self.settings.get("seed", 0))

    @property
    def weights(self):
        return getattr(self.result, "weights", None)

    @property
    def final_metrics(self) -> dict | None:
        if self.series.epochs:
            return self.series.epochs[-1]
        return self.summary.final if self.summary is not None else None  # a history run not yet looked at

    def label(self) -> str:
        when = f"{self.started_at:%Y-%m-%d %H:%M}" if self.summary is not None else f"{self.started_at:%H:%M:%S}"
        text = f"Run {self.number} · {when} · {printable(STATUS_TEXT.get(self.status, self.status))}"
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
        if self.summary is not None:
            lines.append(f"from the project's history: {self.summary.folder}")
            if self.summary.folds:
                lines.append("folds: " + ", ".join(f"{f['fold']} {f['metric']:.4g}" if isinstance(f["metric"], float)
                                                   else f"{f['fold']} -" for f in self.summary.folds))
            if self.summary.sweep:
                lines.append(f"sweep {self.summary.sweep.get('study', '?')}, trial {self.summary.sweep.get('trial', '?')}")
        if self.status == "damaged":
            return "\n".join(printable(line) for line in lines)
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
        return "\n".join(printable(line) for line in lines)  # a history run's lines come from its files


class RunsPanel(QWidget):
    """The session's runs; select one to look at it, tick others to overlay their curves."""

    currentChanged = Signal(object)  # RunRecord or None
    overlaysChanged = Signal(list)  # [RunRecord] ticked, besides the current one
    compareRequested = Signal(object, object)  # RunRecord A (older), RunRecord B
    deleteRequested = Signal(object)  # RunRecord

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: list[RunRecord] = []  # oldest first
        self._numbers: dict[int, RunRecord] = {}
        self._next_number = 1
        self.list = QListWidget()
        self.list.setObjectName("runsList")
        self.details = QTextBrowser()
        self.details.setObjectName("runDetails")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setObjectName("compareRuns")
        self.compare_button.setToolTip("Compare the selected run with the one ticked run (or two ticked runs): "
                                       "settings, graph diff and curves")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("deleteRun")
        self.delete_button.setToolTip("Delete the selected run's folder (Del)")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(4, 2, 4, 2)
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.list)
        top_layout.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.details)
        splitter.setSizes([170, 160])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.delete_action = QAction("Delete Run…", self.list)
        self.list.installEventFilter(self)  # the Delete key; not a shortcut, which the canvas's Delete holds
        self.compare_action = QAction("Compare", self.list)
        self.list.addActions([self.compare_action, self.delete_action])
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.delete_action.triggered.connect(self._delete)
        self.delete_button.clicked.connect(self._delete)
        self.compare_action.triggered.connect(self._compare)
        self.compare_button.clicked.connect(self._compare)
        self.list.currentItemChanged.connect(self._current_changed)
        self.list.itemChanged.connect(self._item_changed)
        self._update_buttons()

    def new_record(self, settings: dict, project) -> RunRecord:
        from gui.workbench.series import RunSeries  # numpy: not needed before the first run

        number, self._next_number = self._next_number, self._next_number + 1
        return RunRecord(number, settings, project, COLOURS[(number - 1) % len(COLOURS)], series=RunSeries())

    def _new_item(self, run: RunRecord) -> QListWidgetItem:
        self._numbers[run.number] = run
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, run.number)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Unchecked)
        swatch = QPixmap(12, 12)
        swatch.fill(QColor(run.colour))  # the colour of its curves
        item.setIcon(QIcon(swatch))
        return item

    def add(self, run: RunRecord) -> None:
        """List `run` first and select it."""
        self.runs.append(run)
        item = self._new_item(run)
        self.list.blockSignals(True)
        self.list.insertItem(0, item)
        self.list.blockSignals(False)
        self.update_run(run)
        self.list.setCurrentItem(item)

    def add_history(self, runs: list[RunRecord]) -> None:
        """List `runs` (from the history, oldest first, made by `new_record`) below the session's runs."""
        self.runs[:0] = runs
        self.list.setUpdatesEnabled(False)
        self.list.blockSignals(True)
        for run in reversed(runs):  # newest first, after the runs of this session
            item = self._new_item(run)
            self.list.addItem(item)
            self._show_line(item, run)
        self.list.blockSignals(False)
        self.list.setUpdatesEnabled(True)
        self._update_buttons()

    def clear(self, keep: RunRecord | None = None) -> None:
        """Forget every run but `keep` (a run still training when another project opens)."""
        had_current = self.list.currentItem() is not None
        self.list.blockSignals(True)
        for row in reversed(range(self.list.count())):
            if self._run(self.list.item(row)) is not keep:
                self.list.takeItem(row)
        self.list.blockSignals(False)
        self.runs = [keep] if keep is not None else []
        self._numbers = {keep.number: keep} if keep is not None else {}
        self._next_number = keep.number + 1 if keep is not None else 1
        if had_current:  # else nothing changed for the plots (which stay unbuilt until a run is shown)
            self._current_changed(self.list.currentItem(), None)
        self._update_buttons()

    def remove(self, run: RunRecord) -> None:
        """Take `run` off the list (deleted)."""
        item = self._item(run)
        if item is not None:
            self.list.takeItem(self.list.row(item))
        self.runs.remove(run)
        self._numbers.pop(run.number, None)
        self._current_changed(self.list.currentItem(), None)

    def _show_line(self, item: QListWidgetItem, run: RunRecord) -> None:
        label = run.label()
        if item.text() != label:
            item.setText(label)
        item.setForeground(QColor(FAILED_COLOUR) if run.status in BAD_STATUSES else QBrush())
        if run.status == "damaged" or run.summary is None or getattr(run, "_filled", False):
            tooltip = html.escape(run.details()).replace("\n", "<br>")
        else:  # a history run's settings are read when it is first looked at
            tooltip = html.escape(f"{label}\n{run.summary.folder}").replace("\n", "<br>")
        if item.toolTip() != tooltip:
            item.setToolTip(tooltip)

    def discard(self, run: RunRecord, select: RunRecord | None) -> None:
        """Forget `run`, the newest run (one that never started training), and select `select` again."""
        assert self.runs and self.runs[-1] is run, "only the newest run can be discarded"
        self.list.blockSignals(True)
        self.list.takeItem(self.list.row(self._item(run)))
        self.runs.pop()
        self._numbers.pop(run.number, None)
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
        return self._numbers.get(item.data(Qt.ItemDataRole.UserRole))

    def update_run(self, run: RunRecord) -> None:
        """Refresh the run's line, tooltip and (when selected) details."""
        item = self._item(run)
        if item is None:
            return
        details = run.details()
        self.list.blockSignals(True)
        self._show_line(item, run)
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
        self.currentChanged.emit(run)  # first: a history run's settings and curves load here
        self.details.setPlainText(run.details() if run else "")
        if run is not None:
            self.update_run(run)
        self.overlaysChanged.emit(self.ticked())
        self._update_buttons()

    def _item_changed(self, _item) -> None:
        self.overlaysChanged.emit(self.ticked())
        self._update_buttons()

    def pair(self) -> tuple[RunRecord, RunRecord] | None:
        """The two runs Compare compares, older first: the current and the one ticked run, or two ticked."""
        ticked = self.ticked()
        current = self.current()
        runs = [current, *ticked] if current is not None and len(ticked) == 1 else ticked
        if len(runs) != 2:
            return None
        a, b = sorted(runs, key=lambda run: (run.started_at, run.number))
        return a, b

    def _update_buttons(self) -> None:
        self.compare_button.setEnabled(self.pair() is not None)
        self.compare_action.setEnabled(self.pair() is not None)
        self.delete_button.setEnabled(self.current() is not None)

    def _compare(self) -> None:
        pair = self.pair()
        if pair is not None:
            self.compareRequested.emit(*pair)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.list and event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Delete:
            self._delete()
            return True
        return super().eventFilter(watched, event)

    def _delete(self) -> None:
        run = self.current()
        if run is not None:
            self.deleteRequested.emit(run)
