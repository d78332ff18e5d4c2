"""The inspector's collapsible "About <type>" section: the type's explanation and, for activations and
losses, a small live plot of its function (and derivative) drawn with the node's current params.

The text comes from `graphs.explanations`. The curves come from `engine.function_plot`, computed on a
background thread (`TaskRunner`), since the first one imports torch; a result for params that have
changed meanwhile is dropped. pyqtgraph is imported only when the first plot is shown. Whether the
section is open is remembered (QSettings "inspector/aboutExpanded"). `explain_choices` gives the
Training panel's optimiser and schedule choosers their explanations as tooltips.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from graphs.catalogue import CATALOGUE
from graphs.errors import printable
from graphs.explanations import explain, explain_optimizer, explain_schedule
from gui import theme
from gui.workbench.tasks import TaskRunner

EXPANDED_KEY = "inspector/aboutExpanded"
PLOT_HEIGHT = 170
_PLOTTED_CATEGORIES = ("Activations", "Losses")


def _curves(type_name: str, params: dict):
    """Run in the background: the curves, or None for a type with no single-input function."""
    from engine.function_plot import function_curves, plottable

    return function_curves(type_name, params) if plottable(type_name) else None


class ExplainPanel(QWidget):
    """Shows one node type's explanation; `show_type(name, params)` switches or refreshes it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("explainPanel")
        self.type_name: str | None = None
        self.params: dict = {}
        self.curves = None  # the FunctionCurves drawn now, or None
        self._token = 0
        self.tasks = TaskRunner(self, threads=1)

        self.toggle = QToolButton()
        self.toggle.setObjectName("explainToggle")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setAutoRaise(True)
        self.toggle.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.toggle.toggled.connect(self._set_expanded)
        self.text = QLabel()
        self.text.setObjectName("explainText")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plot_state = QLabel()
        self.plot_state.setObjectName("explainPlotState")
        self.plot_state.setWordWrap(True)
        self.plot_state.setStyleSheet(f"color: {theme.NODE_MUTED.name()};")
        self.plot = None  # a pyqtgraph PlotWidget, made on first use
        self.body = QWidget()
        self._body_layout = QVBoxLayout(self.body)
        self._body_layout.setContentsMargins(14, 0, 0, 0)
        self._body_layout.setSpacing(6)
        self._body_layout.addWidget(self.text)
        self._body_layout.addWidget(self.plot_state)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.toggle)
        layout.addWidget(self.body)
        expanded = QSettings().value(EXPANDED_KEY, True, type=bool)
        self.toggle.setChecked(expanded)
        self._set_expanded(expanded, remember=False)

    @property
    def expanded(self) -> bool:
        return self.toggle.isChecked()

    def _set_expanded(self, expanded: bool, remember: bool = True) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.body.setVisible(expanded)
        if remember:
            QSettings().setValue(EXPANDED_KEY, expanded)
        if expanded:
            self._request_plot()

    # ---- what is shown -----------------------------------------------------
    def show_type(self, type_name: str | None, params: dict | None = None) -> None:
        """Explain `type_name` (None hides the section); `params` are the node's, for the plot."""
        changed_type = type_name != self.type_name
        self.type_name, self.params = type_name, dict(params or {})
        explanation = explain(type_name) if type_name else None
        self.setVisible(explanation is not None)
        if explanation is None:
            return
        if changed_type:
            self.toggle.setText(f"About {type_name}")
            self.text.setText(explanation.to_html())
            self.curves = None
            if self.plot is not None:
                self.plot.clear()
        self._request_plot()

    def _wants_plot(self) -> bool:
        spec = CATALOGUE.get(self.type_name or "")
        return spec is not None and spec.category in _PLOTTED_CATEGORIES

    def _request_plot(self) -> None:
        self._token += 1
        if not self._wants_plot():
            self._show_plot(False, "")
            return
        if not self.expanded:
            return
        token, name, params = self._token, self.type_name, dict(self.params)
        if self.curves is None:
            self.plot_state.setText("Plotting… (the first plot loads the engine)")
            self.plot_state.show()
        self.tasks.submit(lambda: _curves(name, params), lambda curves: self._plotted(token, curves),
                          lambda error: self._failed(token, error))

    def _plotted(self, token: int, curves) -> None:
        if token != self._token:
            return  # the node or its params changed meanwhile
        self.curves = curves
        if curves is None:
            self._show_plot(False, f"{self.type_name} is not a function of one number, so it has no plot.")
            return
        self._ensure_plot()
        self.plot.clear()
        for axis in ("x", "y"):
            self.plot.addLine(**{axis: 0, "pen": {"color": "#555a62", "width": 1}})
        self.plot.setLabel("bottom", curves.x_label)
        self.plot.plot(curves.x, curves.y, pen={"color": theme.ACCENT.name(), "width": 2}, name=curves.y_label)
        self.plot.plot(curves.x, curves.dy, pen={"color": "#6fb3f0", "width": 1.5, "style": Qt.PenStyle.DashLine},
                       name=curves.derivative_label)
        self.plot.enableAutoRange()
        self._show_plot(True, "")

    def _failed(self, token: int, error: BaseException) -> None:
        if token != self._token:
            return
        self.curves = None
        self._show_plot(False, f"No plot: {printable(str(error))}")

    def _show_plot(self, visible: bool, message: str) -> None:
        if self.plot is not None:
            self.plot.setVisible(visible)
        self.plot_state.setText(message)
        self.plot_state.setVisible(bool(message))

    def _ensure_plot(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg

        self.plot = pg.PlotWidget(background="#1d1f23")
        self.plot.setObjectName("explainPlot")
        self.plot.setFixedHeight(PLOT_HEIGHT)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.addLegend(offset=(6, 6))
        self._body_layout.insertWidget(1, self.plot)


def explain_choices(optimizer: QComboBox, schedule: QComboBox) -> None:
    """Give each optimiser and schedule in the Training panel's choosers its explanation as a tooltip (the
    items' and, following the current choice, the combo's own). Schedule items carry their kind as data."""
    for combo, lookup, key in ((optimizer, explain_optimizer, QComboBox.itemText),
                               (schedule, explain_schedule, QComboBox.itemData)):
        for index in range(combo.count()):
            explanation = lookup(key(combo, index))
            if explanation is not None:
                title = html.escape(combo.itemText(index))
                combo.setItemData(index, f"<p style='white-space:normal; width:340px'><b>{title}</b><br>"
                                         f"{explanation.to_html()}</p>", Qt.ItemDataRole.ToolTipRole)

        def follow(_index=None, combo=combo):
            combo.setToolTip(combo.currentData(Qt.ItemDataRole.ToolTipRole) or "")

        combo.currentIndexChanged.connect(follow)
        follow()
