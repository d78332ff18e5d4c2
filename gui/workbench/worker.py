"""One training run in a worker thread, and the GUI-side controller that starts, pauses and stops it.

`TrainingWorker` is a QObject moved to its own QThread; its `run` slot builds
the engine's `Trainer` on a snapshot of the project and trains. The trainer's
callback (called in the worker thread; the trainer aggregates batches itself)
queues each event, and the worker announces them with one signal at most four
times a second. That signal is connected to a method of `RunController`,
which lives in the GUI thread, so it is queued there; a lambda would run in
the worker thread (see docs/pitfalls). The controller alone quits and joins the thread, from the GUI
thread, after the worker said it is done, or in `shutdown` when the window
closes: stop, then wait, so no QThread is destroyed while running. Before a
run starts, garbage is collected in the GUI thread (see `gc_policy`).
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QThread, Signal

from engine.errors import UserError  # no torch: safe at start-up
from engine.training.events import (  # no torch either
    Advised,
    BatchProgress,
    DataProgress,
    EpochEnd,
    FoldStarted,
    HealthSample,
    Paused,
    Resumed,
    RunEnded,
    RunStarted,
)
from gui.workbench.gc_policy import collect_young

PROGRESS_INTERVAL = 0.1  # seconds between the trainer's aggregated progress events
EMIT_INTERVAL = 0.25  # the most often the worker wakes the GUI thread with new events
URGENT = (RunStarted, Paused, Resumed)  # events announced at once
# the RunController signal (by attribute name) that relays each kind of event as it is
RELAYED = {BatchProgress: "progress", DataProgress: "dataProgress", EpochEnd: "epochEnded",
           FoldStarted: "foldStarted", HealthSample: "healthSampled", Advised: "advised"}


def training_threads() -> str:
    """torch threads for a run started from the GUI, as `train` chooses them: every core but one, which stays
    with the GUI, and the last core too only where the run's own steps time clearly faster with it
    (`engine.training.thread_tuner`; the GUI thread uses about 6% of a core while it trains, bench 6)."""
    return "auto"


@dataclass
class RunRequest:
    """What to train: a project snapshot and options passed on to `Trainer`."""

    project: object  # graphs.project.Project, a copy the editor no longer touches
    options: dict = field(default_factory=dict)  # device, epochs, out_dir, threads, max_batches, ...


class TrainingWorker(QObject):
    """Runs one `Trainer` in the thread it was moved to; control calls are safe from any thread.

    The trainer's events are queued here and announced with one `eventsReady` signal at most every
    `EMIT_INTERVAL` seconds (at once for a start, a pause or a resume): a small model ends an epoch
    every few tens of milliseconds, and every signal wakes the GUI thread, which then takes the GIL
    from the trainer. The controller takes the queued events with `take_events`.
    """

    eventsReady = Signal()
    finished = Signal(object)  # RunResult (its status may be "failed": NaN, out of memory...)
    failed = Signal(str, str)  # message, details: the run could not start (bad data, invalid graph...)

    def __init__(self, request: RunRequest):
        super().__init__()
        self.request = request
        self._lock = threading.Lock()
        self._trainer = None
        self._stop_requested = False
        self._pause_requested = False
        self._events: list = []
        self._announced = 0.0
        self.last_step = 0  # the latest step reported, written by the worker thread
        self.step_at_stop: int | None = None

    # ---- control (GUI thread) ------------------------------------------------
    def stop(self) -> None:
        with self._lock:
            self._stop_requested = True
            self.step_at_stop = self.last_step
            if self._trainer is not None:
                self._trainer.stop()

    def pause(self) -> None:
        with self._lock:
            self._pause_requested = True
            if self._trainer is not None:
                self._trainer.pause()

    def resume(self) -> None:
        with self._lock:
            self._pause_requested = False
            if self._trainer is not None:
                self._trainer.resume()

    def take_events(self) -> list:
        """The events queued since the last call, oldest first."""
        with self._lock:
            events, self._events = self._events, []
        return events

    # ---- the run (worker thread) ----------------------------------------------
    def run(self) -> None:
        try:
            from gui.workbench.folds_view import make_trainer

            trainer = make_trainer(self.request.project, self._on_event, self.request.options)
            with self._lock:
                self._trainer = trainer
                if self._stop_requested:
                    trainer.stop()
                elif self._pause_requested:
                    trainer.pause()
            result = trainer.run()
            result = getattr(result, "as_run_result", lambda: result)()  # a cross-validation: told as one run
        except UserError as error:
            self.failed.emit(str(error), "")
            return
        except Exception as error:  # noqa: BLE001 - reported to the user, never raised into Qt
            lines = str(error).strip().splitlines()
            self.failed.emit(f"{type(error).__name__}: {lines[0] if lines else ''}", traceback.format_exc())
            return
        self.finished.emit(result)

    def _on_event(self, event) -> None:
        if isinstance(event, RunEnded):  # the result comes back from run() and goes out through `finished`
            return
        if isinstance(event, BatchProgress):
            self.last_step = event.step
        with self._lock:
            self._events.append(event)
        now = time.perf_counter()
        if isinstance(event, URGENT) or now - self._announced >= EMIT_INTERVAL:
            self._announced = now
            self.eventsReady.emit()


class RunController(QObject):
    """Starts one run at a time in a worker thread and relays its events, in the GUI thread."""

    runStarted = Signal(object)  # RunStarted
    foldStarted = Signal(object)  # FoldStarted: a cross-validation's next fold (its RunStarted follows)
    dataProgress = Signal(object)  # DataProgress, before the run starts
    progress = Signal(object)  # BatchProgress
    epochEnded = Signal(object)  # EpochEnd
    pausedChanged = Signal(bool)
    eventsRelayed = Signal()  # a batch of events was relayed: a good moment to refresh read-outs
    healthSampled = Signal(object)  # HealthSample: per-node health on one batch (engine.training.health)
    advised = Signal(object)  # Advised: the training advisor's advice after an epoch
    runFinished = Signal(object)  # RunResult
    runFailed = Signal(str, str)  # message, details
    stateChanged = Signal(str)  # "idle" | "starting" | "running" | "paused" | "stopping"

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self.state = "idle"
        self.last_worker: TrainingWorker | None = None

    @property
    def active(self) -> bool:
        return self._thread is not None

    @property
    def thread(self) -> QThread | None:
        return self._thread

    def start(self, request: RunRequest) -> bool:
        if self.active:
            return False
        collect_young()  # the GUI thread, not the worker, destroys the garbage made so far
        worker = TrainingWorker(request)
        thread = QThread(self)
        thread.setObjectName("neurocanvas-training")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.eventsReady.connect(self._on_events)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self._thread, self._worker, self.last_worker = thread, worker, worker
        self._set_state("starting")
        thread.start()
        return True

    def pause(self) -> None:
        if self._worker is not None and self.state in ("starting", "running"):
            self._worker.pause()

    def resume(self) -> None:
        if self._worker is not None:
            self._worker.resume()
            if self.state == "paused":
                self._set_state("running")

    def stop(self) -> None:
        if self._worker is not None and self.state != "stopping":
            self._worker.stop()
            self._set_state("stopping")

    def shutdown(self) -> None:
        """Stop the run (if any) and wait for its thread: for closing the window."""
        if self._worker is not None:
            self._worker.stop()
        self._join()

    def _join(self) -> None:
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        if thread is not None:
            thread.quit()
            thread.wait()
            thread.deleteLater()
        if worker is not None:
            worker.deleteLater()
        self._set_state("idle")

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    def _current(self) -> bool:
        return self.sender() is self._worker and self._worker is not None

    # ---- relays (GUI thread) ---------------------------------------------------
    def _on_events(self) -> None:
        if self._current():
            self._dispatch(self._worker.take_events())

    def _dispatch(self, events: list) -> None:
        """Relay the worker's queued events, in order, then say that a batch of them was relayed."""
        for event in events:
            signal = RELAYED.get(type(event))
            if signal is not None:
                getattr(self, signal).emit(event)
            elif isinstance(event, RunStarted):
                if self.state == "starting":
                    self._set_state("running")
                self.runStarted.emit(event)
            elif isinstance(event, (Paused, Resumed)) and self.state != "stopping":
                paused = isinstance(event, Paused)
                self._set_state("paused" if paused else "running")
                self.pausedChanged.emit(paused)
        if events:
            self.eventsRelayed.emit()

    def _on_finished(self, result) -> None:
        if self._current():
            self._dispatch(self._worker.take_events())
            self._join()
            self.runFinished.emit(result)

    def _on_failed(self, message: str, details: str) -> None:
        if self._current():
            self._dispatch(self._worker.take_events())
            self._join()
            self.runFailed.emit(message, details)
