"""How a dataset meets a graph: shapes taken from the data, and data shaped for the model.

`fill_shapes` gives Input and Target nodes that leave their shape out the
dataset's shapes and dtypes. `fit_dataset` checks that a compiled model can
train on a dataset and returns the dataset with its tensors reshaped/cast to
what the model's Input and Target nodes declare (a [1, 8, 8] image fed to an
Input of shape [64] is flattened), or raises a `UserError` that says what to
change.
"""

from __future__ import annotations

from dataclasses import replace
from math import prod

from engine.data.dataset import TORCH_DTYPES, Dataset
from engine.errors import UserError
from engine.shape_rules import fmt
from graphs.document import Graph
from graphs.errors import GraphError

CLASS_INDEX_LOSSES = ("CrossEntropyLoss", "NLLLoss", "MultiMarginLoss")
TASK_SOURCES = ("csv", "npz")  # the sources whose `task` option says classification or regression
TASK_ADVICE = ('; or, if the targets are class labels, set "task": "classification" in the dataset '
               '("task": "regression" says they are values)')


def fill_shapes(graph: Graph, dataset: Dataset) -> Graph:
    """A copy of `graph` whose Input/Target nodes without a shape take the dataset's shape and dtype, and
    whose Embeddings with num_embeddings None take a text dataset's vocabulary size."""
    filled = graph.copy()
    vocab_size = getattr(dataset, "vocab_size", None)
    for node in filled.nodes():
        if node.type == "Embedding" and node.params.get("num_embeddings", 0) is None and vocab_size is not None:
            filled.set_params(node.id, {**node.params, "num_embeddings": vocab_size})
        if node.type not in ("Input", "Target") or node.params.get("shape") is not None:
            continue
        if node.type == "Input":
            shape, dtype = dataset.input_shape, dataset.input_dtype
        else:
            shape, dtype = dataset.target_shape, dataset.target_dtype
        if node.params.get("dtype") == "int64" and dtype != "int64":  # the shape taken would not fit
            raise _wrong_dtype(dataset, node.type, node.id)
        params = {**node.params, "shape": list(shape)}
        params.setdefault("dtype", dtype)
        filled.set_params(node.id, params)
    return filled


def _declared(compiled, node_id: str):
    spec = compiled.shapes.info[node_id].outputs["out"]
    return tuple(spec.shape), spec.dtype


# What each role says when the data doesn't fit: (declared int64, the data isn't; the sizes differ).
_MISFITS = {
    "Input": ("Input '{node}' is int64 (indices) but dataset '{name}' gives {given_dtype} values; set the "
              "Input's dtype to float32",
              "Input '{node}' has shape {shape} but dataset '{name}' gives {given} per sample ({size} values); "
              "clear the Input's shape to take it from the data, or set it to {given}"),
    "Target": ("Target '{node}' is int64 (class indices) but dataset '{name}' gives {given_dtype} values "
               "({task}); set the Target's dtype to float32 and use a regression loss such as MSELoss",
               "Target '{node}' has shape {shape} but dataset '{name}' gives {given} per sample; clear the "
               "Target's shape to take it from the data, or set it to {given}"),
}


def _given(dataset: Dataset, role: str) -> tuple[tuple, str]:
    """The shape and dtype of the dataset's inputs (`role` "Input") or targets ("Target")."""
    if role == "Input":
        return dataset.input_shape, dataset.input_dtype
    return dataset.target_shape, dataset.target_dtype


def _words(dataset: Dataset, role: str, node_id: str, shape: tuple = ()) -> dict:
    given, given_dtype = _given(dataset, role)
    return dict(node=node_id, name=dataset.name, given_dtype=given_dtype, task=dataset.task, shape=fmt(shape),
                given=fmt(given), size=prod(given))


def _wrong_dtype(dataset: Dataset, role: str, node_id: str) -> UserError:
    """A node declared int64 over data that is not: what to change (the `task` option, where it could
    be the data that was taken wrongly)."""
    task_option = role == "Target" and dataset.task == "regression" and dataset.name in TASK_SOURCES
    return UserError(_MISFITS[role][0].format(**_words(dataset, role, node_id)) + (TASK_ADVICE if task_option else ""))


def _reshape_plan(dataset: Dataset, role: str, node_id: str, shape: tuple, dtype: str) -> tuple | None:
    """The shape to reshape the dataset's inputs (`role` "Input") or targets ("Target") to (None: keep),
    or a UserError when the node's dtype or size doesn't fit them."""
    given, given_dtype = _given(dataset, role)
    if dtype == "int64" and given_dtype != "int64":
        raise _wrong_dtype(dataset, role, node_id)
    if shape == given:
        return None
    if prod(shape) != prod(given):
        raise UserError(_MISFITS[role][1].format(**_words(dataset, role, node_id, shape)))
    return shape


def _check_class_count(dataset: Dataset, compiled) -> None:
    if dataset.num_classes is None:
        return
    for loss in compiled.losses:
        if type(loss.module).__name__ not in CLASS_INDEX_LOSSES:
            continue
        node, port = compiled.output_sources[loss.output_index]
        scores = compiled.shapes.info[node].outputs[port].shape
        if scores and scores[0] < dataset.num_classes:
            raise UserError(f"the model gives {scores[0]} class scores (from '{node}') but dataset "
                            f"'{dataset.name}' has {dataset.num_classes} classes; make '{node}' produce "
                            f"{dataset.num_classes}")


def vocabulary_errors(graph: Graph, dataset) -> list[GraphError]:
    """An error on each Embedding fed by an Input that has fewer rows than a text dataset's vocabulary
    (a token id past its last row would fail inside torch); none for other data."""
    vocab_size = getattr(dataset, "vocab_size", None)
    if vocab_size is None:
        return []
    errors = []
    for edge in graph.edges():
        node = graph.node(edge.target)
        if graph.node(edge.source).type != "Input" or node.type != "Embedding":
            continue
        size = node.resolved_params()["num_embeddings"]
        if size is not None and size < vocab_size:
            errors.append(GraphError(
                f"Embedding has num_embeddings {size}, but dataset '{dataset.name}' has a vocabulary of "
                f"{vocab_size} tokens (ids 0 to {vocab_size - 1}); set num_embeddings to {vocab_size} or more, "
                "or to None to take it from the data", node=node.id))
    return errors


def _check_vocabulary(dataset: Dataset, compiled) -> None:
    """Every Embedding that looks up the Input's token ids has a row for each id the data uses."""
    errors = vocabulary_errors(compiled.graph, dataset) if compiled.graph is not None else []
    if errors:
        raise UserError(f"node '{errors[0].node}': {errors[0].message}")


def fit_dataset(dataset: Dataset, compiled) -> Dataset:
    """The dataset shaped for `compiled` (a CompiledGraph), or a UserError saying what doesn't fit."""
    if not compiled.losses:
        raise UserError("nothing to train: the graph has no loss. Add a loss node (e.g. CrossEntropyLoss) fed "
                        "by the model's output and a Target")
    if len(compiled.inputs) != 1:
        names = ", ".join(f"'{n}'" for n in compiled.inputs) or "none"
        raise UserError(f"a dataset gives one input per sample, so the model needs exactly one Input node "
                        f"(it uses: {names})")
    targets = {t: _declared(compiled, t) for t in compiled.targets}
    if not targets:
        raise UserError("a dataset's labels need a Target, and no loss takes one (e.g. TripletMarginLoss takes "
                        "model outputs only); wire a Target to a loss, or train this graph from your own script")
    (first, target_spec), *others = targets.items()
    for other, spec in others:
        if spec != target_spec:
            raise UserError(f"every Target receives the dataset's labels, so all need the same shape and dtype; "
                            f"'{first}' is {fmt(target_spec[0])} {target_spec[1]} but '{other}' is "
                            f"{fmt(spec[0])} {spec[1]}")
    input_id = compiled.inputs[0]
    input_shape, input_dtype = _declared(compiled, input_id)
    reshape_input = _reshape_plan(dataset, "Input", input_id, input_shape, input_dtype)
    reshape_target = _reshape_plan(dataset, "Target", first, *target_spec)
    _check_class_count(dataset, compiled)
    _check_vocabulary(dataset, compiled)
    if reshape_input is None and reshape_target is None and (input_dtype, target_spec[1]) == (
            dataset.input_dtype, dataset.target_dtype):
        return dataset
    convert = (reshape_input, TORCH_DTYPES[input_dtype], reshape_target, TORCH_DTYPES[target_spec[1]])
    return replace(dataset, train=dataset.train.conformed(*convert), val=dataset.val.conformed(*convert),
                   input_shape=input_shape, input_dtype=input_dtype, target_shape=target_spec[0],
                   target_dtype=target_spec[1])
