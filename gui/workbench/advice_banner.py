"""The training advisor's advice as banners above the training curves.

Each piece of advice (`engine.training.advisor.Advice`, as a dict) is one row: what the advisor saw,
a "Show" button that marks its epoch on the curves (and selects its node on the canvas), and one
button per fix. A fix applies as ONE undo step: a training setting through `TrainingSettings.update`,
or "insert Dropout(0.3) after fc1" as a macro of document commands (add the node, rewire).
"""

from __future__ import annotations

import copy

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from graphs.document import Edge, Node
from graphs.errors import printable

TITLES = {"overfitting": "Overfitting", "underfitting": "Underfitting", "divergence": "Divergence",
          "lr_too_high": "Learning rate too high", "lr_too_low": "Learning rate too low", "dead_relu": "Dead ReLUs",
          "vanishing_gradients": "Vanishing gradients", "exploding_gradients": "Exploding gradients",
          "class_imbalance": "Class imbalance"}
MAX_FIXES = 3
MARK_COLOUR = "#f0a030"
MAX_HEIGHT = 150  # about one and a half pieces of advice; more scroll
MIN_HEIGHT = 110  # one piece of advice with its buttons, however short the dock


def as_dict(advice) -> dict:
    return advice if isinstance(advice, dict) else advice.as_dict()


def apply_fix(document, settings, fix: dict) -> bool:
    """Apply one fix (see `engine.training.advisor`) as one undo step; False when it no longer applies."""
    title = f"Advisor: {fix['title']}"
    if fix.get("op") == "set_training":
        training = copy.deepcopy(settings.training)
        *path, last = fix["key"]
        place = training
        for key in path:
            place = place.setdefault(key, {})
        place[last] = fix["value"]
        return settings.update(training, title)
    if fix.get("op") == "insert_after":
        return insert_after(document, fix["node"], fix["type"], fix.get("params") or {}, title)
    return False


def insert_after(document, node_id: str, type_name: str, params: dict, text: str) -> bool:
    """Insert a new `type_name` node on every wire out of `node_id`'s "out" port, as one undo step."""
    from gui import commands

    graph = document.graph
    if not graph.has_node(node_id):
        document.message.emit(f"Cannot apply the fix: there is no node {node_id} any more")
        return False
    outs = [e for e in graph.out_edges(node_id) if e.source_port == "out"]
    x, y = graph.node(node_id).position
    new = Node(graph.new_id(type_name), type_name, params, (x + 40.0, y + 120.0))
    steps = [*(commands.Disconnect(graph, e) for e in outs), commands.AddNode(graph, new),
             commands.Connect(graph, Edge(node_id, new.id, "out", "in"))]
    steps += [commands.Connect(graph, Edge(new.id, e.target, "out", e.target_port)) for e in outs]
    commands.push_macro(document.undo_stack, text, steps)
    return True


class AdviceRow(QFrame):
    """One piece of advice: its title and message, Show, and its fixes."""

    def __init__(self, advice: dict, banner: AdviceBanner):
        super().__init__()
        self.advice = advice
        self.setObjectName("adviceRow")
        self.setStyleSheet("#adviceRow { background: #3a3020; border: 1px solid #8a6a2a; border-radius: 4px; }")
        text = QLabel(f"<b>{TITLES.get(advice['kind'], advice['kind'])}</b> — {_escape(printable(advice['message']))}")
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        buttons = QGridLayout()  # two columns: a narrow dock wraps them instead of scrolling sideways
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setHorizontalSpacing(4)
        buttons.setVerticalSpacing(2)
        self.show_button = QPushButton("Show")
        self.show_button.setToolTip("Mark the epoch this is about on the curves, and select its node")
        self.show_button.setEnabled(advice.get("epoch") is not None or advice.get("node") is not None)
        self.show_button.clicked.connect(lambda: banner.show_evidence(advice))
        buttons.addWidget(self.show_button, 0, 0)
        self.fix_buttons = []
        for fix in advice.get("fixes", [])[:MAX_FIXES]:
            button = QPushButton(printable(fix["title"]))
            button.setToolTip("Apply this fix to the project (one undo step)")
            button.clicked.connect(lambda _=False, f=fix: banner.apply(f))
            self.fix_buttons.append(button)
            buttons.addWidget(button, len(self.fix_buttons) // 2, len(self.fix_buttons) % 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 3, 8, 3)
        layout.setSpacing(2)
        layout.addWidget(text)
        layout.addLayout(buttons)
        buttons.setColumnStretch(2, 1)


class AdviceBanner(QWidget):
    """The advice of the run shown on the curves; `workbench` gives the document, settings, plots and canvas."""

    def __init__(self, workbench, parent: QWidget | None = None):
        super().__init__(parent)
        self.workbench = workbench
        self.rows: list[AdviceRow] = []
        self._marks: list = []
        self._shown: list[dict] = []
        self.list = QWidget()
        self.list.setLayout(QVBoxLayout())
        self.list.layout().setContentsMargins(0, 0, 0, 0)
        self.list.layout().setSpacing(3)
        scroll = QScrollArea()  # several pieces of advice scroll: the curves keep their room
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.list)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(scroll)
        self.setMaximumHeight(MAX_HEIGHT)
        self.hide()

    def clear(self) -> None:
        self.show_advice([])
        self._unmark()

    def advised(self, event) -> None:
        """An `Advised` event, while the run trains."""
        self.show_advice(list(event.advice))

    def show_advice(self, advice: list) -> None:
        advice = [as_dict(a) for a in advice]
        if advice == self._shown:
            return
        self._shown = advice
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = [AdviceRow(a, self) for a in advice]
        for row in self.rows:
            self.list.layout().addWidget(row)
        self.setVisible(bool(self.rows))
        if self.rows:  # room for the advice (up to MAX_HEIGHT) before the curves take the rest
            self.setMinimumHeight(MIN_HEIGHT)

    def apply(self, fix: dict) -> None:
        wb = self.workbench
        if apply_fix(wb.document, wb.settings, fix):
            wb.window.show_message(f"Applied: {printable(fix['title'])} (Edit > Undo takes it back)")

    def show_evidence(self, advice: dict) -> None:
        """Mark the advice's epoch (or epochs) on the curves and select its node on the canvas."""
        self._unmark()
        epochs = [e for e in (advice.get("evidence") or {}).get("epochs", []) if isinstance(e, int)]
        if advice.get("epoch") is not None and advice["epoch"] not in epochs:
            epochs.insert(0, advice["epoch"])
        plots = self.workbench.plots
        for i, epoch in enumerate(epochs[:2]):
            self._marks.append(mark_epoch(plots, epoch, f"epoch {epoch}" if i == 0 else ""))
        node = advice.get("node")
        scene = getattr(self.workbench.window, "scene", None)
        if node and scene is not None and scene.node_item(node) is not None:
            scene.select_nodes([node])

    def _unmark(self) -> None:
        for plot, line in self._marks:
            plot.removeItem(line)
        self._marks = []


def mark_epoch(plots, epoch: int, label: str):
    """A vertical line on the loss plot at the end of `epoch` (in steps or epochs, as the x axis shows)."""
    import pyqtgraph as pg

    series = plots.series
    x = float(epoch)
    if plots.x_mode.currentText() == "step" and series is not None and series.batches_per_epoch:
        x = epoch * series.batches_per_epoch
    line = pg.InfiniteLine(pos=x, angle=90, movable=False, pen=pg.mkPen(MARK_COLOUR, width=2),
                           label=label or None, labelOpts={"position": 0.9, "color": MARK_COLOUR})
    plots.loss_plot.addItem(line, ignoreBounds=True)
    return plots.loss_plot, line


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attach(workbench) -> tuple[AdviceBanner, object]:
    """The advice banner above the curves and the health overlay on the canvas, wired to the run controller."""
    from gui.canvas.health_overlay import HealthOverlay

    banner = AdviceBanner(workbench)
    workbench.curves.layout().addWidget(banner)
    overlay = HealthOverlay(workbench.window.scene)
    c = workbench.controller
    c.runStarted.connect(lambda _event: (banner.clear(), overlay.clear()))
    c.healthSampled.connect(overlay.show_sample)
    c.advised.connect(banner.advised)
    c.runFinished.connect(lambda result: banner.show_advice(getattr(result, "advice", []) or []))
    return banner, overlay
