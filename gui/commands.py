"""Undo commands: each one edit, done and undone through the public `Graph` API only.

Because undo calls the same document methods as the edit, it fires the same
events, and everything that observes the document (scene, inspector, summary,
shape inference) follows without knowing about undo. Commands never touch Qt
items. Macros (`Paste`, `Delete`, `Reconnect`) are parent commands whose
children run in order on redo and in reverse on undo.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from graphs.document import Edge, Graph, Node


def _ends(edge: Edge) -> tuple[str, str, str, str]:
    return edge.source, edge.target, edge.source_port, edge.target_port


class AddNode(QUndoCommand):
    """Add one node with a given id (chosen by the caller, so redo recreates the same node)."""

    def __init__(self, graph: Graph, node: Node, parent: QUndoCommand | None = None):
        super().__init__(f"Add {node.type} '{node.id}'", parent)
        self.graph, self.node = graph, node

    def redo(self) -> None:
        self.graph.add_node(self.node.type, self.node.params, self.node.id, self.node.position)

    def undo(self) -> None:
        self.graph.remove_node(self.node.id)


class RemoveNodes(QUndoCommand):
    """Remove nodes and every wire touching them; undo restores nodes, then wires, exactly."""

    def __init__(self, graph: Graph, node_ids, parent: QUndoCommand | None = None):
        ids = list(dict.fromkeys(node_ids))
        super().__init__(f"Remove '{ids[0]}'" if len(ids) == 1 else f"Remove {len(ids)} nodes", parent)
        self.graph = graph
        self.nodes = [graph.node(node_id) for node_id in ids]
        self.edges = [e for e in graph.edges() if e.source in ids or e.target in ids]

    def redo(self) -> None:
        for node in self.nodes:
            self.graph.remove_node(node.id)

    def undo(self) -> None:
        for node in self.nodes:
            self.graph.add_node(node.type, node.params, node.id, node.position)
        for edge in self.edges:
            self.graph.connect(*_ends(edge), check=False)


class MoveNodes(QUndoCommand):
    """Move nodes from old to new positions: one command per drag (or per auto-layout)."""

    def __init__(self, graph: Graph, moves: dict, text: str = "", parent: QUndoCommand | None = None):
        """`moves` maps node id -> (old position, new position)."""
        super().__init__(text or (f"Move '{next(iter(moves))}'" if len(moves) == 1 else f"Move {len(moves)} nodes"),
                         parent)
        self.graph, self.moves = graph, dict(moves)

    def redo(self) -> None:
        for node_id, (_old, new) in self.moves.items():
            self.graph.move_node(node_id, new)

    def undo(self) -> None:
        for node_id, (old, _new) in self.moves.items():
            self.graph.move_node(node_id, old)


class AutoLayout(MoveNodes):
    """Every node placed by `gui.layout`, as one undoable step."""

    def __init__(self, graph: Graph, moves: dict, parent: QUndoCommand | None = None):
        super().__init__(graph, moves, "Auto-layout", parent)


class Connect(QUndoCommand):
    """Add one wire (checked by the document on every redo)."""

    def __init__(self, graph: Graph, edge: Edge, parent: QUndoCommand | None = None):
        super().__init__(f"Connect '{edge.source}' to '{edge.target}.{edge.target_port}'", parent)
        self.graph, self.edge = graph, edge

    def redo(self) -> None:
        self.graph.connect(*_ends(self.edge))

    def undo(self) -> None:
        self.graph.disconnect(self.edge)


class Disconnect(QUndoCommand):
    """Remove one wire; undo puts back exactly that wire (unchecked: it existed before)."""

    def __init__(self, graph: Graph, edge: Edge, parent: QUndoCommand | None = None):
        super().__init__(f"Disconnect '{edge.source}' from '{edge.target}.{edge.target_port}'", parent)
        self.graph, self.edge = graph, edge

    def redo(self) -> None:
        self.graph.disconnect(self.edge)

    def undo(self) -> None:
        self.graph.connect(*_ends(self.edge), check=False)


class SetParams(QUndoCommand):
    """Replace a node's params (old and new are the canonical dicts the document holds)."""

    def __init__(self, graph: Graph, node_id: str, old: dict, new: dict, parent: QUndoCommand | None = None):
        changed = sorted(k for k in set(old) | set(new) if old.get(k, ...) != new.get(k, ...))
        what = ", ".join(changed) if changed else "params"
        super().__init__(f"Set {what} of '{node_id}'", parent)
        self.graph, self.node_id, self.old, self.new = graph, node_id, dict(old), dict(new)

    def redo(self) -> None:
        self.graph.set_params(self.node_id, self.new)

    def undo(self) -> None:
        self.graph.set_params(self.node_id, self.old)


class Paste(QUndoCommand):
    """Add several nodes and the wires between them, as one step."""

    def __init__(self, graph: Graph, nodes: list[Node], edges: list[Edge], text: str = "Paste",
                 parent: QUndoCommand | None = None):
        super().__init__(f"{text} {len(nodes)} node{'s' if len(nodes) != 1 else ''}", parent)
        self.children = [AddNode(graph, node, self) for node in nodes]
        self.children += [Connect(graph, edge, self) for edge in edges]


class Delete(QUndoCommand):
    """Remove loose wires, then nodes (with their wires), as one step."""

    def __init__(self, graph: Graph, node_ids, edges, parent: QUndoCommand | None = None):
        node_ids = list(node_ids)
        loose = [e for e in dict.fromkeys(edges) if e.source not in node_ids and e.target not in node_ids]
        count = len(node_ids) + len(loose)
        super().__init__(f"Delete {count} item{'s' if count != 1 else ''}", parent)
        self.children: list[QUndoCommand] = [Disconnect(graph, edge, self) for edge in loose]
        if node_ids:
            self.children.append(RemoveNodes(graph, node_ids, self))


class Reconnect(QUndoCommand):
    """Move one end of an existing wire: disconnect the old wire, connect the new one."""

    def __init__(self, graph: Graph, old: Edge, new: Edge, parent: QUndoCommand | None = None):
        super().__init__(f"Reconnect '{new.source}' to '{new.target}.{new.target_port}'", parent)
        self.children = [Disconnect(graph, old, self), Connect(graph, new, self)]
