"""The document controller: one open `Project`, its undo stack and its live shape inference.

`DocumentController` adapts the graph's plain events to Qt signals, so widgets
observe the document without knowing about `graphs.events`. It is also the only
place that edits: every edit method checks the change first (refusals are
reported through `message` and never reach the document) and then pushes one
undo command from `gui.commands`. Shape inference is recomputed once per batch
of edits: the graph's `changed` event starts a 0-ms single-shot timer, so a
macro of ten edits recomputes once, after the event loop turns (moves alone
recompute nothing); `result` flushes a pending recompute for callers that need
it at once.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from engine.shapes import InferenceResult, ShapeInference
from graphs.document import Edge, Graph, Node, check_node_id
from graphs.errors import DuplicateNodeError, GraphError, ProjectFormatError
from graphs.layout import layered_layout
from graphs.project import Project
from gui import commands, search_follow
from gui.clipboard import plan_paste
from gui.units import optional
from gui.units.adding import add_instance, is_unit_entry
from gui.units.commands import AddUnit
from gui.units.scope import Scope, UndoStack, scoped_result, still_open
from gui.workbench import gc_policy

UNIT_EVENTS = ("unit_added", "unit_removed", "unit_replaced", "unit_renamed", "unit_changed")


class DocumentController(QObject):
    """Holds the open project; the one door through which the GUI edits it."""

    nodeAdded = Signal(str)
    nodeRemoved = Signal(str)
    edgeAdded = Signal(object)  # Edge
    edgeRemoved = Signal(object)  # Edge
    paramsChanged = Signal(str)
    nodeMoved = Signal(str)
    changed = Signal()
    resultChanged = Signal(object)  # InferenceResult
    projectReset = Signal()  # a different project is now open
    message = Signal(str)  # a sentence for the status bar
    nodeRenamed = Signal(str, str)  # old id, new id: after a rename from the inspector
    trainingOptionsChanged = Signal(str)  # a node was frozen or unfrozen, or its lr_mult changed
    scopeChanged = Signal()  # the canvas now edits another graph: the model or a unit's definition
    unitsChanged = Signal()  # a unit was added, removed, renamed or its definition edited

    def __init__(self, project: Project | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = UndoStack(self)
        self.project: Project | None = None
        self.inference: ShapeInference | None = None
        self._result = InferenceResult()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._recompute)
        self._stale = False  # an edit since the last inference changed more than positions
        self.scope: list[Scope] = []  # the units opened for editing, outermost first; [] = the model
        self._scope_of: dict[int, tuple[Scope, ...]] = {}  # undo stack index -> the scope its command edited
        self._undo_index = 0
        self._scoped = None  # (result, scope, scope_result): worked out once per result and scope
        self.undo_stack.indexChanged.connect(self._follow_undo)
        self.undo_stack.pushed.connect(self._remember_scope)
        self._handlers = {
            "node_added": lambda node: self._structural(self.nodeAdded, node.id),
            "node_removed": lambda node: self._structural(self.nodeRemoved, node.id),
            "edge_added": lambda edge: self._structural(self.edgeAdded, edge),
            "edge_removed": lambda edge: self._structural(self.edgeRemoved, edge),
            "params_changed": lambda node_id, _old, _new: self._structural(self.paramsChanged, node_id),
            "node_moved": lambda node_id, _pos: self.nodeMoved.emit(node_id),
            "training_options_changed": lambda node_id, *_: self.trainingOptionsChanged.emit(node_id),
            "changed": self._on_changed,
        }
        self.set_project(project or Project())

    # ---- the open project ---------------------------------------------
    @property
    def graph(self) -> Graph:
        """The model (training, export and the summary read it), whatever the canvas shows."""
        return self.project.graph

    @property
    def scope_graph(self) -> Graph:
        """The graph the canvas shows and edits: the model, or the definition of the unit opened last."""
        return self.scope[-1].graph if self.scope else self.project.graph

    @property
    def scope_result(self) -> InferenceResult:
        """`result` as the canvas sees it: inside a unit, keyed by the ids of the unit's own nodes."""
        result, scope = self.result, tuple(self.scope)
        if not scope:
            return result
        if self._scoped is None or self._scoped[0] is not result or self._scoped[1] != scope:
            self._scoped = (result, scope, scoped_result(result, scope[-1], self.graph))
        return self._scoped[2]

    def enter_scope(self, scope: list[Scope]) -> None:
        """Show and edit another graph: `scope` lists the units opened, outermost first ([]: the model)."""
        scope = list(scope)
        if scope == self.scope:
            return
        self._watch(self.scope_graph, False)
        self.scope = scope
        self._watch(self.scope_graph, True)
        self.scopeChanged.emit()

    def _watch(self, graph: Graph, on: bool) -> None:
        for name, handler in self._handlers.items():
            event = getattr(graph, name)
            event.sub(handler) if on else event.unsub(handler)

    def _watch_units(self, on: bool) -> None:
        """The model's unit events, whatever the canvas shows: a unit added, removed, renamed or edited
        (also by an undo made elsewhere) changes the model's shapes."""
        for name in UNIT_EVENTS:
            event = getattr(self.project.graph, name)
            event.sub(self._unit_changed) if on else event.unsub(self._unit_changed)

    def _unit_changed(self, *_args) -> None:
        if self.scope and still_open(self.project.graph, self.scope) != self.scope:  # renamed or removed
            self.enter_scope(still_open(self.project.graph, self.scope))
        self._stale = True
        if not self._timer.isActive():
            self._timer.start()
        self.unitsChanged.emit()

    def _remember_scope(self) -> None:
        index = self.undo_stack.index()
        self._scope_of = {i: scope for i, scope in self._scope_of.items() if i < index}
        self._scope_of[index - 1] = tuple(self.scope)
        self._undo_index = index

    def _follow_undo(self, index: int) -> None:
        """Undo and redo show the graph the step edits: undoing an edit made inside a unit opens the unit."""
        before, self._undo_index = self._undo_index, index
        if self.undo_stack.pushing:
            return
        scope = self._scope_of.get(index if index < before else index - 1, tuple(self.scope))
        self.enter_scope(still_open(self.project.graph, scope))

    def set_project(self, project: Project) -> None:
        """Show another project: a fresh undo stack and inference, everything redrawn."""
        with gc_policy.paused():  # its items and results all live on: no collection while they are made
            self._set_project(project)

    def _set_project(self, project: Project) -> None:
        if self.project is not None:
            self._watch(self.scope_graph, False)
            self._watch_units(False)
            self.inference.close()
        self.project = project
        self.scope = []
        self.inference = ShapeInference(project.graph)
        self._watch(self.graph, True)
        self._watch_units(True)
        self._scope_of.clear()  # before the stack empties: its index change must open no old scope
        self._undo_index = 0
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self._timer.stop()
        self._stale = False
        self._result = self.inference.result()
        self.projectReset.emit()
        self.resultChanged.emit(self._result)

    @property
    def result(self) -> InferenceResult:
        """The latest inference, recomputed first if an edit is pending."""
        if self._timer.isActive():
            self._timer.stop()
            self._recompute()
        return self._result

    def flush(self) -> InferenceResult:
        return self.result

    def _structural(self, signal, arg) -> None:
        self._stale = True
        signal.emit(arg)

    def _on_changed(self) -> None:
        self.changed.emit()
        if self._stale and not self._timer.isActive():  # moving nodes changes no shape
            self._timer.start()

    def _recompute(self) -> None:
        self._stale = False
        self._result = self.inference.result()
        self.resultChanged.emit(self._result)

    def _refuse(self, why: str) -> bool:
        self.message.emit(why)
        return False

    # ---- edits (each one undo command) ---------------------------------
    def add_node(self, type_name: str, position=(0.0, 0.0), params: dict | None = None) -> str:
        """Add a node of `type_name` with its top-left at `position`; returns its id.
        The palette's drop, double-click and the quick-add popup all end here. A unit's name (or a
        library unit's `library:Name`) adds an instance; "" when that is refused (`message` says why)."""
        if is_unit_entry(self.graph, type_name):
            return add_instance(self, type_name, position)
        node_id = self.scope_graph.new_id(type_name)
        params = self.scope_graph.check_params(self.scope_graph.spec_of(type_name, params, node_id), params, node_id)
        node = Node(node_id, type_name, params, (float(round(position[0])), float(round(position[1]))))
        self.undo_stack.push(commands.AddNode(self.scope_graph, node))
        return node_id

    def remove(self, node_ids=(), edges=()) -> bool:
        """Delete nodes (with their wires) and wires, as one step."""
        node_ids = [n for n in node_ids if self.scope_graph.has_node(n)]
        edges = [e for e in edges if self.scope_graph.has_edge(e)]
        if not node_ids and not edges:
            return False
        count = len(node_ids) + len([e for e in edges if e.source not in node_ids and e.target not in node_ids])
        commands.push_macro(self.undo_stack, f"Delete {count} item{'s' if count != 1 else ''}",
                            [*optional.before_remove(self, node_ids),  # an optional node's entry goes with it
                             *search_follow.before_remove(self, node_ids),  # and a node's sweep targets
                             *commands.delete(self.scope_graph, node_ids, edges)])
        return True

    def _moves(self, positions: dict) -> dict:
        """node id -> (old, new) for the nodes whose rounded position changes."""
        moves = {}
        for node_id, new in positions.items():
            old = self.scope_graph.node(node_id).position
            new = (float(round(new[0])), float(round(new[1])))
            if new != old:
                moves[node_id] = (old, new)
        return moves

    def move_nodes(self, positions: dict) -> bool:
        """Move nodes to new top-left positions (only those that changed), as one step."""
        moves = self._moves(positions)
        if moves:
            self.undo_stack.push(commands.MoveNodes(self.scope_graph, moves))
        return bool(moves)

    def auto_layout(self, sizes: dict | None = None) -> bool:
        """Place every node with `graphs.layout.layered_layout`, as one step."""
        if not len(self.scope_graph):
            return False
        nodes = self.scope_graph.nodes()
        origin = (min(n.position[0] for n in nodes), sum(n.position[1] for n in nodes) / len(nodes))
        moves = self._moves(layered_layout(self.scope_graph, sizes, origin=origin))
        if moves:
            self.undo_stack.push(commands.AutoLayout(self.scope_graph, moves))
        return bool(moves)

    def connect(self, source: str, source_port: str, target: str, target_port: str) -> bool:
        """Wire source.port -> target.port; a refused wire is not made and `message` says why."""
        ok, why = self.scope_graph.can_connect(source, source_port, target, target_port)
        if not ok:
            return self._refuse(f"Cannot connect: {why}")
        self.undo_stack.push(commands.Connect(self.scope_graph, Edge(source, target, source_port, target_port)))
        self.message.emit(f"Connected {source}.{source_port} → {target}.{target_port}")
        return True

    def can_reconnect(self, old: Edge, new: Edge) -> tuple[bool, str]:
        """Would `new` be accepted once `old` is gone?"""
        return self.scope_graph.can_connect(new.source, new.source_port, new.target, new.target_port, replacing=old)

    def reconnect(self, old: Edge, new: Edge) -> bool:
        """Replace wire `old` by `new` in one step (dragging a wire's end to another port)."""
        if old == new:
            return False
        ok, why = self.can_reconnect(old, new)
        if not ok:
            return self._refuse(f"Cannot connect: {why}")
        commands.push_macro(self.undo_stack, f"Reconnect '{new.source}' to '{new.target}.{new.target_port}'",
                            commands.reconnect(self.scope_graph, old, new))
        return True

    def disconnect(self, edges) -> bool:
        return self.remove((), edges)

    def set_params(self, node_id: str, params: dict) -> bool:
        """Replace a node's params. Raises GraphError (after saying why) when the document refuses
        them; the document is then unchanged. Returns False when nothing would change."""
        old = self.scope_graph.node(node_id).params
        scratch = self.scope_graph.copy()
        try:
            scratch.set_params(node_id, params)
        except GraphError as error:
            self.message.emit(error.message)
            raise
        new = scratch.node(node_id).params
        if new == old:
            return False
        self.undo_stack.push(commands.SetParams(self.scope_graph, node_id, old, new))
        return True

    def set_param(self, node_id: str, name: str, value) -> bool:
        """Set one param; a value equal to the current one (explicit or default) is no edit."""
        node = self.scope_graph.node(node_id)
        try:
            coerced = node.spec.param(name).coerce(value, node_id)
        except KeyError:
            raise GraphError(f"{node.type} has no param '{name}'", node=node_id) from None
        except GraphError as error:
            self.message.emit(error.message)
            raise
        if coerced == node.resolved_params()[name]:
            return False
        return self.set_params(node_id, {**node.params, name: coerced})

    def set_training_options(self, node_ids, trainable: bool | None = None, lr_mult: float | None = None) -> bool:
        """Freeze or unfreeze nodes, or set their lr_mult, as one step. Raises GraphError (after saying why)
        for a value the document refuses; False when nothing would change."""
        node_ids = [n for n in node_ids if self.scope_graph.has_node(n)]
        scratch = self.scope_graph.copy()
        try:
            for node_id in node_ids:
                scratch.set_training_options(node_id, trainable, lr_mult)
        except GraphError as error:
            self.message.emit(error.message)
            raise
        if scratch.snapshot()["training_options"] == self.scope_graph.snapshot()["training_options"]:
            return False
        self.undo_stack.push(commands.SetTrainingOptions(self.scope_graph, node_ids, trainable, lr_mult))
        return True

    def rename_node(self, node_id: str, new_id: str) -> bool:
        """Give `node_id` the id `new_id` (surrounding spaces ignored), as one step. Raises GraphError
        (after saying why) for an id that is taken or cannot name a node; False when unchanged."""
        new_id = new_id.strip()
        if new_id == node_id:
            return False
        try:
            check_node_id(new_id)
            if self.scope_graph.has_node(new_id):
                raise DuplicateNodeError(f"a node with id '{new_id}' already exists", node=node_id)
        except GraphError as error:
            self.message.emit(error.message)
            raise
        rename = commands.RenameNode(self.scope_graph, node_id, new_id)
        commands.push_macro(self.undo_stack, rename.text(),  # an optional node's entry follows it
                            [rename, *optional.after_rename(self, node_id, new_id),
                             *search_follow.after_rename(self, node_id, new_id)])
        self.nodeRenamed.emit(node_id, new_id)
        return True

    def paste(self, data: dict, offset=(40.0, 40.0), text: str = "Paste") -> list[str]:
        """Add the nodes and inner wires of clipboard `data`, shifted by `offset`, with fresh ids."""
        try:
            plan = plan_paste(self.scope_graph, data, offset)
        except (GraphError, ProjectFormatError) as error:
            self._refuse(f"Cannot paste: {error}")
            return []
        if not plan.nodes:
            return []
        count = len(plan.nodes)
        units = [AddUnit(self.graph, unit) for unit in plan.units]  # the units it uses that the project lacks
        commands.push_macro(self.undo_stack, f"{text} {count} node{'s' if count != 1 else ''}",
                            [*units, *commands.paste(self.scope_graph, plan.nodes, plan.edges)])
        return [node.id for node in plan.nodes]
