"""One-click fixes for shape errors in the editor: the lightbulb on a node's error badge, the
"Fix" entries of its context menu and the inspector's "Fix…" button.

The fixes are `engine.fixes`' (each checked to remove its error and introduce none); choosing
one applies its edits as ONE undo step, through the same undo commands as any other edit.
`FixMarker` looks for fixes after each inference, off the typing path (a zero-delay timer), only
for graphs small enough to check quickly and within a time budget, and tells each erroneous node
whether it has any; the context menu looks for a node's fixes whatever the graph's size.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QMenu

from engine.fixes import Fix, apply_edits, suggest
from graphs.document import Edge, Node
from graphs.errors import GraphError, printable
from gui import commands, search_follow
from gui.units import optional

LIGHTBULB_COLOUR = QColor("#e8b931")
MAX_MARKED_NODES = 250  # above this a graph's fixes are looked for only when a menu asks
MAX_MARKED_ERRORS = 8
MARK_BUDGET_S = 0.25  # measured: a node's fixes on a 200-node chain take about 0.1 s on a 2-core machine


def paint_lightbulb(painter: QPainter, centre: QPointF, radius: float, colour: QColor = LIGHTBULB_COLOUR) -> None:
    """A lightbulb drawn with shapes (no emoji font needed): a glass, a neck and a base, `radius` high."""
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    glass = radius * 0.62
    painter.drawEllipse(QPointF(centre.x(), centre.y() - radius * 0.28), glass, glass)
    neck = QRectF(centre.x() - glass * 0.55, centre.y() + radius * 0.1, glass * 1.1, radius * 0.42)
    painter.drawRect(neck)
    painter.setPen(QPen(colour.darker(180), max(1.0, radius * 0.14)))
    for y in (0.62, 0.82):
        painter.drawLine(QPointF(neck.left(), centre.y() + radius * y), QPointF(neck.right(), centre.y() + radius * y))
    painter.restore()


def lightbulb_icon(size: int = 16) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    paint_lightbulb(painter, QPointF(size / 2, size / 2), size / 2)
    painter.end()
    return QIcon(pixmap)


def fixes_for_node(controller, node_id: str) -> list[Fix]:
    """The verified fixes for every error on `node_id`, in the order of its errors."""
    result = controller.scope_result
    fixes: list[Fix] = []
    slow = not quick_enough(controller)
    if slow:  # a large graph: each try infers all of it
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        for error in result.errors_for(node_id):
            fixes += [f for f in suggest(controller.scope_graph, result, error) if f.title not in {g.title for g in fixes}]
    finally:
        if slow:
            QApplication.restoreOverrideCursor()
    return fixes


def quick_enough(controller) -> bool:
    """Whether the open graph is small enough to look for fixes after every edit."""
    return len(controller.scope_graph) <= MAX_MARKED_NODES and len(controller.scope_result.errors) <= MAX_MARKED_ERRORS


def _steps(graph, edit: dict):
    """The undo command for one edit of a fix, built when the edits before it are done."""
    op = edit["op"]
    if op == "add_node":
        node = Node(edit["id"], edit["type"], dict(edit.get("params") or {}), tuple(edit.get("position", (0, 0))))
        return commands.AddNode(graph, node)
    if op == "remove_node":
        return commands.RemoveNodes(graph, [edit["node"]])
    if op in ("connect", "disconnect"):
        edge = Edge(edit["source"], edit["target"], edit["source_port"], edit["target_port"])
        return commands.Connect(graph, edge) if op == "connect" else commands.Disconnect(graph, edge)
    if op == "set_params":
        old = graph.node(edit["node"]).params
        return commands.SetParams(graph, edit["node"], old, {**old, **edit["params"]})
    raise GraphError(f"unknown edit {op!r}")


def apply_fix(controller, fix: Fix) -> bool:
    """Apply `fix` to the open document as one undo step named after it; nothing changes (and the
    status bar says why) when the document changed since it was offered and it no longer applies."""
    try:
        apply_edits(controller.scope_graph.copy(), fix.edits)  # tried first: a failed push would leave half a step
    except GraphError as error:
        controller.message.emit(f"the fix no longer applies: {printable(error.message)}")
        return False
    gone = [e["node"] for e in fix.edits if e["op"] == "remove_node"]
    gone = [n for n in gone if n not in {e["id"] for e in fix.edits if e["op"] == "add_node"}]  # not switched
    stack = controller.undo_stack
    stack.beginMacro(f"Fix: {printable(fix.title)}")
    try:
        for step in [*optional.before_remove(controller, gone), *search_follow.before_remove(controller, gone)]:
            stack.push(step)  # what names a removed node goes with it, as on Delete
        for edit in fix.edits:
            stack.push(_steps(controller.scope_graph, edit))
    finally:
        stack.endMacro()
    return True


def add_fix_actions(menu: QMenu, controller, node_id: str, fixes: list[Fix] | None = None) -> int:
    """Add one action per fix of `node_id` to `menu`; how many."""
    fixes = fixes_for_node(controller, node_id) if fixes is None else fixes
    for fix in fixes:
        action = QAction(lightbulb_icon(), printable(fix.title), menu)
        action.triggered.connect(lambda _checked=False, chosen=fix: apply_fix(controller, chosen))
        menu.addAction(action)
    return len(fixes)


def fix_menu(controller, node_id: str, parent=None) -> QMenu:
    """A menu of the node's fixes (one disabled line when it has none)."""
    menu = QMenu("Fix", parent)
    if not add_fix_actions(menu, controller, node_id):
        menu.addAction("No suggested fix").setEnabled(False)
    return menu


class FixMarker(QObject):
    """Marks the scene's erroneous nodes that have fixes (the lightbulb), after each inference. Only the
    nodes with errors now, and those marked before, are looked at: one edit on a 10,000-node graph
    touches a handful of items, not all of them."""

    def __init__(self, controller, scene, parent=None):
        super().__init__(parent)
        self.controller, self.scene = controller, scene
        self._marked: set[str] = set()  # the node ids whose items were given the lightbulb
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self.mark)
        controller.resultChanged.connect(lambda _result: self._timer.start())
        controller.scopeChanged.connect(self._timer.start)
        self._timer.start()

    def _hook(self, item) -> None:
        item.fix_menu_requested = lambda screen_pos, node_id=item.node_id: self.open_menu(node_id, screen_pos)

    def mark(self) -> None:
        result = self.controller.scope_result
        small = quick_enough(self.controller)
        deadline = time.monotonic() + MARK_BUDGET_S  # the GUI waits meanwhile: nodes past it get no lightbulb
        marked, self._marked = self._marked, set()
        for node_id in [n for n in result.errors_by_node if n is not None] + sorted(marked - set(result.errors_by_node)):
            item = self.scene.node_item(node_id)
            if item is None:  # removed, renamed, or outside the graph on the canvas
                continue
            look = small and result.errors_for(node_id) and time.monotonic() < deadline
            fixable = bool(look and fixes_for_node(self.controller, node_id))
            if fixable:  # only a lightbulb is clicked: an item without one needs no hook
                self._hook(item)
                self._marked.add(node_id)
            item.set_fixable(fixable)

    def open_menu(self, node_id: str, screen_pos) -> None:
        fix_menu(self.controller, node_id, self.scene.views()[0] if self.scene.views() else None).exec(screen_pos)
