"""A trained model ready to answer: the graph compiled, the weights loaded, inputs prepared as in training.

`Predictor.load(project, weights)` reads the weights file's metadata (how inputs were
prepared, the class names), compiles the project's graph with those weights (weights of
another graph are refused with the tensors that don't fit) and works out what kind of input
the model takes. `predict(batch, top_k)` gives one `Prediction` per input: the label and the
top-k probabilities for a classifier, the value(s) for a regression. An input that can't be
read gives a `Prediction` with its `error` instead, and the others go on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from engine.errors import UserError, listing
from engine.predict.inputs import Batch, InputKind, Row, batched, check_inputs, gather
from engine.predict.preparers import Preparation
from engine.shape_rules import fmt
from graphs.errors import quoted
from graphs.project import Project

DEFAULT_BATCH_SIZE = 256
KINDS = ("images", "text", "audio", "table")
LOG_PROBABILITY_LOSSES = ("NLLLoss",)  # the model outputs log-probabilities
PROBABILITY_LOSSES = ("BCELoss",)  # the model outputs a probability
SCORE_LOSSES = ("BCEWithLogitsLoss",)  # the model outputs a score (logit)


@dataclass
class Prediction:
    """The model's answer for one input (`name`), or why there is none (`error`)."""

    name: str
    label: str | None = None  # the most likely class
    top_k: list[tuple[str, float]] = field(default_factory=list)  # (class, probability), most likely first
    value: list[float] | None = None  # a regression's output values
    error: str | None = None

    def as_dict(self) -> dict:
        if self.error is not None:
            return {"input": self.name, "error": self.error}
        if self.value is not None:
            return {"input": self.name, "value": self.value[0] if len(self.value) == 1 else self.value}
        return {"input": self.name, "label": self.label,
                "top_k": [{"label": label, "probability": round(p, 6)} for label, p in self.top_k]}

    def line(self) -> str:
        """One line for a person: `cat.png: cat (cat 0.912, dog 0.071, bird 0.017)`."""
        if self.error is not None:
            return f"{self.name}: error: {self.error}"
        if self.value is not None:
            return f"{self.name}: {', '.join(f'{v:.6g}' for v in self.value)}"
        ranked = ", ".join(f"{label} {p:.3f}" for label, p in self.top_k)
        return f"{self.name}: {self.label} ({ranked})"


def _json_metadata(metadata: dict[str, str], key: str, weights: Path):
    if key not in metadata:
        return None
    try:
        return json.loads(metadata[key])
    except json.JSONDecodeError:
        raise UserError(f"the weights file {quoted(str(weights))} has damaged {key!r} metadata (not JSON)") from None


class Predictor:
    """A compiled model with trained weights, and how its inputs are prepared and its outputs named."""

    def __init__(self, compiled, metadata: dict[str, str], weights: Path, dataset_spec: dict | None = None):
        if len(compiled.inputs) != 1:
            raise UserError(f"predict runs models with one Input; this graph has {len(compiled.inputs)}: "
                            f"{listing(compiled.inputs)}")
        self.compiled = compiled
        self.model = compiled.model  # `load` puts it on the CPU in eval mode; a caller's model is left as it is
        self.input_node = compiled.inputs[0]
        spec = compiled.shapes.info[self.input_node].outputs["out"]
        self.input_shape, self.input_dtype = tuple(spec.shape), spec.dtype
        self.preprocessing = _json_metadata(metadata, "preprocessing", weights)
        self.class_names = _json_metadata(metadata, "class_names", weights)
        normalization = _json_metadata(metadata, "normalization", weights)
        self.loss = compiled.losses[0] if compiled.losses else None
        self.output_index = self.loss.output_index if self.loss else 0
        self.kind = InputKind(self._kind())
        target = (dataset_spec or {}).get("target") if isinstance(dataset_spec, dict) else None
        self.prepare = Preparation(self.kind.name, self.preprocessing, normalization, self.input_shape, target)

    @classmethod
    def load(cls, project: Project, weights: str | Path, graph=None) -> Predictor:
        """The project's model with `weights` loaded; `graph` is the project's graph with its data shapes
        filled, if the caller has it (else see `graph_with_shapes`)."""
        from engine.export import prepare_model
        from engine.training.checkpoint import read_metadata

        weights = Path(weights)
        metadata = read_metadata(weights)
        graph = graph if graph is not None else graph_with_shapes(project, weights)
        compiled = prepare_model(graph, weights)
        compiled.model.cpu().eval()
        return cls(compiled, metadata, weights, project.training.get("dataset"))

    def _kind(self) -> str:
        if isinstance(self.preprocessing, dict):
            kind = self.preprocessing.get("kind")
            if kind not in KINDS:
                raise UserError(f"the weights' preprocessing is of an unknown kind {quoted(kind)}; "
                                f"known: {', '.join(KINDS)}")
            return kind
        if self.input_dtype == "float32" and len(self.input_shape) == 3 and self.input_shape[0] in (1, 3):
            return "images"
        if self.input_dtype == "float32" and len(self.input_shape) == 1:
            return "table"
        raise UserError(f"the weights hold no record of how their inputs were prepared, and an Input of "
                        f"{self.input_dtype} {fmt(self.input_shape)} is neither an image nor a table row; "
                        "train the model again with this version of Neurocanvas")

    @property
    def task(self) -> str:
        return "classification" if self.class_names is not None else "regression"

    # ---- inputs ------------------------------------------------------------
    def batches(self, inputs: list[str], text_file: str | None = None,
                batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[Batch]:
        """The inputs (checked first, then read lazily) in batches of raw inputs."""
        paths = check_inputs(self.kind, [str(item) for item in inputs], text_file)
        return batched(gather(self.kind, paths), batch_size)

    def tensor(self, raw: list) -> torch.Tensor:
        """The model's input for `raw` inputs, shaped and typed as its Input node declares."""
        x = self.prepare(raw)
        per_sample = tuple(x.shape[1:])
        if per_sample != self.input_shape:
            if x[0].numel() != torch.Size(self.input_shape).numel():
                raise UserError(f"Input {quoted(self.input_node)} takes {fmt(self.input_shape)} per sample, but "
                                f"the prepared inputs are {fmt(per_sample)}; were the weights trained on other data?")
            x = x.reshape(x.shape[0], *self.input_shape)
        return x.to(torch.int64 if self.input_dtype == "int64" else torch.float32)

    # ---- answers -----------------------------------------------------------
    def predict(self, batch: Batch, top_k: int = 3) -> list[Prediction]:
        """One prediction per input of `batch`; an input that can't be prepared gets its error instead."""
        return self._answers(batch, self._prepared(batch), top_k)

    def run(self, batches: Iterable[Batch], top_k: int = 3) -> Iterator[Prediction]:
        """`predict` over `batches`, the next batch read and prepared (in a thread) while the model runs on
        this one: file decoding and the model's arithmetic both release the GIL, so they overlap."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict-prepare") as pool:
            pending = None
            for batch in batches:
                upcoming = (batch, pool.submit(self._prepared, batch))
                if pending is not None:
                    yield from self._answers(pending[0], pending[1].result(), top_k)
                pending = upcoming
            if pending is not None:
                yield from self._answers(pending[0], pending[1].result(), top_k)

    def _prepared(self, batch: Batch) -> torch.Tensor | UserError:
        try:
            return self.tensor(batch.raw)
        except UserError as error:
            return error

    def _answers(self, batch: Batch, x: torch.Tensor | UserError, top_k: int) -> list[Prediction]:
        if isinstance(x, UserError):
            if len(batch) > 1:  # find the inputs at fault; the others still get answers
                return [p for i in range(len(batch)) for p in self.predict(Batch([batch.names[i]], [batch.raw[i]]), top_k)]
            return [Prediction(batch.names[0], error=_naming(str(x), batch.names[0], batch.raw[0]))]
        return self.answer(batch.names, self.forward(x), top_k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The scored output (the one the first loss sees) for a batch of model inputs."""
        with torch.inference_mode():
            outputs = self.model(x)
        output = outputs[self.output_index] if isinstance(outputs, tuple) else outputs
        return output.float()

    def probabilities(self, output: torch.Tensor) -> torch.Tensor:
        """[N, classes] probabilities from the scored output, read as its loss reads it."""
        return probabilities(output, probability_rule(self.loss, len(self.class_names)))

    def answer(self, names: list[str], output: torch.Tensor, top_k: int) -> list[Prediction]:
        if self.task == "regression":
            values = output.reshape(output.shape[0], -1).tolist()
            return [Prediction(name, value=value) for name, value in zip(names, values)]
        probabilities = self.probabilities(output)
        if probabilities.shape[1] != len(self.class_names):
            raise UserError(f"the model scores {probabilities.shape[1]} classes, but its weights name "
                            f"{len(self.class_names)}: {listing(self.class_names, 4)}")
        k = max(1, min(top_k, probabilities.shape[1]))
        best, index = probabilities.topk(k, dim=1)
        predictions = []
        for name, scores, classes in zip(names, best.tolist(), index.tolist()):
            ranked = [(self.class_names[c], p) for c, p in zip(classes, scores)]
            predictions.append(Prediction(name, ranked[0][0], ranked))
        return predictions


def probability_rule(loss, classes: int) -> str:
    """How the scored output becomes class probabilities, given the loss that trained it (a LossSpec or
    None): "sigmoid" (one score for the second of two classes), "probability" (one probability for it),
    "exp" (log-probabilities), "softmax" (scores), or "auto" (no loss: probabilities if they look it)."""
    name = type(loss.module).__name__ if loss is not None else None
    if classes == 2 and name in PROBABILITY_LOSSES:
        return "probability"
    if classes == 2 and name in SCORE_LOSSES:
        return "sigmoid"
    if name in LOG_PROBABILITY_LOSSES:
        return "exp"
    return "softmax" if name is not None else "auto"


def probabilities(output: torch.Tensor, rule: str) -> torch.Tensor:
    """[N, classes] probabilities from a model's output by `rule` (see `probability_rule`); a single column
    is the second of two classes."""
    output = output.reshape(output.shape[0], -1)
    if output.shape[1] == 1:
        positive = output if rule == "probability" else torch.sigmoid(output)
        return torch.cat([1 - positive, positive], dim=1)
    if rule == "exp":
        return output.exp()
    if rule == "auto" and bool((output >= 0).all()) and torch.allclose(output.sum(1), torch.ones(len(output)),
                                                                       atol=1e-3):
        return output  # no loss to say, and already probabilities (a Softmax at the end)
    return output.softmax(dim=1)


def _naming(message: str, name: str, raw) -> str:
    """`message`, led by the input's name unless it names the file already."""
    named = name in message or isinstance(raw, Path) and raw.name in message or \
        isinstance(raw, Row) and f"{raw.file} line {raw.line}" in message
    return message if named else f"{name}: {message}"


def graph_with_shapes(project: Project, weights: str | Path | None):
    """The project's graph with Input/Target shapes left to the data filled in: from the run's own
    `project.json` beside the `weights` when it holds the same nodes (no data loaded), else from the data."""
    from engine.data_shapes import graph_as_trained, shapeless_data_nodes

    graph = project.graph
    missing = shapeless_data_nodes(graph)
    if not missing:
        return graph
    trained = Path(weights).with_name("project.json") if weights is not None else None
    if trained is not None and trained.is_file():
        from graphs.errors import ProjectFormatError
        from graphs.project import load_project

        try:
            run_graph = load_project(trained).graph
        except (ProjectFormatError, OSError):
            run_graph = None
        if run_graph is not None and all(run_graph.has_node(node) for node in missing) and \
                {n.id for n in run_graph.nodes()} == {n.id for n in graph.nodes()}:
            filled = graph.copy()
            for node in missing:
                filled.set_params(node, {**graph.node(node).params, **run_graph.node(node).params})
            return filled
    base_dir = project.path.parent if project.path else Path(".")
    return graph_as_trained(graph, project.training, base_dir)[0]


def typed_input(predictor: Predictor, text: str) -> Batch:
    """A batch of one from what a person typed: a sentence for a text model, a CSV row (values in the order
    of `row_columns`) for a table model; a UserError for other models or a row of the wrong length."""
    kind = predictor.kind.name
    if kind == "text":
        if not text.strip():
            raise UserError("type a text to predict")
        return Batch(["the typed text"], [text])
    if kind != "table":
        raise UserError(f"this model takes {predictor.kind.words}, not typed text")
    import csv

    values = next(csv.reader([text]), [])
    columns = row_columns(predictor)
    if len(values) != len(columns):
        raise UserError(f"the row has {len(values)} values, but this model takes {len(columns)}: "
                        f"{listing(columns, 12)}")
    return Batch(["the typed row"], [Row(dict(zip(columns, values)), "the typed row", 1)])


def row_columns(predictor: Predictor) -> list[str]:
    """The columns a table model reads from a row, in order (the table source's names where the weights
    record them, else `x1`, `x2`, ... for the features of an older run)."""
    record = predictor.preprocessing or {}
    if isinstance(record.get("columns"), list):
        return [str(column.get("name")) for column in record["columns"] if isinstance(column, dict)]
    return [f"x{i + 1}" for i in range(int(torch.Size(predictor.input_shape).numel()))]
