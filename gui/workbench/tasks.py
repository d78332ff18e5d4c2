"""Short jobs off the GUI thread: loading the engine, a data preview, an evaluation, an export.

`TaskRunner.submit(fn, on_done, on_error)` runs `fn()` on a small private
thread pool and calls `on_done(result)` or `on_error(exception)` later, in the
GUI thread. Delivery goes through a signal connected to a method of the runner
(a QObject living in the GUI thread): in PySide6 a signal emitted in a worker
thread and connected to a plain function or lambda would run that function in
the worker thread. Garbage collection moves to the GUI thread before the
first job starts (see `gc_policy`). `shutdown()` drops pending callbacks and waits for the jobs
still running, so nothing outlives the window.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from gui.workbench.gc_policy import collect_in_gui_thread


class _Signals(QObject):
    delivered = Signal(int, bool, object)  # token, ok, result or exception


class _Job(QRunnable):
    def __init__(self, token: int, fn: Callable[[], object], signals: _Signals, ended: threading.Event):
        super().__init__()
        self.token, self.fn, self.signals, self.ended = token, fn, signals, ended

    def run(self) -> None:
        try:
            try:
                outcome = (True, self.fn())
            except BaseException as error:  # noqa: BLE001 - every failure is reported to the GUI
                outcome = (False, error)
            try:
                self.signals.delivered.emit(self.token, *outcome)
            except RuntimeError:  # the runner went with its window: nobody waits for this result any more
                pass
        finally:
            self.ended.set()


class TaskRunner(QObject):
    """Runs callables in background threads and hands their results back to the GUI thread."""

    def __init__(self, parent: QObject | None = None, threads: int = 2):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._signals = _Signals(self)
        self._signals.delivered.connect(self._deliver)
        self._callbacks: dict[int, tuple[Callable, Callable]] = {}
        self._tokens = itertools.count(1)
        self._closed = False
        self._writers: list[threading.Event] = []  # set when a job that writes files has ended

    def submit(self, fn: Callable[[], object], on_done: Callable[[object], None],
               on_error: Callable[[BaseException], None], writes: bool = False) -> int:
        """Start `fn()` in the background; returns a token for `cancel`. A job that `writes` files is
        waited for when the application quits."""
        if self._closed:
            return 0
        collect_in_gui_thread()
        token = next(self._tokens)
        self._callbacks[token] = (on_done, on_error)
        ended = threading.Event()
        if writes:
            self._writers = [event for event in self._writers if not event.is_set()] + [ended]
        self._pool.start(_Job(token, fn, self._signals, ended))
        return token

    def cancel(self, token: int) -> None:
        """Forget a job's callbacks (the job itself runs to its end; its result is dropped)."""
        self._callbacks.pop(token, None)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def _deliver(self, token: int, ok: bool, value: object) -> None:
        callbacks = self._callbacks.pop(token, None)
        if callbacks is not None:
            callbacks[0 if ok else 1](value)

    def wait(self, msecs: int = -1) -> bool:
        return self._pool.waitForDone(msecs)

    def shutdown(self) -> None:
        """No more callbacks or jobs; wait for the jobs that write files (even those still queued)."""
        self._closed = True
        self._callbacks.clear()
        for ended in self._writers:
            ended.wait()
