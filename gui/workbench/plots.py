"""Live training curves (pyqtgraph): loss, the validation metric and the learning rate.

The loss plot shows every batch's loss faintly and its moving average on top,
plus the epoch train and validation losses; the metric plot shows validation
accuracy (or MAE); a small plot shows the learning rate. X is the step or the
epoch; the loss can be shown on a log scale; a crosshair reads values out;
the plots export to PNG and the numbers to CSV. Ticked earlier runs are
overlaid as dashed epoch curves in their own colours.

Cost is bounded: data arrives in `RunSeries` buffers (no Qt); while a run is
live, a redraw happens when new data arrived, the plots are on screen and
the redraw budget allows (at most `plot_budget.REDRAW_HZ` a second, and
within a small share of the time); otherwise one single-shot QTimer brings it
when it does. The ranges stay steady while a run is live. Curves clip to the
visible range and downsample by peaks, so a 100,000-step run still pans
smoothly. Only the GUI thread touches plot items.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.workbench.plot_budget import TimedCanvas, cache_axes, redraw_interval_ms, steady_range
from gui.workbench.series import RunSeries

BACKGROUND = "#1d1f23"
RAW, SMOOTH, TRAIN, VAL, METRIC, LR = "#4f8fd6", "#7fb8ff", "#b4d3ff", "#f0b35a", "#6fd08c", "#c678dd"
AXIS_TITLES = {"val_accuracy": "accuracy", "val_mae": "MAE"}


def _pen(colour: str, width: float = 1.5, alpha: int = 255, dashed: bool = False):
    colour = pg.mkColor(colour)
    colour.setAlpha(alpha)
    return pg.mkPen(colour, width=width, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)


def _plot(layout: pg.GraphicsLayoutWidget, row: int, title: str) -> pg.PlotItem:
    plot = layout.addPlot(row=row, col=0)
    plot.setLabel("left", title)
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    cache_axes(plot)
    plot.getAxis("left").setWidth(56)
    plot.getAxis("left").enableAutoSIPrefix(False)
    plot.getAxis("bottom").enableAutoSIPrefix(False)
    return plot


class LivePlots(QWidget):
    """The curves of the current run and of the ticked earlier runs."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.series: RunSeries | None = None
        self.overlays: dict[object, tuple] = {}  # key -> (series, colour, plot items, name)
        self._drawn = None  # what the curves show: (id(series), version, x mode, overlays)
        self._epochs_drawn = None  # what the epoch curves show: (id(series), epochs, x mode, overlays)
        self._x_span = None  # the x range set while following a live run
        self.live = False  # a run is going: redrawn as data arrives, within the budget, with steady ranges
        self.following = False  # ranges follow the live run (until the user pans or zooms)
        self._build()
        self.timer = QTimer(self)  # the one redraw timer: armed when new data may not be drawn yet
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._redraw_live)
        self._next_redraw = 0.0  # (monotonic) before this, a live redraw would overrun the budget
        self.redraws = 0

    def _build(self) -> None:
        self.x_mode = QComboBox()
        self.x_mode.addItems(["step", "epoch"])
        self.log_scale = QCheckBox("Log-scale loss")
        self.save_png = QToolButton(text="Save PNG…")
        self.save_csv = QToolButton(text="Save CSV…")
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel("X axis"))
        bar.addWidget(self.x_mode)
        bar.addWidget(self.log_scale)
        bar.addStretch(1)
        bar.addWidget(self.save_png)
        bar.addWidget(self.save_csv)

        self.legend = QLabel()
        self.legend.setObjectName("plotLegend")
        self.legend.setContentsMargins(8, 0, 8, 2)
        self.legend.setWordWrap(True)
        self._show_legend()
        self.canvas = TimedCanvas()
        self.canvas.setBackground(BACKGROUND)
        self.loss_plot = _plot(self.canvas, 0, "loss")
        self.metric_plot = _plot(self.canvas, 1, "accuracy")
        self.lr_plot = _plot(self.canvas, 2, "LR")
        # the crosshair read-out floats over the top of the loss plot: a long text never widens the dock
        self.readout = pg.TextItem("", color="#dfe3e8", fill=pg.mkBrush(29, 31, 35, 210), anchor=(0, 0))
        self.readout.setParentItem(self.loss_plot)
        self.readout.setPos(62, 0)
        self.lr_plot.setMaximumHeight(100)
        self.lr_plot.getAxis("left").setStyle(maxTickLevel=0)
        self.canvas.ci.layout.setRowStretchFactor(0, 5)
        self.canvas.ci.layout.setRowStretchFactor(1, 3)
        self.canvas.ci.layout.setRowStretchFactor(2, 1)
        for plot in (self.metric_plot, self.lr_plot):
            plot.setXLink(self.loss_plot)
        self.raw_curve = self.loss_plot.plot(pen=_pen(RAW, 1, alpha=70))
        self.smooth_curve = self.loss_plot.plot(pen=_pen(SMOOTH, 2))
        self.train_curve = self.loss_plot.plot(pen=_pen(TRAIN, 1.5))
        self.val_curve = self.loss_plot.plot(pen=_pen(VAL, 2), symbol="o", symbolSize=6, symbolBrush=VAL,
                                             symbolPen=None)
        self.metric_curve = self.metric_plot.plot(pen=_pen(METRIC, 2), symbol="o", symbolSize=6, symbolBrush=METRIC,
                                                  symbolPen=None)
        self.lr_curve = self.lr_plot.plot(pen=_pen(LR, 1.5))
        self.crosshairs = [pg.InfiniteLine(angle=90, movable=False, pen=_pen("#8c939d", 1, alpha=140))
                           for _ in range(3)]
        for plot, line in zip((self.loss_plot, self.metric_plot, self.lr_plot), self.crosshairs):
            plot.addItem(line, ignoreBounds=True)
            line.hide()
        self._mouse = pg.SignalProxy(self.canvas.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)
        self._mouse.setParent(self)  # owned by the widget: deleted with it, in the GUI thread
        for plot in self._plots():
            plot.vb.sigRangeChangedManually.connect(self._user_moved_view)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.legend)
        layout.addWidget(self.canvas, 1)
        self.x_mode.currentIndexChanged.connect(self._invalidate)
        self.log_scale.toggled.connect(self._set_log)
        self.save_png.clicked.connect(self.export_png_dialog)
        self.save_csv.clicked.connect(self.export_csv_dialog)

    # ---- what is shown ------------------------------------------------------------
    def show_series(self, series: RunSeries | None) -> None:
        """Make `series` the current run (its curves are redrawn as it grows)."""
        self.series = series
        if series is not None:
            self.metric_plot.setLabel("left", AXIS_TITLES.get(series.metric, series.metric))
        self._invalidate()

    def set_overlays(self, runs: list[tuple[object, RunSeries, str, str]]) -> None:
        """Overlay (key, series, colour, name) runs as dashed epoch curves; others are removed."""
        wanted = {key for key, *_ in runs}
        for key in [k for k in self.overlays if k not in wanted]:
            _series, _colour, items, _name = self.overlays.pop(key)
            for plot, item in items:
                plot.removeItem(item)
        for key, series, colour, name in runs:
            if key in self.overlays:
                continue
            items = [(self.loss_plot, self.loss_plot.plot(pen=_pen(colour, 1.5, alpha=200, dashed=True))),
                     (self.metric_plot, self.metric_plot.plot(pen=_pen(colour, 1.5, alpha=200, dashed=True)))]
            self.overlays[key] = (series, colour, items, name)
        self._show_legend()
        self._invalidate()

    def _show_legend(self) -> None:
        entries = [(RAW, "━", "batch loss"), (SMOOTH, "━", "smoothed"), (TRAIN, "━", "train loss (epoch)"),
                   (VAL, "●", "validation loss"), (METRIC, "●", "validation metric"), (LR, "━", "learning rate")]
        entries += [(colour, "╌", f"{name} (validation)") for _s, colour, _i, name in self.overlays.values()]
        self.legend.setText("&nbsp;&nbsp; ".join(  # an entry never breaks across lines
            f'<span style="color:{colour}">{mark}</span>&nbsp;{text.replace(" ", "&nbsp;")}'
            for colour, mark, text in entries))

    def _plots(self) -> tuple[pg.PlotItem, ...]:
        return self.loss_plot, self.metric_plot, self.lr_plot

    def start(self) -> None:
        """A run is going: redraw it as its data arrives (`data_arrived`), with steady ranges."""
        self.live = self.following = True
        self._x_span = None
        self._next_redraw = 0.0
        for plot in self._plots():
            plot.vb.disableAutoRange()

    def stop(self) -> None:
        """The run ended: a last redraw, and the ranges fit the data again."""
        self.live = self.following = False
        self.timer.stop()
        self._drawn = self._epochs_drawn = None
        self.refresh()
        for plot in self._plots():
            plot.enableAutoRange()

    def _user_moved_view(self, *_args) -> None:
        self.following = False

    def data_arrived(self) -> None:
        """New data for the live run: redraw now if the budget allows, else arm the timer for when it does.
        Redraws thus ride on wake-ups the GUI thread has anyway, and never exceed plot_budget.REDRAW_HZ or the budget."""
        if not self.live or self.timer.isActive():
            return
        wait = self._next_redraw - time.monotonic()
        if wait <= 0:
            self._redraw_live()
        else:
            self.timer.start(int(wait * 1000) + 1)

    def _redraw_live(self) -> None:
        if self.canvas.viewport().visibleRegion().isEmpty():  # a hidden tab, or a closed dock
            return
        start = time.perf_counter()
        if self.refresh() and self.series is not None and self.series.batches.n:  # an empty plot costs no budget
            cost = time.perf_counter() - start + self.canvas.paint_seconds
            self._next_redraw = time.monotonic() + redraw_interval_ms(cost) / 1000.0

    def _invalidate(self, *_args) -> None:
        self._drawn = self._epochs_drawn = None
        if self.live:
            self.data_arrived()
        else:
            self.refresh()

    def _set_log(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self.loss_plot.enableAutoRange()

    # ---- drawing (GUI thread, from the timer) ---------------------------------------
    def _scale(self, series: RunSeries) -> float:
        return 1.0 / series.batches_per_epoch if self.x_mode.currentText() == "epoch" else 1.0

    def refresh(self) -> bool:
        """Redraw if the current run grew or the view settings changed since the last redraw; True if it did.
        Epoch curves (and overlays) are set again only when an epoch ended or the view changed."""
        series = self.series
        mode = self.x_mode.currentText()
        overlays = tuple((k, o[0].version) for k, o in self.overlays.items())
        state = (id(series), series.version if series else -1, mode, overlays)
        if state == self._drawn:
            return False
        self._drawn = state
        self.redraws += 1
        epochs_state = (id(series), len(series.epochs) if series else -1, mode, overlays)
        if series is None:
            for curve in (self.raw_curve, self.smooth_curve, self.train_curve, self.val_curve, self.metric_curve,
                          self.lr_curve):
                curve.setData([], [])
        else:
            scale = self._scale(series)
            self.raw_curve.setData(series.batches.x * scale, series.batches.y, skipFiniteCheck=True)
            self.smooth_curve.setData(series.smoothed.x * scale, series.smoothed.y, skipFiniteCheck=True)
            if epochs_state != self._epochs_drawn:
                self._draw_epochs(series, scale)
        if epochs_state != self._epochs_drawn:
            self._epochs_drawn = epochs_state
            for overlay, _colour, items, _name in self.overlays.values():
                (_p, loss_item), (_q, metric_item) = items
                self._epoch_curve(loss_item, overlay, "val_loss", self._scale(overlay))
                self._epoch_curve(metric_item, overlay, overlay.metric, self._scale(overlay))
            self.lr_plot.setVisible(bool(series is not None and series.epochs))
        if self.following and series is not None:
            self._follow(series)
        return True

    def _draw_epochs(self, series: RunSeries, scale: float) -> None:
        self._epoch_curve(self.train_curve, series, "train_loss", scale)
        self._epoch_curve(self.val_curve, series, "val_loss", scale)
        self._epoch_curve(self.metric_curve, series, series.metric, scale)
        steps, rates = series.learning_rates()
        self.lr_curve.setData(steps * scale, rates)
        if len(rates):
            steady_range(self.lr_plot.vb, 0.0, float(rates.max()))

    def _follow(self, series: RunSeries) -> None:
        """Steady ranges for a live run: x spans the whole run, y moves only when it must."""
        scale = self._scale(series)
        span = (id(series), scale, series.total_steps)
        if series.total_steps and span != self._x_span:
            self._x_span = span
            self.loss_plot.setXRange(0, series.total_steps * scale, padding=0.01)
        losses = [series.batches.y, *(series.column(name)[1] for name in ("train_loss", "val_loss"))]
        losses = np.concatenate([values for values in losses if len(values)] or [np.zeros(0)])
        if len(losses):
            steady_range(self.loss_plot.vb, float(losses.min()), float(losses.max()), self.log_scale.isChecked())
        metrics = [series.column(series.metric)[1], *(o[0].column(o[0].metric)[1] for o in self.overlays.values())]
        metrics = np.concatenate(metrics)
        if len(metrics):
            steady_range(self.metric_plot.vb, float(metrics.min()), float(metrics.max()))

    @staticmethod
    def _epoch_curve(curve, series: RunSeries, name: str, scale: float) -> None:
        x, y = series.column(name)
        curve.setData(x * scale, y)

    # ---- crosshair ----------------------------------------------------------------------
    def _mouse_moved(self, args) -> None:
        position = args[0]
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            if plot.sceneBoundingRect().contains(position):
                x = plot.vb.mapSceneToView(position).x()
                for line in self.crosshairs:
                    line.setPos(x)
                    line.show()
                self.readout.setText(self.read_out(x))
                return

    def read_out(self, x: float) -> str:
        """The values of the current run nearest to `x` (in the axis' units): the batch, then its epoch."""
        series = self.series
        if series is None or not series.batches.n:
            return ""
        scale = self._scale(series)
        step = x / scale
        index = int(np.clip(np.searchsorted(series.batches.x, step), 0, series.batches.n - 1))
        lines = [f"step {max(0, round(step))} (epoch {step / series.batches_per_epoch:.2f}) · "
                 f"loss {series.batches.y[index]:.4g}, smoothed {series.smoothed.y[index]:.4g}"]
        if series.epochs:
            row = min(series.epochs, key=lambda r: abs(r["step"] - step))
            names = (("val_loss", "validation loss"), (series.metric, AXIS_TITLES.get(series.metric, "metric")),
                     ("lr", "lr"))
            values = [f"{title} {row[name]:.4g}" for name, title in names if isinstance(row.get(name), float)]
            lines.append(f"epoch {row['epoch']}: " + ", ".join(values))
        return "\n".join(lines)

    # ---- export ------------------------------------------------------------------------
    def export_png(self, path: str | Path) -> bool:
        self.refresh()
        return self.canvas.grab().save(str(path))

    def export_csv(self, path: str | Path) -> None:
        Path(path).write_text(self.series.csv_text() if self.series else "", encoding="utf-8")

    def export_png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the plots as PNG", "training-curves.png", "PNG (*.png)")
        if path:
            self.export_png(path if path.lower().endswith(".png") else path + ".png")

    def export_csv_dialog(self) -> None:
        if self.series is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the metrics as CSV", "metrics.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path if path.lower().endswith(".csv") else path + ".csv")
