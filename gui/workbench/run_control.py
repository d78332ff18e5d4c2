"""Start, Pause/Resume and Stop (Train menu and toolbar), the progress read-out and the snapshot banner.

The actions only call the workbench; `RunActions.set_state` enables them for
the controller's state. `RunProgress` sits in the status bar: a bar over the
run's steps and one line with the epoch, the batch, samples per second and
the time left. `SnapshotBanner` says, while a run is going, that it trains on
a copy of the graph taken when it started, so edits apply to the next run.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QProgressBar, QToolBar, QWidget

from gui.files import ICONS_DIR
from gui.workbench.protocol import WorkbenchWindow

DISABLED_COLOUR = "#5c6370"  # a disabled run button: dimmer than any enabled one on the dark theme
ICON_SIZES = (16, 20, 24, 32, 48)


def run_icon(name: str) -> QIcon:
    """resources/icons/NAME.svg as is, and recoloured DISABLED_COLOUR for the disabled state (Qt's own
    disabled look lightens dark icons and barely changes light ones)."""
    text = (ICONS_DIR / f"{name}.svg").read_text(encoding="utf-8")
    dimmed = re.sub(r'"#[0-9a-fA-F]{6}"', f'"{DISABLED_COLOUR}"', text).encode()
    icon = QIcon()
    for size in ICON_SIZES:
        for mode, svg in ((QIcon.Mode.Normal, text.encode()), (QIcon.Mode.Disabled, dimmed)):
            pixmap = QPixmap(size, size)
            pixmap.fill(Qt.GlobalColor.transparent)
            pixmap.loadFromData(svg, "SVG")
            icon.addPixmap(pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation), mode)
    return icon


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class RunActions:
    """The run actions, the Train menu and the Training toolbar."""

    def __init__(self, window: WorkbenchWindow, workbench):
        self.icons = {name: run_icon(name) for name in ("play", "pause", "stop")}

        def action(text, slot, shortcut, icon_name, tip):
            act = QAction(text, window)
            if icon_name is not None:
                act.setIcon(self.icons[icon_name])
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
                act.setToolTip(f"{tip} ({shortcut})")
            act.setStatusTip(tip)
            act.triggered.connect(lambda _checked=False: slot())
            window.addAction(act)
            return act

        a = self.a = SimpleNamespace()
        a.start = action("&Start Training", workbench.start, "F5", "play",
                         "Train the graph on the canvas with the Data and Training settings")
        a.pause = action("&Pause", workbench.toggle_pause, "F6", "pause", "Pause or resume the run")
        a.stop = action("S&top", workbench.stop, "Shift+F5", "stop", "Stop the run after the current batch")
        a.evaluate = action("&Evaluate Checkpoint…", workbench.evaluate_checkpoint_dialog, None, None,
                            "Evaluate a weights file (.safetensors) on the validation split")
        menu = QMenu("&Train", window)
        window.menuBar().insertMenu(window.menus["help"].menuAction(), menu)
        window.menus["train"] = menu
        menu.addActions([a.start, a.pause, a.stop])
        menu.addSeparator()
        menu.addAction(a.evaluate)
        menu.addSeparator()
        self.panels_menu = menu.addMenu("Show &Panel")
        toolbar = QToolBar("Training toolbar", window)
        toolbar.setObjectName("trainingToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addActions([a.start, a.pause, a.stop])
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar, self.menu = toolbar, menu
        self.set_state("idle")

    def set_state(self, state: str) -> None:
        a = self.a
        active = state != "idle"
        a.start.setEnabled(not active)
        a.pause.setEnabled(state in ("starting", "running", "paused"))
        a.stop.setEnabled(active and state != "stopping")
        a.pause.setText("&Resume" if state == "paused" else "&Pause")
        a.pause.setIcon(self.icons["play" if state == "paused" else "pause"])


class RunProgress(QWidget):
    """Epoch, batch, samples/s and ETA of the run, with a progress bar (lives in the status bar)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(14)
        self.text = QLabel()
        self.text.setObjectName("runProgressText")
        # a fixed width: a text that changes 4 times a second must not make the status bar lay out again
        sample = "Epoch 1000/1000 · batch 10000/10000 · 999,999 samples/s · 16 threads · ETA 10:00:00"
        self.text.setFixedWidth(self.text.fontMetrics().horizontalAdvance(sample) + 8)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.bar)
        self.epochs = 0
        self.threads = ""  # " · 2 threads" once an epoch on the CPU has told them (threads="auto" may change them)
        self._on_cpu = False
        self.hide()

    def starting(self, engine_loaded: bool = True) -> None:
        self.bar.setRange(0, 0)  # busy until the run reports its size
        self.text.setText("Loading data and compiling…" if engine_loaded
                          else "Loading the training engine, then the data…")
        self.show()

    def data_progress(self, event) -> None:
        """How far the data has loaded (a large CSV file or image folder), before the run starts."""
        self.bar.setRange(0, 1000)  # per mille: a 10 GB file's bytes would overflow the bar's int
        self.bar.setValue(event.done * 1000 // max(1, event.total))
        amount = (f"{event.done / 1e6:,.0f}/{event.total / 1e6:,.0f} MB" if event.unit == "bytes"
                  else f"{event.done:,}/{event.total:,} {event.unit}")
        self.text.setText(f"Loading data… {amount}")

    def started(self, event) -> None:
        self.epochs, self.threads, self._on_cpu = event.total_epochs, "", event.device == "cpu"
        self.bar.setRange(0, max(1, event.total_epochs * event.batches_per_epoch))
        self.bar.setValue(0)
        self.text.setText(f"Epoch 1/{self.epochs} on {event.device}")

    def progress(self, event) -> None:
        self.bar.setValue(event.step)
        self.text.setText(f"Epoch {event.epoch}/{self.epochs} · batch {event.batch}/{event.batches} · "
                          f"{event.samples_per_sec:,.0f} samples/s{self.threads} · ETA {_duration(event.eta_seconds)}")

    def epoch_ended(self, metrics) -> None:
        """The CPU threads the epoch ended on, told in the read-out from then on."""
        if self._on_cpu and metrics.threads:
            self.threads = f" · {metrics.threads} thread{'s' if metrics.threads != 1 else ''}"

    def paused(self, paused: bool) -> None:
        if paused:
            self.text.setText("Paused · " + self.text.text().split(" · ETA")[0])

    def stopping(self) -> None:
        self.text.setText("Stopping after this batch…")

    def ended(self) -> None:
        self.hide()


class SnapshotBanner(QLabel):
    """'Training on a snapshot taken at 12:03 — edits apply to the next run', shown while a run goes on."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("snapshotBanner")
        self.setWordWrap(True)
        self.setStyleSheet("QLabel#snapshotBanner { background: #3a3222; color: #f0d9a8; padding: 4px 8px; "
                           "border-bottom: 1px solid #5c4a2a; }")
        self.hide()

    def show_snapshot(self, taken_at) -> None:
        self.setText(f"Training on a snapshot of the graph taken at {taken_at:%H:%M:%S} — "
                     "edits apply to the next run.")
        self.show()
