"""The Experiments dock: the project's search space, a sweep run from the editor, and its trials.

It shows the search space (Add…, Edit…, Remove: each one undo step, see
`gui.workbench.search_dialog`), runs `main.py sweep` on the saved project in a
child process (`QProcess`: the GUI never waits on it; Stop sends SIGTERM, which
ends the running trial after its batch, so the next sweep retries it), and
reads the study from its storage off the GUI thread (`TaskRunner`) every few
seconds while a sweep runs: the trials table (params, metric, state, time), the
best-so-far curve, a parallel-coordinates plot (pyqtgraph, loaded when first
drawn) and Optuna's param importances. "Apply best" writes the best trial's
values into the project as ONE undo step (node params and training settings
together).
"""

from __future__ import annotations

import copy
import math
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from graphs.errors import GraphError, printable
from graphs.search_space import SearchSpaceError, apply_values, parse_search_space, split_target
from gui import commands
from gui.workbench.search_dialog import ask_search, edit_search
from gui.workbench.settings import SetTraining
from gui.workbench.views import read_only_table

ROOT = Path(__file__).resolve().parents[2]
POLL_MS = 2000  # how often the trials are read while a sweep runs
WIDE_PX = 900  # from this width on, the dock shows its parts side by side
SUGGESTED_TARGETS = ("optimizer.lr", "optimizer.weight_decay", "training.batch_size", "training.epochs",
                     "schedule.gamma")
STATE_COLOURS = {"complete": "#7bd88f", "pruned": "#e0b050", "fail": "#ff6b6b", "running": "#6cb6ff"}


def study_file(project) -> Path | None:
    """The SQLite file `main.py sweep PROJECT` keeps its study in by default (None for an unsaved project)."""
    return Path(project.path).with_suffix(".sweep.db") if project.path else None


def study_location(project) -> tuple[str, str]:
    """(storage URL, study name) that `main.py sweep PROJECT` uses by default (imports SQLAlchemy: call it
    off the GUI thread)."""
    from engine.sweeps.storage import default_storage

    return default_storage(project.path), project.path.stem if project.path else "sweep"


def best_value_steps(document, settings, params: dict, text: str) -> list:
    """The undo steps that set each target of `params` in the open project (SetParams per node, one
    SetTraining for the settings); a GraphError when a target no longer fits the project."""
    project = document.project
    graph, training = apply_values(project.graph, project.training, params)
    steps = []
    for node_id in dict.fromkeys(node for node in (split_target(t)[1] for t in params) if node):
        old, new = project.graph.node(node_id).params, graph.node(node_id).params
        if old != new:
            steps.append(commands.SetParams(project.graph, node_id, dict(old), dict(new)))
    if training != project.training:
        steps.append(SetTraining(project, copy.deepcopy(project.training), training, settings.changed.emit, text))
    return steps


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return printable(str(value))


class ExperimentsPanel(QWidget):
    """Search space, sweep controls, trials and their plots for the open project."""

    reportShown = Signal(object)  # StudyReport, after the table and plots show it (tests wait on it)

    def __init__(self, document, settings, tasks, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("experimentsPanel")
        self.document, self.settings, self.tasks = document, settings, tasks
        self.report = None
        self.process: QProcess | None = None
        self._reading = False
        self._plots = None

        self.where = QLabel()
        self.where.setWordWrap(True)
        self.space = read_only_table()
        self.space.setObjectName("searchSpaceTable")
        self.space.setColumnCount(2)
        self.space.setHorizontalHeaderLabels(["target", "values"])
        self.space.horizontalHeader().setStretchLastSection(True)
        self.space.verticalHeader().hide()
        self.space.doubleClicked.connect(lambda _index: self.edit_selected())
        add, edit, remove = QPushButton("Add…"), QPushButton("Edit…"), QPushButton("Remove")
        add.clicked.connect(self.add_target)
        edit.clicked.connect(self.edit_selected)
        remove.clicked.connect(self.remove_selected)
        self.trials_spin = QSpinBox()
        self.trials_spin.setRange(1, 10_000)
        self.trials_spin.setValue(20)
        self.trials_spin.setPrefix("trials ")
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(1, 64)
        self.workers_spin.setPrefix("workers ")
        self.prune = QCheckBox("prune")
        self.prune.setChecked(True)
        self.prune.setToolTip("Stop a trial whose validation metric is worse than the median of earlier trials "
                              "at the same epoch")
        self.run_button, self.stop_button = QPushButton("Run sweep"), QPushButton("Stop")
        self.run_button.setObjectName("runSweep")
        self.stop_button.setEnabled(False)
        self.run_button.clicked.connect(self.run_sweep)
        self.stop_button.clicked.connect(self.stop_sweep)
        self.apply_button = QPushButton("Apply best")
        self.apply_button.setObjectName("applyBest")
        self.apply_button.setToolTip("Write the best trial's values into the project (one undo step)")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply_best)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)

        self.table = read_only_table()
        self.table.setObjectName("trialsTable")
        self.table.setSortingEnabled(False)
        self.tabs = QTabWidget()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.importances = QLabel("Importances appear after three complete trials.")
        self.importances.setObjectName("importances")
        self.importances.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.importances.setWordWrap(True)

        space_box = QWidget()  # left: the search space and the sweep's controls
        space_layout = QVBoxLayout(space_box)
        space_layout.setContentsMargins(0, 0, 0, 0)
        space_layout.addWidget(self.where)
        space_layout.addWidget(self.space, 1)
        for widgets in ((add, edit, remove), (self.trials_spin, self.workers_spin, self.prune),
                        (self.run_button, self.stop_button), (self.apply_button, refresh)):
            row = QHBoxLayout()
            for widget in widgets:
                row.addWidget(widget)
            row.addStretch(1)
            space_layout.addLayout(row)
        self.table.verticalHeader().hide()
        splitter = self.splitter = QSplitter(Qt.Orientation.Horizontal)  # three columns, or rows when narrow
        splitter.addWidget(space_box)
        splitter.addWidget(self.table)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 2)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([280, 440, 440])
        self.tabs.addTab(self.log, "Log")
        self.tabs.addTab(self.importances, "Importances")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.refresh)
        document.undo_stack.indexChanged.connect(lambda _index: self.show_space())
        document.projectReset.connect(self._project_reset)
        self._project_reset()

    def resizeEvent(self, event) -> None:
        """Three columns in a wide dock, three rows in a narrow one."""
        wide = event.size().width() >= WIDE_PX
        self.splitter.setOrientation(Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical)
        super().resizeEvent(event)

    # ---- the search space --------------------------------------------------
    def _project_reset(self) -> None:
        self.report = None
        self.table.setRowCount(0)
        self.apply_button.setEnabled(False)
        self.show_space()
        self.refresh()

    def show_space(self) -> None:
        project = self.document.project
        self.where.setText(f"study <b>{printable(project.path.stem)}</b> in {printable(str(study_file(project)))}"
                           if project.path else
                           "Save the project to run a sweep: the study is kept beside the project file.")
        problems = {}
        try:
            parse_search_space(project.search, project.graph, project.training)
        except SearchSpaceError as error:
            problems[error.target] = error.message
        self.space.setRowCount(len(project.search))
        for row, (target, entry) in enumerate(project.search.items()):
            self.space.setItem(row, 0, QTableWidgetItem(printable(target)))
            text = ", ".join(f"{k} {printable(str(v))}" for k, v in entry.items()) if isinstance(entry, dict) \
                else printable(str(entry))
            item = QTableWidgetItem(f"⚠ {problems[target]}" if target in problems else text)
            self.space.setItem(row, 1, item)
        self.space.resizeColumnToContents(0)

    def _selected_target(self) -> str | None:
        row = self.space.currentRow()
        targets = list(self.document.project.search)
        return targets[row] if 0 <= row < len(targets) else None

    def add_target(self) -> bool:
        target, ok = QInputDialog.getItem(self, "Search over…", "target (training.*, optimizer.*, schedule.* or "
                                          "nodes.<id>.<param>)", list(SUGGESTED_TARGETS), 0, True)
        return bool(ok and target) and ask_search(self, self.document, target.strip())

    def edit_selected(self) -> bool:
        target = self._selected_target()
        return target is not None and ask_search(self, self.document, target)

    def remove_selected(self) -> bool:
        target = self._selected_target()
        return target is not None and edit_search(self.document, target, None)

    # ---- running a sweep ---------------------------------------------------
    def sweep_arguments(self) -> list[str]:
        project = self.document.project
        args = [str(ROOT / "main.py"), "sweep", str(project.path), "--trials", str(self.trials_spin.value()),
                "--workers", str(self.workers_spin.value())]
        return args + ([] if self.prune.isChecked() else ["--no-prune"])

    def run_sweep(self) -> bool:
        """Start `main.py sweep` on the saved project; asks to save first (the sweep trains the saved file)."""
        if self.process is not None:
            return False
        if not self.document.project.search:
            QMessageBox.information(self, "Run sweep", "The search space is empty: right-click a param in the "
                                    "inspector > Search over…, or press Add… here.")
            return False
        if self.document.project.path is None or not self.document.undo_stack.isClean():
            window = self.window()
            if not hasattr(window, "save") or not window.save():
                return False
        self.log.clear()
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.setWorkingDirectory(str(self.document.project.path.parent))
        self.process.readyReadStandardOutput.connect(self._read_output)
        self.process.finished.connect(self._finished)
        self.process.start(sys.executable, self.sweep_arguments())  # a list of arguments, never a shell line
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._timer.start()
        return True

    def stop_sweep(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: the running trial stops after its batch

    def _read_output(self) -> None:
        if self.process is None:
            return
        text = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        for line in text.splitlines():
            self.log.appendPlainText(printable(line))

    def _finished(self, code: int, _status) -> None:
        self._read_output()
        self.log.appendPlainText(f"sweep ended (exit status {code})")
        self.process.deleteLater()
        self.process = None
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self._timer.stop()
        self.refresh()

    def shutdown(self) -> None:
        """Stop a running sweep and wait for it (the window is closing)."""
        if self.process is not None:
            self.process.terminate()
            if not self.process.waitForFinished(30_000):
                self.process.kill()

    # ---- reading the study -------------------------------------------------
    def refresh(self) -> None:
        project = self.document.project
        if project.path is None or self._reading:
            return
        if not study_file(project).exists():
            return

        def read():
            from engine.sweeps.report import read_study

            return read_study(*study_location(project))

        self._reading = True
        self.tasks.submit(read, self._read, self._read_failed)

    def _read(self, report) -> None:
        self._reading = False
        if report is not None:
            self.show_report(report)

    def _read_failed(self, error: BaseException) -> None:
        self._reading = False
        self.log.appendPlainText(f"cannot read the study: {printable(str(error))}")

    def show_report(self, report) -> None:
        """Fill the table, plots and importances from a `StudyReport`."""
        self.report = report
        targets = list(dict.fromkeys(k for t in report.trials for k in t.params))
        metric = "accuracy" if report.maximize else "MAE"
        headers = ["trial", "state", metric, "time (s)", *targets]
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(report.trials))
        best = report.best
        for row, trial in enumerate(report.trials):
            cells = [str(trial.number), trial.state, "" if trial.value is None else f"{trial.value:.4g}",
                     "" if trial.seconds is None else f"{trial.seconds:.1f}",
                     *(_shown(trial.params.get(t, "")) for t in targets)]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 1 and trial.state in STATE_COLOURS:
                    item.setForeground(_colour(trial.state))
                if trial.message:
                    item.setToolTip(printable(trial.message))
                if best is not None and trial.number == best.number:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.apply_button.setEnabled(best is not None)
        if report.importances:
            lines = [f"{printable(k)}: {v:.0%}" for k, v in
                     sorted(report.importances.items(), key=lambda kv: -kv[1])]
            self.importances.setText("Param importances (Optuna, fANOVA):\n" + "\n".join(lines))
        self._draw(report)
        self.reportShown.emit(report)

    def _draw(self, report) -> None:
        if len(report.complete) == 0:
            return
        if self._plots is None:
            self._plots = SweepPlots()
            self.tabs.insertTab(0, self._plots.best_plot, "Best so far")
            self.tabs.insertTab(1, self._plots.parallel_plot, "Parallel coordinates")
            self.tabs.setCurrentIndex(0)
        self._plots.draw(report)

    # ---- apply best --------------------------------------------------------
    def apply_best(self) -> bool:
        """The best trial's values into the project, as one undo step."""
        best = self.report.best if self.report is not None else None
        if best is None:
            return False
        from engine.sweeps.trial import decoded

        project = self.document.project
        try:
            dims = parse_search_space(project.search, project.graph, project.training)
        except SearchSpaceError:
            dims = []
        params = decoded(best.params, dims)
        text = f"Apply best trial {best.number}"
        try:
            steps = best_value_steps(self.document, self.settings, params, text)
        except (GraphError, KeyError, TypeError) as error:
            QMessageBox.warning(self, "Apply best", f"The best trial's values no longer fit the project: "
                                f"{printable(str(error))}")
            return False
        if not steps:
            return False
        commands.push_macro(self.document.undo_stack, text, steps)
        return True


def _colour(state: str) -> QColor:
    return QColor(STATE_COLOURS[state])


class SweepPlots:
    """The best-so-far curve and the parallel-coordinates plot (pyqtgraph is imported here, when first drawn)."""

    def __init__(self):
        import pyqtgraph as pg

        self.pg = pg
        self.best_plot = pg.PlotWidget()
        self.best_plot.setObjectName("bestSoFarPlot")
        self.best_plot.setLabel("bottom", "trial")
        self.best_plot.showGrid(x=True, y=True, alpha=0.2)
        self.best_plot.getAxis("left").enableAutoSIPrefix(False)  # accuracies read as 0.97, not 970 x0.001
        self.best_curve = self.best_plot.plot([], [], pen=pg.mkPen("#6cb6ff", width=2), stepMode=None)
        self.trial_points = self.best_plot.plot([], [], pen=None, symbol="o", symbolSize=6,
                                                symbolBrush="#9aa1ab")
        self.parallel_plot = pg.PlotWidget()
        self.parallel_plot.setObjectName("parallelPlot")
        self.parallel_plot.hideAxis("left")
        self.parallel_lines: list = []

    def draw(self, report) -> None:
        pg = self.pg
        points = report.best_so_far()
        self.best_curve.setData([p[0] for p in points], [p[1] for p in points])
        complete = report.complete
        self.trial_points.setData([t.number for t in complete], [t.value for t in complete])
        self.best_plot.setLabel("left", "accuracy" if report.maximize else "MAE")
        for item in self.parallel_lines:
            self.parallel_plot.removeItem(item)
        self.parallel_lines = []
        targets = list(dict.fromkeys(k for t in complete for k in t.params))
        axes = [*targets, "value"]
        columns = [[_position(t.params.get(name)) for t in complete] for name in targets]
        columns.append([t.value for t in complete])
        scaled = [_scale(column, log=_is_log(column)) for column in columns]
        values = [t.value for t in complete]
        low, high = min(values), max(values)
        for i, trial in enumerate(complete):
            share = 0.5 if high == low else (trial.value - low) / (high - low)
            if not report.maximize:
                share = 1 - share
            colour = QColor.fromHsvF(0.33 * share, 0.75, 0.95)  # red for the worst trial, green for the best
            line = self.parallel_plot.plot(list(range(len(axes))), [column[i] for column in scaled],
                                           pen=pg.mkPen(colour, width=3 if share == 1 else 1))
            line.setZValue(share)  # the best on top
            self.parallel_lines.append(line)
        for index in range(len(axes)):
            axis = pg.InfiniteLine(index, angle=90, pen=pg.mkPen("#9aa1ab", width=1))
            self.parallel_plot.addItem(axis)
            self.parallel_lines.append(axis)
        self.parallel_plot.setXRange(-0.3, len(axes) - 0.7, padding=0)
        ticks = [(i, printable(name.rsplit(".", 1)[-1] if "." in name else name)) for i, name in enumerate(axes)]
        self.parallel_plot.getAxis("bottom").setTicks([ticks])


def _position(value):
    """A value on an axis: numbers as they are, anything else by its text (categorical)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return str(value)


def _is_log(column) -> bool:
    numbers = [v for v in column if isinstance(v, float)]
    return bool(numbers) and min(numbers) > 0 and max(numbers) / min(numbers) > 100


def _scale(column, log: bool = False) -> list[float]:
    """A column mapped to 0..1: numbers linearly (or on a log scale), categories by their sorted order."""
    if all(isinstance(v, float) for v in column):
        values = [math.log10(v) for v in column] if log else list(column)
        low, high = min(values), max(values)
        return [0.5 if high == low else (v - low) / (high - low) for v in values]
    order = sorted({str(v) for v in column})
    return [0.5 if len(order) == 1 else order.index(str(v)) / (len(order) - 1) for v in column]
