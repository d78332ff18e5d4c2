"""The project's `training` settings as undoable edits, and Input/Target shapes that follow the data.

`TrainingSettings` is the workbench's door to `project.training`, like the
editor's `DocumentController` is to the graph: panels read `training` and
write through `update` (one `SetTraining` undo command on the document's undo
stack, so the window shows the project as modified and Ctrl+Z reverts it) or
`use_dataset` (one macro: the new dataset plus `SetParams` on each Input and
Target node whose shape or dtype no longer fits the data). Undo and redo emit
`changed`, so the panels follow without knowing about undo. Repeated edits of
one field (clicks on a spin box arrow) merge into one step.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from math import prod

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand

from gui import commands
from gui.document import DocumentController

MERGE_ID = 0x7E15  # SetTraining commands with the same field merge


class SetTraining(QUndoCommand):
    """Replace `project.training` with `new` (undo: `old`); `notify()` tells the panels."""

    def __init__(self, project, old: dict, new: dict, notify, text: str, field: str | None = None):
        super().__init__(text)
        self.project, self.old, self.new, self.notify, self.field = project, old, new, notify, field

    def redo(self) -> None:
        self.project.training = copy.deepcopy(self.new)
        self.notify()

    def undo(self) -> None:
        self.project.training = copy.deepcopy(self.old)
        self.notify()

    def id(self) -> int:
        return MERGE_ID if self.field else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetTraining) or other.field != self.field or other.project is not self.project:
            return False
        self.new = other.new
        return True


@dataclass(frozen=True)
class DataShapes:
    """Per-sample shapes and dtypes a dataset gives (without the batch dimension)."""

    input_shape: tuple[int, ...]
    input_dtype: str
    target_shape: tuple[int, ...]
    target_dtype: str
    vocab_size: int | None = None  # a text dataset's: what an Embedding's num_embeddings None takes

    @classmethod
    def of(cls, dataset) -> DataShapes:
        return cls(tuple(dataset.input_shape), dataset.input_dtype, tuple(dataset.target_shape),
                   dataset.target_dtype, dataset.vocab_size)


def fitted_params(node, shape: tuple[int, ...], dtype: str) -> dict:
    """A data node's params once the data changed: the data's dtype, and the data's shape unless the
    node's shape holds as many values of that dtype (a deliberate reshape, e.g. [64] for [1, 8, 8])."""
    resolved = node.resolved_params()
    params = dict(node.params)
    current = resolved.get("shape")
    if current is None or prod(current) != prod(shape) or resolved.get("dtype") != dtype:
        params["shape"] = list(shape)
    if resolved.get("dtype") != dtype:
        params["dtype"] = dtype
    return node.spec.check_params(params, node.id)


def shape_edits(graph, shapes: DataShapes) -> list[tuple[str, dict, dict]]:
    """(node id, old params, new params) for each Input/Target node that must change to fit `shapes`."""
    edits = []
    for node in graph.nodes():
        if node.type == "Input":
            new = fitted_params(node, shapes.input_shape, shapes.input_dtype)
        elif node.type == "Target":
            new = fitted_params(node, shapes.target_shape, shapes.target_dtype)
        else:
            continue
        if new != node.params:
            edits.append((node.id, dict(node.params), new))
    return edits


class TrainingSettings(QObject):
    """Reads and edits the open project's training settings through the undo stack."""

    changed = Signal()  # the settings changed: an edit, undo/redo, or another project opened

    def __init__(self, document: DocumentController, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        document.projectReset.connect(self.changed)

    @property
    def training(self) -> dict:
        """A copy of the settings; edit it and hand it to `update`."""
        return copy.deepcopy(self.document.project.training)

    @property
    def base_dir(self):
        """The folder relative data paths start from (the project's folder, else the working folder)."""
        from pathlib import Path

        path = self.document.project.path
        return path.parent if path is not None else Path.cwd()

    def _command(self, new: dict, text: str, field: str | None = None) -> SetTraining | None:
        project = self.document.project
        if new == project.training:
            return None
        return SetTraining(project, copy.deepcopy(project.training), copy.deepcopy(new), self.changed.emit, text,
                           field)

    def update(self, new: dict, text: str, field: str | None = None) -> bool:
        """Replace the settings with `new` as one undo step named `text`; False when nothing changes."""
        command = self._command(new, text, field)
        if command is None:
            return False
        self.document.undo_stack.push(command)
        return True

    def use_dataset(self, new: dict, shapes: DataShapes | None, text: str) -> bool:
        """Settings `new` (a different dataset) and, when `shapes` is known, Input/Target nodes fitted to it,
        as one undo step."""
        steps = []
        command = self._command(new, text)
        if command is not None:
            steps.append(command)
        if shapes is not None:
            graph = self.document.graph
            steps += [commands.SetParams(graph, node_id, old, params)
                      for node_id, old, params in shape_edits(graph, shapes)]
        if not steps:
            return False
        if len(steps) == 1:
            self.document.undo_stack.push(steps[0])
        else:
            commands.push_macro(self.document.undo_stack, text, steps)
        return True
