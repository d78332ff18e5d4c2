"""The training workbench inside the editor's main window: data, settings, runs, curves, evaluation, export.

`Workbench(window)` adds its docks (Data, Training, Training Curves, Runs,
Evaluation), the Train menu and toolbar, the File > Export actions and a
progress read-out in the status bar, and connects them. A run trains a
snapshot of the open project (a copy of its graph and settings taken at
Start) in a worker thread (`gui.workbench.worker`); a banner says so while it
runs, and the editor stays fully usable. Closing the window during a run asks
to stop it, then stops it and waits for the worker before the usual
unsaved-changes prompt. Nothing here imports torch until the engine is needed.
"""

from __future__ import annotations

import copy
import re
import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QStandardPaths, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QFrame, QMessageBox, QWidget

from engine.custom_layers.trust import same_code_loader
from engine.data_shapes import shapeless_data_nodes
from engine.training.events import RunState
from graphs.errors import printable
from graphs.project import Project, load_project
from gui import files
from gui.widgets import scroll_page
from gui.workbench.advice_banner import attach as attach_advice
from gui.workbench.data_panel import DataPanel
from gui.workbench.data_shapes import ShapeFollower
from gui.workbench.engine_loader import EngineLoader
from gui.workbench.experiments import ExperimentsPanel
from gui.workbench.export_actions import ExportActions, ModelSource
from gui.workbench.folds_view import FoldCurves
from gui.workbench.history import RunHistory
from gui.workbench.interop import InteropActions
from gui.workbench.memory_dialog import offer_batch_size
from gui.workbench.protocol import WorkbenchWindow
from gui.workbench.run_control import RunActions, RunProgress, SnapshotBanner
from gui.workbench.runs import RunRecord, RunsPanel
from gui.workbench.settings import TrainingSettings
from gui.workbench.tasks import TaskRunner
from gui.workbench.training_panel import TrainingPanel
from gui.workbench.try_it import TryItPanel
from gui.workbench.views import Deferred
from gui.workbench.worker import PROGRESS_INTERVAL, RunController, RunRequest, training_threads

Area = Qt.DockWidgetArea
MAX_LISTED_ERRORS = 8  # problems listed when a graph with errors can't train
RUNS_LIST_INTERVAL = 0.5  # seconds between updates of the live run's line in the runs list


def snapshot(project: Project) -> Project:
    """An independent copy of the project for a run: later edits don't reach the running model."""
    return Project(project.graph.copy(), project.name, copy.deepcopy(project.training), copy.deepcopy(project.gui),
                   project.path)


class Workbench(QObject):
    """Everything the training feature adds to one MainWindow (any `WorkbenchWindow`)."""

    def __init__(self, window: WorkbenchWindow):
        super().__init__(window)
        self.window, self.document = window, window.document
        self.tasks = TaskRunner(self)
        self.engine = EngineLoader(self.tasks, self)
        self.settings = TrainingSettings(self.document, self)
        self.controller = RunController(self)
        self.run_options: dict = {"progress_interval": PROGRESS_INTERVAL}  # extra Trainer options (tests: max_batches)
        self.runs_root = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
                              or Path.home() / ".neurocanvas") / "runs"
        self.current_run: RunRecord | None = None
        self._evaluating = 0
        self._made_room = False
        self._evaluation_shown = False
        self._latest_progress = None  # the newest BatchProgress not shown yet
        self._run_changed = False  # an epoch ended since the runs list was updated
        self._runs_shown = 0.0  # when the runs list last showed the live run
        self._shown_before: RunRecord | None = None  # the run selected when the current one started

        self.data_panel = DataPanel(self.settings, self.engine, self.tasks)
        self.shapes = ShapeFollower(self.settings, self.engine, self.tasks, self)
        self.data_panel.shapesLoaded.connect(self.shapes.remember)
        self.shapes.message.connect(window.show_message)
        self.training_panel = TrainingPanel(self.settings, self.engine)
        self.curves = Deferred(self._make_plots)  # pyqtgraph loads when the curves are first needed
        self.banner = SnapshotBanner()
        self.curves.layout().addWidget(self.banner)
        self.runs_panel = RunsPanel()
        self.history = RunHistory(self)  # the project's earlier runs in the list; compare, delete
        self.experiments = ExperimentsPanel(self.document, self.settings, self.tasks)  # sweeps
        self.evaluation_holder = Deferred(self._make_evaluation_panel)
        self.progress = RunProgress()
        self.actions = RunActions(window, self)
        self.exports = ExportActions(window, self.tasks, self.model_source, self)
        self.interop = InteropActions(window, self.tasks, self)
        self.try_it = TryItPanel(self.tasks, self.model_source, lambda: self.document.project)
        self.runs_panel.currentChanged.connect(self.try_it.activate)  # the model it uses follows the selection
        self._add_docks()
        window.statusBar().insertPermanentWidget(0, self.progress)

        c = self.controller
        c.stateChanged.connect(self.actions.set_state)
        c.runStarted.connect(self._run_started)
        self.fold_curves = FoldCurves(self)  # a cross-validation's finished folds, in the live plot
        c.foldStarted.connect(self.fold_curves.fold_started)
        c.dataProgress.connect(self.progress.data_progress)
        c.progress.connect(self._progress)
        c.epochEnded.connect(self._epoch_ended)
        c.pausedChanged.connect(self._paused_changed)
        c.eventsRelayed.connect(self._show_status)
        c.runFinished.connect(self._run_finished)
        c.runFailed.connect(self._run_failed)
        self.advice_banner, self.health_overlay = attach_advice(self)  # the advisor's banners; health on the canvas
        self.runs_panel.currentChanged.connect(self._run_selected)
        self.runs_panel.overlaysChanged.connect(self._overlays_changed)
        window.installEventFilter(self)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def _make_plots(self):
        from gui.workbench.plots import LivePlots

        return LivePlots()

    def _make_evaluation_panel(self):
        from gui.workbench.evaluation_panel import EvaluationPanel

        panel = EvaluationPanel(tasks=self.tasks)
        panel.checkpointRequested.connect(self.evaluate_checkpoint_dialog)
        panel.explain_view.follow_selection(self.window.scene)  # a node selected on the canvas: its feature maps
        return panel

    @property
    def plots(self):
        """The LivePlots widget (built on first use)."""
        return self.curves.content

    @property
    def evaluation_panel(self):
        """The EvaluationPanel widget (built on first use)."""
        return self.evaluation_holder.content

    def _add_docks(self) -> None:
        w = self.window
        self.docks = {
            "data": w.add_dock(self.data_panel, "Data", Area.RightDockWidgetArea, "dataDock"),
            "training": w.add_dock(self.training_panel, "Training", Area.RightDockWidgetArea, "trainingDock"),
            "curves": w.add_dock(self.curves, "Training Curves", Area.BottomDockWidgetArea, "curvesDock"),
            "runs": w.add_dock(self.runs_panel, "Runs", Area.RightDockWidgetArea, "runsDock"),
            "evaluation": w.add_dock(self.evaluation_holder, "Evaluation", Area.BottomDockWidgetArea,
                                     "evaluationDock"),
            "experiments": w.add_dock(_scrolled(self.experiments), "Experiments", Area.BottomDockWidgetArea,
                                      "experimentsDock"),
            "try_it": w.add_dock(self.try_it, "Try It", Area.RightDockWidgetArea, "tryItDock"),
        }
        inspector, summary = w.docks.get("Inspector"), w.docks.get("Model Summary")
        if inspector is not None:  # the Runs dock stays below the Inspector's tab group
            w.tabifyDockWidget(inspector, self.docks["data"])
            w.tabifyDockWidget(self.docks["data"], self.docks["training"])
            inspector.raise_()
            w.resizeDocks([inspector, self.docks["runs"]], [560, 200], Qt.Orientation.Vertical)
        if summary is not None:
            w.splitDockWidget(summary, self.docks["evaluation"], Qt.Orientation.Horizontal)
            w.tabifyDockWidget(summary, self.docks["curves"])
            summary.raise_()
        else:
            w.splitDockWidget(self.docks["curves"], self.docks["evaluation"], Qt.Orientation.Horizontal)
        w.tabifyDockWidget(self.docks["curves"], self.docks["experiments"])
        (summary or self.docks["curves"]).raise_()
        w.tabifyDockWidget(self.docks["runs"], self.docks["try_it"])
        self.docks["runs"].raise_()
        self.docks["try_it"].visibilityChanged.connect(lambda shown: shown and self.try_it.activate())
        self.docks["data"].visibilityChanged.connect(lambda shown: shown and self.data_panel.activate())
        self.docks["training"].visibilityChanged.connect(lambda shown: shown and self.training_panel.activate())
        self.docks["evaluation"].hide()  # appears with the first evaluation (the user's layout is restored later)
        self.docks["curves"].visibilityChanged.connect(lambda shown: shown and self.plots)
        self.docks["evaluation"].visibilityChanged.connect(lambda shown: shown and self.evaluation_panel)
        for dock in self.docks.values():
            self.actions.panels_menu.addAction(dock.toggleViewAction())

    def show_dock(self, name: str) -> None:
        dock = self.docks[name]
        dock.show()
        dock.raise_()

    def _make_room(self) -> None:
        """Give the curves and the evaluation enough height the first time a run starts."""
        if self._made_room:
            return
        self._made_room = True
        height = int(self.window.height() * 0.45)
        if self.docks["curves"].height() < height:
            self.window.resizeDocks([self.docks["curves"], self.docks["evaluation"]], [height, height],
                                    Qt.Orientation.Vertical)

    # ---- running -------------------------------------------------------------------
    def _run_folder(self, project: Project) -> Path | None:
        """Where a run writes: None (the engine's default, `runs/` beside a saved project), else a folder
        under the application's data folder for an unsaved project."""
        if project.path is not None:
            return None
        stem = re.sub(r"\W+", "_", project.name or "untitled").strip("_") or "untitled"
        folder = self.runs_root / f"{stem}-{datetime.now():%Y%m%d-%H%M%S}"
        suffix = 2
        while folder.exists():
            folder = self.runs_root / f"{stem}-{datetime.now():%Y%m%d-%H%M%S}-{suffix}"
            suffix += 1
        return folder

    def cannot_train(self) -> str:
        """Why the graph on the canvas can't be trained as it is (empty when it can)."""
        errors = self.document.result.errors
        if not errors:
            return ""
        lines = [f"• {printable(str(error))}" for error in errors[:MAX_LISTED_ERRORS]]
        if len(errors) > MAX_LISTED_ERRORS:
            lines.append(f"… and {len(errors) - MAX_LISTED_ERRORS} more (the red nodes on the canvas)")
        text = "The graph has problems to fix before it can train:\n" + "\n".join(lines)
        if shapeless_data_nodes(self.document.graph):
            text += ("\n\nInput and Target nodes without a shape take it from the dataset chosen in the Data "
                     "panel; check there that it can be loaded.")
        return text

    def start(self) -> bool:
        """Start training the open project (a snapshot of it) with its settings; a graph with problems is
        refused with a dialog that lists them, and the runs list stays as it was."""
        if self.controller.active:
            return False
        self.shapes.follow()  # shapeless Input/Target nodes take the data's shapes first
        if self.shapes.pending and shapeless_data_nodes(self.document.graph):
            self.window.show_message("Starting once the data's shapes are known…")
            self.shapes.after_load(self.start)
            return True
        problems = self.cannot_train()
        if problems:
            QMessageBox.warning(self.window, "Cannot train", problems)
            self.window.show_message("Not started: the graph has problems (the red nodes)")
            return False
        self.engine.load()  # once loaded, long-lived objects are frozen out of garbage collections
        project = snapshot(self.document.project)
        options = {"threads": training_threads(), **self.run_options}
        folder = self._run_folder(project)
        if folder is not None:
            options["out_dir"] = folder
        run = self.runs_panel.new_record(copy.deepcopy(project.training), project)
        self._shown_before = self.runs_panel.current()
        self.controller.start(RunRequest(project, options))
        self.current_run = run
        self.runs_panel.add(run)
        self.plots.start()
        self.banner.show_snapshot(run.started_at)
        self.progress.starting(self.engine.loaded)
        self.show_dock("curves")
        self._make_room()
        self.window.show_message(f"Run {run.number} started on a snapshot of the graph")
        return True

    def toggle_pause(self) -> None:
        if self.controller.state == "paused":
            self.controller.resume()
            self._set_status(self.current_run, RunState.RUNNING)
        else:
            self.controller.pause()

    def stop(self) -> None:
        if self.controller.active:
            self.controller.stop()
            self.progress.stopping()

    def _set_status(self, run: RunRecord | None, status: str) -> None:
        if run is not None:
            run.status = status
            self.runs_panel.update_run(run)

    def _run_started(self, event) -> None:
        run = self.current_run
        run.started = event
        run.series.set_batches_per_epoch(event.batches_per_epoch)
        run.series.metric = event.metric
        run.series.total_steps = event.total_epochs * event.batches_per_epoch
        self.plots.show_series(run.series if self.runs_panel.current() is run else self.plots.series)
        self.progress.started(event)
        self._set_status(run, RunState.RUNNING)
        for note in event.notes:
            self.window.show_message(f"Note: {note}")

    # Events come in batches, at most four a second; each one only appends to the run's buffers, and the
    # read-outs follow once per batch (the runs list less often), so the GUI thread stays mostly idle.
    def _progress(self, event) -> None:
        self.current_run.series.add_losses(event.step, event.losses)
        self._latest_progress = event

    def _epoch_ended(self, event) -> None:
        self.current_run.series.add_epoch(event.metrics.as_dict())
        self.progress.epoch_ended(event.metrics)
        self._run_changed = True

    def _show_status(self) -> None:
        """The progress read-out, and the run's line in the runs list every RUNS_LIST_INTERVAL seconds."""
        if self._latest_progress is not None:
            self.progress.progress(self._latest_progress)
            self._latest_progress = None
            self.plots.data_arrived()
        now = time.monotonic()
        if self._run_changed and self.current_run is not None and now - self._runs_shown >= RUNS_LIST_INTERVAL:
            self._run_changed, self._runs_shown = False, now
            self.runs_panel.update_run(self.current_run)

    def _paused_changed(self, paused: bool) -> None:
        self.progress.paused(paused)
        self._set_status(self.current_run, RunState.PAUSED if paused else RunState.RUNNING)

    def _end_run(self) -> RunRecord:
        run = self.current_run
        self._runs_shown = 0.0
        self._show_status()
        self.plots.stop()
        self.banner.hide()
        self.progress.ended()
        return run

    def _run_finished(self, result) -> None:
        run = self._end_run()
        run.result, run.message = result, result.message
        self._set_status(run, result.status)
        if result.status == RunState.FAILED:
            QMessageBox.critical(self.window, "Training failed", f"Run {run.number}: {result.message}")
        else:
            self.window.show_message(f"Run {run.number}: {result.message}")
        if result.weights and self.runs_panel.current() is run:
            self.evaluate_run(run)

    def _run_failed(self, message: str, details: str) -> None:
        run = self._end_run()
        if run.started is None and not details:  # refused before training (the data doesn't fit the model)
            self.runs_panel.discard(run, self._shown_before)
            self.current_run = None
            if offer_batch_size(self.window, self.settings, message):  # gui.workbench.memory_dialog
                return
            QMessageBox.warning(self.window, "Cannot train", printable(message))
            self.window.show_message("Not started: " + printable(message).splitlines()[0])
            return
        run.message = message
        self._set_status(run, RunState.FAILED)
        text = f"Run {run.number} could not train: {message}"
        if details:
            text += "\n\nThis looks like a bug; details:\n" + details[-1500:]
        QMessageBox.critical(self.window, "Training failed", text)

    # ---- runs list, overlays, evaluation ----------------------------------------------
    def _run_selected(self, run: RunRecord | None) -> None:
        self.plots.show_series(run.series if run else None)
        if run is None:
            self.evaluation_panel.show_report(None)
        elif run.evaluation is not None and not (run.evaluation.released and run.weights):
            self.evaluation_panel.show_report(run.evaluation)
        elif run.weights:  # evaluated afresh when its kept report gave back its model and data
            self.evaluate_run(run)
        else:
            self.evaluation_panel.show_message(f"Run {run.number} has no trained weights to evaluate"
                                               + (" yet." if run.result is None else "."))

    def _overlays_changed(self, runs: list) -> None:
        self.plots.set_overlays([(run.number, run.series, run.colour, f"Run {run.number}") for run in runs]
                                + self.fold_curves.overlays())

    def show_fold_overlays(self) -> None:
        """The ticked runs and the current cross-validation's finished folds."""
        self._overlays_changed(self.runs_panel.ticked())

    def trained_project(self, run: RunRecord) -> Project:
        """The project as the run trained it (shapes filled from the data), from the run's folder."""
        saved = run.result.out_dir / "project.json" if run.result and run.result.out_dir else None
        if saved is None or not saved.exists():
            return run.project
        # its copy of the project's custom layers runs only if it is the code the open project runs (a run
        # from the history has no project of its own in memory: the open document's trusted code decides)
        trusted = (run.project.graph if run.project is not None else self.document.graph).custom_types
        return load_project(saved, same_code_loader(trusted))

    def evaluate_run(self, run: RunRecord) -> None:
        from engine.evaluation import evaluate_weights

        project = self.trained_project(run)
        source = f"Run {run.number} ({run.result.weights_from} weights)"
        self._evaluate(lambda: evaluate_weights(project, run.weights, source, base_dir=self.settings.base_dir), run)

    def evaluate_checkpoint_dialog(self, path: str | None = None) -> None:
        if path is None:
            start = files.start_folder(self.document.project.path)
            path, _ = QFileDialog.getOpenFileName(self.window, "Evaluate a checkpoint", str(start),
                                                  "safetensors weights (*.safetensors);;All files (*)")
            if not path:
                return
            files.remember_folder(path)
        from engine.evaluation import evaluate_weights

        project, base_dir = snapshot(self.document.project), self.settings.base_dir
        self.show_dock("evaluation")
        self._evaluate(lambda: evaluate_weights(project, path, f"Checkpoint {Path(path).name}", base_dir), None)

    def _evaluate(self, job, run: RunRecord | None) -> None:
        self._evaluating += 1
        if not self._evaluation_shown:
            self._evaluation_shown = True
            self.show_dock("evaluation")
            width = self.docks["curves"].width() + self.docks["evaluation"].width()
            self.window.resizeDocks([self.docks["curves"], self.docks["evaluation"]], [width * 11 // 20, width * 9 // 20],
                                    Qt.Orientation.Horizontal)
        self.evaluation_panel.show_busy("Evaluating on the validation split…")

        def done(report) -> None:
            self._evaluating -= 1
            if run is not None:
                run.evaluation = report
            if run is None or self.runs_panel.current() is run:
                self.evaluation_panel.show_report(report)
            else:
                report.release()

        def failed(error: BaseException) -> None:
            self._evaluating -= 1
            self.evaluation_panel.show_message(f"Evaluation failed: {error}")

        self.engine.when_ready(lambda: self.tasks.submit(job, done, failed))

    # ---- export ---------------------------------------------------------------------------
    def model_source(self) -> ModelSource:
        """What File > Export writes: the selected run's model, else the newest with weights, else the canvas."""
        selected = self.runs_panel.current()
        candidates = [selected] if selected is not None and selected.weights else []
        candidates += [run for run in reversed(self.runs_panel.runs) if run.weights]
        name = self.document.project.name or "model"
        project = self.document.project
        base_dir = project.path.parent if project.path else None
        if candidates:
            run = candidates[0]
            trained = self.trained_project(run)
            return ModelSource(trained.graph, run.weights, f"the model of run {run.number}", name,
                               trained.training, base_dir)
        return ModelSource(self.document.graph.copy(), None,
                           "the untrained model on the canvas (random initial weights)", name,
                           project.training, base_dir)

    # ---- closing ----------------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close and self.controller.active:
            buttons = QMessageBox.StandardButton
            answer = QMessageBox.question(self.window, "Training in progress",
                                          "A training run is in progress. Stop it and close the window?",
                                          buttons.Yes | buttons.No, buttons.No)
            if answer != buttons.Yes:
                event.ignore()
                return True
            self.stop_and_wait()
        return False

    def stop_and_wait(self) -> None:
        """Stop the run (if any) and wait for its thread to end; the run is listed as stopped."""
        if self.controller.active:
            self.controller.shutdown()
            run = self._end_run()
            self._set_status(run, RunState.STOPPED)

    def shutdown(self) -> None:
        """For the application's exit: stop training and wait for every background job."""
        self.stop_and_wait()
        self.experiments.shutdown()
        self.tasks.shutdown()


def _scrolled(panel: QWidget) -> QWidget:
    """`panel` in a scroll area: a dock tabbed with others must not hold the window wider than it was saved."""
    holder = QWidget()
    scroll_page(holder, panel).setFrameShape(QFrame.Shape.NoFrame)
    return holder
