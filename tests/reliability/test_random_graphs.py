"""Random graphs over the whole catalogue: inference and the compiled model agree.

For every drawn graph, inference either succeeds or reports errors on named nodes.
When it succeeds the compiler builds the model, which runs (training and eval mode)
on `example_inputs`, and every node's actual output has exactly the inferred shape
and dtype; every loss gives the inferred scalar. When it fails, compiling refuses
with the same errors, on the same nodes.
"""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from hypothesis import given, note, settings

from engine.compiler import CompiledGraph, CompileError, compile_graph, example_inputs
from engine.loss_terms import apply_loss
from engine.modules import TORCH_DTYPES
from engine.shapes import InferenceResult, infer
from graphs.catalogue import CATALOGUE
from graphs.document import Graph
from graphs.project import Project
from tests.reliability.guards import assert_errors_name_nodes
from tests.reliability.observe import run_recording, value_node
from tests.reliability.strategies import CLASS_LOSSES, graphs
from tests.reliability.tally import count, examples

BATCH = 2


def model_nodes(graph: Graph, compiled: CompiledGraph) -> list[str]:
    """Ids of the nodes the model computes: ancestors of its outputs, less Targets and losses."""
    parents: dict[str, set[str]] = {}
    for edge in graph.edges():
        parents.setdefault(edge.target, set()).add(edge.source)
    producers = {node for node, _ in compiled.output_sources}
    needed, stack = set(producers), list(producers)
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent not in needed:
                needed.add(parent)
                stack.append(parent)
    types = {n.id: n.type for n in graph.nodes()}
    return [n for n in graph.node_ids() if n in needed and types[n] != "Target" and not CATALOGUE[types[n]].is_loss]


def check_node_outputs(graph: Graph, compiled: CompiledGraph, values: dict, shapes: InferenceResult) -> None:
    ids = set(graph.node_ids())
    for node_id in model_nodes(graph, compiled):
        fx_node = value_node(compiled.model.graph, node_id, ids)
        assert fx_node is not None, f"no fx node is named after node '{node_id}': " \
                                    f"{[n.name for n in compiled.model.graph.nodes]}"
        value, outputs = values[fx_node.name], shapes.info[node_id].outputs
        if set(outputs) == {"out"}:
            pairs = [(value, outputs["out"])]
        else:  # Split and Chunk: a tuple of pieces, one per output port out0, out1, ...
            assert isinstance(value, (tuple, list)) and len(value) == len(outputs), f"node '{node_id}' gave {value!r}"
            pairs = list(zip(value, (outputs[f"out{i}"] for i in range(len(outputs)))))
        for actual, expected in pairs:
            assert isinstance(actual, torch.Tensor), f"node '{node_id}' gave {type(actual).__name__}"
            assert tuple(actual.shape) == (BATCH, *expected.shape), \
                f"node '{node_id}' ({graph.node(node_id).type}): inferred {expected.shape}, torch {tuple(actual.shape)}"
            assert actual.dtype == TORCH_DTYPES[expected.dtype], f"node '{node_id}': {actual.dtype} vs {expected.dtype}"


def loss_arguments(compiled: CompiledGraph, spec, outputs: tuple) -> list[torch.Tensor | None]:
    """The tensors on a loss's ports: the model outputs feeding it (as probabilities for BCELoss, positive for a
    variance), and for each Target valid values of its shape (class indices below the class count)."""
    name = type(spec.module).__name__
    first = outputs[spec.output_index]
    tensors = []
    for port, argument in zip(CATALOGUE[name].inputs, spec.arguments):
        if argument is None:
            tensors.append(None)
        elif argument[0] == "output":
            value = outputs[argument[1]].detach()
            tensors.append(value.sigmoid() if name == "BCELoss" else value.abs() if port == "var" else value)
        else:
            target_spec = compiled.shapes.info[argument[1]].outputs["out"]
            shape = (BATCH, *target_spec.shape)
            if target_spec.dtype == "int64":
                classes = first.shape[-1] if name == "CTCLoss" else first.shape[1] if name in CLASS_LOSSES else 2
                tensors.append(torch.randint(0, classes, shape))
            else:
                tensors.append(torch.rand(shape))
    return tensors


def check_losses(compiled: CompiledGraph, outputs) -> None:
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    for spec in compiled.losses:
        value = apply_loss(spec.module, loss_arguments(compiled, spec, outputs))
        assert tuple(value.shape) == compiled.shapes.info[spec.node_id].outputs["out"].shape == ()


def check_valid_graph(graph: Graph, shapes: InferenceResult) -> None:
    compiled = compile_graph(graph)
    torch.manual_seed(0)
    inputs = example_inputs(compiled, batch=BATCH)
    for training in (True, False):
        compiled.model.train(training)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs, values = run_recording(compiled.model, inputs)
        check_node_outputs(graph, compiled, values, shapes)
        check_losses(compiled, outputs)


def check_invalid_graph(graph: Graph, shapes: InferenceResult) -> None:
    assert_errors_name_nodes(shapes.errors, set(graph.node_ids()))
    with pytest.raises(CompileError) as refused:
        compile_graph(graph)
    assert [(e.node, e.message) for e in refused.value.errors] == [(e.node, e.message) for e in shapes.errors]


@settings(max_examples=examples(250))
@given(graph=graphs())
def test_inference_agrees_with_the_compiled_model(graph):
    note(json.dumps(Project(graph).to_dict()))
    shapes = infer(graph)
    if shapes.valid:
        check_valid_graph(graph, shapes)
        count("random graphs", "valid: compiled, ran, every shape as inferred")
    else:
        check_invalid_graph(graph, shapes)
        count("random graphs", "invalid: errors on named nodes, compile refused")
