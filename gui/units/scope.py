"""Which graph the canvas edits: the model, or the definition of a unit opened from an instance.

A `Scope` is one level opened (double-clicking an instance opens its unit; inside it, another
instance opens a nested one). The controller keeps a list of them, outermost first, and edits the
graph of the last. `scoped_result` shows the model's inference as seen from inside a unit: the
expanded model names an inner node `layer1.0.conv1`, the unit's own graph names it `conv1`.
`UndoStack` tells the controller when a step was pushed (as opposed to redone), so undo can
open the graph its step edited.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtGui import QUndoStack

from engine.shapes import InferenceResult
from graphs.document import Graph
from gui.units import core


@dataclass(frozen=True, eq=False)
class Scope:
    """One opened unit: its name, its definition's graph, and the instance it was opened from
    (`prefix`: that instance's id in the expanded model, e.g. `layer1.0`; None: opened from the
    palette, so no instance's shapes are shown)."""

    unit: str
    graph: Graph
    label: str = ""
    prefix: str | None = None

    def __eq__(self, other) -> bool:
        return (isinstance(other, Scope) and (self.unit, self.label, self.prefix) == (other.unit, other.label, other.prefix)
                and self.graph is other.graph)

    def __hash__(self) -> int:
        return hash((self.unit, self.prefix))


def still_open(model: Graph, scope) -> list[Scope]:
    """The leading part of `scope` whose units still exist (found by their graph, under their names of
    now: a unit may have been renamed since)."""
    names = {id(model.units[name].graph): name for name in model.units}
    kept = []
    for level in scope:
        name = names.get(id(level.graph))
        if name is None or core.unit_graph(model, name) is not level.graph:
            break
        kept.append(Scope(name, level.graph, level.label, level.prefix))
    return kept


def scoped_result(result: InferenceResult, scope: Scope | None, model: Graph) -> InferenceResult:
    """The part of `result` inside the instance `scope` was opened from, keyed by the unit's own node
    ids: its layers' shapes and errors from the inference on the expanded model, and for an instance
    nested in it, that instance's outputs and totals."""
    if scope is None:
        return result
    flat = getattr(result, "flat", None)
    if scope.prefix is None or flat is None:
        return InferenceResult()
    head = scope.prefix + "."

    def inner(flat_id):
        if isinstance(flat_id, str) and flat_id.startswith(head) and "." not in flat_id[len(head):]:
            return flat_id[len(head):]
        return None

    info = {inner(k): v for k, v in flat.info.items() if inner(k)}
    inputs = {inner(k): v for k, v in flat.inputs.items() if inner(k)}
    info.update(core.nested_info(model, scope.graph, result, head))
    info.update(_port_info(scope.graph, flat, head, info))
    errors = []
    for error in flat.errors:
        node = inner(error.node)
        if node:
            moved = copy.copy(error)
            moved.node = node
            errors.append(moved)
    return InferenceResult(info, inputs, errors)


def _port_info(graph: Graph, flat, head: str, info: dict) -> dict:
    """What a unit's port nodes show: an input port the shape it passes in, an output port the shape
    it passes out (the expanded model has no port nodes: its wires run through them)."""
    from engine.ops.base import NodeInfo

    ports = {}
    for port in core.input_ports(graph):
        for edge in graph.out_edges(port):
            spec = flat.inputs.get(head + edge.target, {}).get(edge.target_port)
            if spec is not None:
                ports[port] = NodeInfo({"out": spec}, 0, 0)
                break
    for port in core.output_ports(graph):
        edge = graph.edge_into(port, "in")
        spec = info[edge.source].outputs.get(edge.source_port) if edge and edge.source in info else None
        if spec is not None:
            ports[port] = NodeInfo({"in": spec}, 0, 0)
    return ports


class UndoStack(QUndoStack):
    """A QUndoStack that says when a step was pushed (`pushed`, once per step, after a macro ends)
    and, while `pushing`, that the index moves because of a push rather than an undo or redo."""

    pushed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.pushing = False
        self._depth = 0

    def push(self, command) -> None:
        self.pushing = True
        try:
            super().push(command)
        finally:
            self.pushing = self._depth > 0
        if not self._depth:
            self.pushed.emit()

    def beginMacro(self, text: str) -> None:
        self._depth += 1
        self.pushing = True
        super().beginMacro(text)

    def endMacro(self) -> None:
        try:
            super().endMacro()
        finally:
            self._depth -= 1
            self.pushing = self._depth > 0
        if not self._depth:
            self.pushed.emit()
