"""Undo commands: each one edit, done and undone through the public `Graph` API only.

Because undo calls the same document methods as the edit, it fires the same
events, and everything that observes the document (scene, inspector, summary,
shape inference) follows without knowing about undo. Commands never touch Qt
items. Macros (paste, delete, reconnect) are lists of these steps pushed
between `beginMacro` and `endMacro` by `push_macro`, so they undo as one.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from graphs.document import Edge, Graph, Node, renamed


def _ends(edge: Edge) -> tuple[str, str, str, str]:
    return edge.source, edge.target, edge.source_port, edge.target_port


def _restore(graph: Graph, node: Node, index: int | None = None) -> None:
    """Add `node` back exactly as it was: params, position, trainable and lr_mult (at `index` in the node order)."""
    graph.add_node(node.type, node.params, node.id, node.position, node.trainable, node.lr_mult, index=index)


class AddNode(QUndoCommand):
    """Add one node with a given id (chosen by the caller, so redo recreates the same node), last in
    the node order or at `index` in it."""

    def __init__(self, graph: Graph, node: Node, index: int | None = None):
        super().__init__(f"Add {node.type} '{node.id}'")
        self.graph, self.node, self.index = graph, node, index

    def redo(self) -> None:
        _restore(self.graph, self.node, self.index)

    def undo(self) -> None:
        self.graph.remove_node(self.node.id)


class RemoveNodes(QUndoCommand):
    """Remove nodes and every wire touching them; undo restores nodes, then wires, exactly."""

    def __init__(self, graph: Graph, node_ids):
        ids = list(dict.fromkeys(node_ids))
        super().__init__(f"Remove '{ids[0]}'" if len(ids) == 1 else f"Remove {len(ids)} nodes")
        self.graph = graph
        self.nodes = [graph.node(node_id) for node_id in ids]
        self.places = graph.places_of(ids)  # the node order decides forward()'s
        self.edges = graph.edges_of(ids)

    def redo(self) -> None:
        for node in self.nodes:
            self.graph.remove_node(node.id)

    def undo(self) -> None:
        for node in sorted(self.nodes, key=lambda n: self.places[n.id]):  # lowest first: each lands in place
            _restore(self.graph, node, self.places[node.id])
        for edge in self.edges:
            self.graph.connect(*_ends(edge), check=False)


class MoveNodes(QUndoCommand):
    """Move nodes from old to new positions: one command per drag (or per auto-layout)."""

    def __init__(self, graph: Graph, moves: dict, text: str = ""):
        """`moves` maps node id -> (old position, new position)."""
        default = f"Move '{next(iter(moves))}'" if len(moves) == 1 else f"Move {len(moves)} nodes"
        super().__init__(text or default)
        self.graph, self.moves = graph, dict(moves)

    def redo(self) -> None:
        for node_id, (_old, new) in self.moves.items():
            self.graph.move_node(node_id, new)

    def undo(self) -> None:
        for node_id, (old, _new) in self.moves.items():
            self.graph.move_node(node_id, old)


class AutoLayout(MoveNodes):
    """Every node placed by `graphs.layout`, as one undoable step."""

    def __init__(self, graph: Graph, moves: dict):
        super().__init__(graph, moves, "Auto-layout")


class RenameNode(QUndoCommand):
    """Give a node another id. The document has no rename, so the node is removed and added again
    under the new id with the same type, params, position, place in the node order and wires; everything that observes the
    document follows it as it follows any removal and addition."""

    def __init__(self, graph: Graph, old_id: str, new_id: str):
        super().__init__(f"Rename '{old_id}' to '{new_id}'")
        self.graph, self.old_id, self.new_id = graph, old_id, new_id

    def _rename(self, source: str, target: str) -> None:
        node, place = self.graph.node(source), self.graph.index_of(source)
        edges = self.graph.edges_of((source,))
        self.graph.remove_node(source)
        self.graph.add_node(node.type, node.params, target, node.position, node.trainable, node.lr_mult,
                            index=place)
        for edge in edges:
            self.graph.connect(*_ends(renamed(edge, {source: target})), check=False)
        for other in self.graph.nodes():  # nodes that use its weights follow it to its new id
            if other.shares == source:
                self.graph.set_param(other.id, "shares", target)

    def redo(self) -> None:
        self._rename(self.old_id, self.new_id)

    def undo(self) -> None:
        self._rename(self.new_id, self.old_id)


class Connect(QUndoCommand):
    """Add one wire (checked by the document on every redo)."""

    def __init__(self, graph: Graph, edge: Edge):
        super().__init__(f"Connect '{edge.source}' to '{edge.target}.{edge.target_port}'")
        self.graph, self.edge = graph, edge

    def redo(self) -> None:
        self.graph.connect(*_ends(self.edge))

    def undo(self) -> None:
        self.graph.disconnect(self.edge)


class Disconnect(QUndoCommand):
    """Remove one wire; undo puts back exactly that wire (unchecked: it existed before)."""

    def __init__(self, graph: Graph, edge: Edge):
        super().__init__(f"Disconnect '{edge.source}' from '{edge.target}.{edge.target_port}'")
        self.graph, self.edge = graph, edge

    def redo(self) -> None:
        self.graph.disconnect(self.edge)

    def undo(self) -> None:
        self.graph.connect(*_ends(self.edge), check=False)


class SetParams(QUndoCommand):
    """Replace a node's params (old and new are the canonical dicts the document holds)."""

    def __init__(self, graph: Graph, node_id: str, old: dict, new: dict):
        changed = sorted(k for k in set(old) | set(new) if old.get(k, ...) != new.get(k, ...))
        what = ", ".join(changed) if changed else "params"
        super().__init__(f"Set {what} of '{node_id}'")
        self.graph, self.node_id, self.old, self.new = graph, node_id, dict(old), dict(new)

    def redo(self) -> None:
        self.graph.set_params(self.node_id, self.new)

    def undo(self) -> None:
        self.graph.set_params(self.node_id, self.old)


class SetTrainingOptions(QUndoCommand):
    """Freeze or unfreeze nodes and set their learning-rate multiplier (None keeps a value as it is)."""

    def __init__(self, graph: Graph, node_ids, trainable: bool | None = None, lr_mult: float | None = None):
        ids = list(dict.fromkeys(node_ids))
        what = (f"Set lr_mult {lr_mult:g}" if trainable is None
                else "Freeze" if not trainable else "Unfreeze")
        super().__init__(f"{what} '{ids[0]}'" if len(ids) == 1 else f"{what} {len(ids)} nodes")
        self.graph, self.trainable, self.lr_mult = graph, trainable, lr_mult
        self.old = {node_id: (graph.node(node_id).trainable, graph.node(node_id).lr_mult) for node_id in ids}

    def redo(self) -> None:
        for node_id in self.old:
            self.graph.set_training_options(node_id, self.trainable, self.lr_mult)

    def undo(self) -> None:
        for node_id, (trainable, lr_mult) in self.old.items():
            self.graph.set_training_options(node_id, trainable, lr_mult)


def paste(graph: Graph, nodes: list[Node], edges: list[Edge]) -> list[QUndoCommand]:
    """The steps of a paste: add every node, then the wires between them."""
    return [*(AddNode(graph, node) for node in nodes), *(Connect(graph, edge) for edge in edges)]


def delete(graph: Graph, node_ids, edges) -> list[QUndoCommand]:
    """The steps of a delete: loose wires first, then the nodes (with their own wires)."""
    node_ids = list(node_ids)
    loose = [e for e in dict.fromkeys(edges) if e.source not in node_ids and e.target not in node_ids]
    steps: list[QUndoCommand] = [Disconnect(graph, edge) for edge in loose]
    if node_ids:
        steps.append(RemoveNodes(graph, node_ids))
    return steps


def reconnect(graph: Graph, old: Edge, new: Edge) -> list[QUndoCommand]:
    """The steps of moving one end of a wire: disconnect the old wire, connect the new one."""
    return [Disconnect(graph, old), Connect(graph, new)]


def push_macro(stack, text: str, steps: list[QUndoCommand]) -> None:
    """Push `steps` as one undoable step named `text`.

    This uses QUndoStack.beginMacro rather than parent/child commands: with
    PySide6, child commands owned by a parent command crash when collected."""
    stack.beginMacro(text)
    try:
        for step in steps:
            stack.push(step)
    finally:
        stack.endMacro()
