"""Input and Target nodes without a shape take the selected dataset's shapes, whenever the graph or the data changes.

An Input or Target whose shape is empty means "take it from the dataset"
(the engine's `fill_shapes` does exactly that when it trains). The editor
shows the same thing at once: `ShapeFollower` watches the undo stack, and
after every new edit (and when a project is opened or created) that leaves
such a node, it pushes one undoable "Take shapes from the data" step made by
`engine.data.fill_shapes` from the dataset's shapes. The dataset's shapes are
remembered per dataset spec; the first time they are needed the engine and
the data load in the background, and the step follows when they are known.

Undo never re-applies it: the follower acts only while nothing is left to
redo (a new edit, or a redo up to the newest step), so undoing the step
leaves the node shapeless until the next edit. Choosing another dataset fits
the nodes in the same step as the choice (`TrainingSettings.use_dataset`).
"""

from __future__ import annotations

import json

from PySide6.QtCore import QObject, QTimer, Signal

from engine.data_shapes import SIZED_BY_DATA, shapeless_data_nodes
from graphs.errors import printable
from gui import commands
from gui.workbench.engine_loader import EngineLoader
from gui.workbench.settings import DataShapes, TrainingSettings
from gui.workbench.tasks import TaskRunner

FILL_TEXT = "Take shapes from the data"


def fill_edits(graph, shapes: DataShapes) -> list[tuple[str, dict, dict]]:
    """(node id, old params, new params) for each shapeless Input/Target, as the engine fills them."""
    from engine.data import fill_shapes  # the engine is loaded: the shapes came from it

    filled = fill_shapes(graph, shapes)
    return [(node.id, dict(node.params), dict(filled.node(node.id).params)) for node in graph.nodes()
            if filled.node(node.id).params != node.params]


def load_shapes(training: dict, base_dir) -> DataShapes:
    """The dataset's per-sample shapes (in a background thread)."""
    from engine.data import load_dataset

    dataset = load_dataset(training["dataset"], base_dir, training.get("val_split", 0.2), training.get("seed", 0))
    return DataShapes.of(dataset)


class ShapeFollower(QObject):
    """Gives shapeless Input/Target nodes the selected dataset's shapes, as undoable steps."""

    message = Signal(str)  # what it is doing, for the status bar

    def __init__(self, settings: TrainingSettings, engine: EngineLoader, tasks: TaskRunner,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.settings, self.engine, self.tasks = settings, engine, tasks
        self.document = settings.document
        self.known: dict[tuple[str, str], DataShapes | None] = {}  # dataset key -> shapes (None: can't load)
        self._loading: set[tuple[str, str]] = set()
        self._waiting: list = []  # callbacks for when the loading shapes are known (or can't be)
        self._timer = QTimer(self)  # one check after a burst of edits, outside the push that caused it
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.follow)
        self._maybe_shapeless = True  # False once a look found none, until an edit that can make one
        self.document.undo_stack.indexChanged.connect(self._edited)
        self.document.projectReset.connect(self._timer.start)
        for signal in (self.document.nodeAdded, self.document.paramsChanged):
            signal.connect(self._node_may_be_shapeless)
        for signal in (self.document.nodeRenamed, self.document.projectReset, self.document.scopeChanged,
                       self.document.unitsChanged):
            signal.connect(self._may_be_shapeless)
        engine.failed.connect(lambda _why: self._loaded())

    def _key(self, training: dict | None = None) -> tuple[str, str]:
        training = self.settings.training if training is None else training
        return json.dumps(training.get("dataset"), sort_keys=True), str(self.settings.base_dir)

    def remember(self, training: dict, shapes: DataShapes | None) -> None:
        """Record the shapes of the dataset `training` names (the Data panel loads them too)."""
        self.known[self._key(training)] = shapes

    @property
    def pending(self) -> bool:
        """The shapes are being loaded for a shapeless node."""
        return bool(self._loading)

    def after_load(self, callback) -> None:
        """Call `callback()` once the shapes being loaded are known and applied (or can't be loaded)."""
        self._waiting.append(callback)

    def _loaded(self) -> None:
        self._loading.clear()
        waiting, self._waiting = self._waiting, []
        for callback in waiting:
            callback()

    def _may_be_shapeless(self, *_args) -> None:
        self._maybe_shapeless = True

    def _node_may_be_shapeless(self, node_id: str) -> None:
        """A node added or its params changed: only an Input, Target or Embedding can be left shapeless (a Linear
        added to a 10,000-node model must not make the next look walk every node)."""
        graph = self.document.graph
        if not graph.has_node(node_id) or graph.node(node_id).type in SIZED_BY_DATA:
            self._maybe_shapeless = True

    def _edited(self, _index: int) -> None:
        """After an edit, look again only if it could have left a node shapeless (not a wire: the editor's
        most frequent edit, which would otherwise walk a 10,000-node model's nodes each time)."""
        if self._maybe_shapeless:
            self._timer.start()

    def follow(self) -> bool:
        """Fill the shapeless data nodes now if the data's shapes are known (else load them); True if filled."""
        stack = self.document.undo_stack
        graph = self.document.graph
        if stack.index() != stack.count():
            return False  # something to redo: an undo, which must not be re-applied
        if not shapeless_data_nodes(graph):
            self._maybe_shapeless = False
            return False
        key = self._key()
        if key not in self.known:
            self._load(key)
            return False
        shapes = self.known[key]
        if shapes is None:
            return False
        edits = fill_edits(graph, shapes)
        if not edits:
            return False
        names = printable(", ".join(node_id for node_id, _old, _new in edits))
        self.message.emit(f"Shapes of {names} taken from dataset {self._dataset_name()} (Ctrl+Z undoes it)")
        steps = [commands.SetParams(graph, node_id, old, new) for node_id, old, new in edits]
        if len(steps) == 1:
            steps[0].setText(f"{FILL_TEXT} ('{edits[0][0]}')")
            stack.push(steps[0])
        else:
            commands.push_macro(stack, FILL_TEXT, steps)
        return True

    def _dataset_name(self) -> str:
        return printable(str((self.settings.training.get("dataset") or {}).get("name", "?")))

    def _load(self, key: tuple[str, str]) -> None:
        if key in self._loading:
            return
        self._loading.add(key)
        self.message.emit(f"Loading dataset {self._dataset_name()} for the Input and Target shapes…")
        training, base_dir = self.settings.training, self.settings.base_dir

        def done(shapes: DataShapes | None) -> None:
            self.known[key] = shapes
            self.follow()
            self._loaded()

        def submit() -> None:
            self.tasks.submit(lambda: load_shapes(training, base_dir), done, lambda _error: done(None))

        self.engine.when_ready(submit)
