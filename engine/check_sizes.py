"""The inputs an export or import check runs a model on, kept within memory.

A check (onnxruntime against torch, generated code against torch, an imported
graph against its original) needs only a few samples, but at the model's input
size: an Input of [3, 20000, 20000] makes 9.6 GB of random inputs at batch 2,
before any activation. `check_inputs(compiled, batch, seed)` estimates what a
forward pass at the declared size holds (`memory_budget.tensor_bytes`: inputs
and every node's outputs). Within `check_budget()` the check runs at that size.
Above it, the sizes the graph leaves free are made smaller: a size is free when
the graph, inferred again with it reduced, is still valid and builds exactly the
same modules (a fully convolutional net; not a Linear after a Flatten, whose
in_features would change). Sizes that are equal across inputs at the same axis
are reduced together, so a Concat along the channels still fits. When no
reduction fits the budget, `TooLarge` says how much the check would take.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.memory_budget import TooLarge, check_budget, gigabytes, spec_bytes, tensor_bytes
from engine.modules import constructor
from engine.ops import OPS
from engine.shapes import InferenceResult, infer

# tried in turn for each free size larger than them; the second row checks what the first traced: an exporter
# may bake a size into the graph (torch's dynamo exporter does for an AdaptiveAvgPool2d), which a check at
# the traced size cannot see
SMALL_SIZES = ((32, 64, 128, 256, 512), (48, 96, 192, 384, 768))


@dataclass(frozen=True)
class CheckShapes:
    """The shape (without the batch) each Input node is checked at, and the inference at those shapes."""

    shapes: dict[str, tuple[int, ...]]
    batch: int
    inference: InferenceResult
    reduced: bool  # some size is smaller than the graph declares

    def output_shape(self, node_id: str, port: str = "out") -> tuple[int, ...]:
        return self.inference.info[node_id].outputs[port].shape


SMALLER = "Make the Input shape smaller, or add pooling so that the input size can vary."


def check_shapes(compiled, batch: int, hint: str = SMALLER, variant: int = 0) -> CheckShapes:
    """The input shapes to check `compiled` at `batch` with, reduced where needed and possible (see above):
    to sizes from `SMALL_SIZES[variant]`, or the first row where the second leaves nothing valid."""
    declared = {node_id: compiled.shapes.info[node_id].outputs["out"].shape for node_id in compiled.inputs}
    needed = tensor_bytes(compiled.shapes, batch)
    budget = check_budget()
    if needed <= budget:
        return CheckShapes(declared, batch, compiled.shapes, False)
    reduced = None
    for sizes in dict.fromkeys((SMALL_SIZES[variant], SMALL_SIZES[0])):
        if reduced is None and compiled.graph is not None:
            reduced = smaller_shapes(compiled.graph, compiled.shapes, declared, sizes)
    if reduced is not None and tensor_bytes(reduced[1], batch) <= budget:
        return CheckShapes(reduced[0], batch, reduced[1], True)
    inputs = sum(spec_bytes(compiled.shapes.info[node_id].outputs["out"], batch) for node_id in compiled.inputs)
    why = ("its input sizes are fixed by the graph (a Flatten before a Linear, a Reshape, a LayerNorm over them)"
           if reduced is None else "it stays too large at smaller input sizes")
    raise TooLarge(f"running the model on a sample batch of {batch} (to export or check it) would take about "
                   f"{gigabytes(needed)} ({gigabytes(inputs)} of inputs), more than the {gigabytes(budget)} "
                   f"a check may use, and {why}", hint)


def check_inputs(compiled, batch: int, seed: int = 0, shapes: CheckShapes | None = None) -> tuple[torch.Tensor, ...]:
    """Random inputs for a check (`check_shapes`), drawn from `seed` without touching the global random state;
    int64 inputs are indices valid for every Embedding."""
    from engine.compiler import example_inputs

    shapes = shapes or check_shapes(compiled, batch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return example_inputs(compiled, batch, shapes=shapes.shapes)


def smaller_shapes(graph, declared_inference: InferenceResult, declared: dict,
                   sizes: tuple[int, ...]) -> tuple[dict, InferenceResult] | None:
    """Input shapes with every free size made small, and the inference at them; None if no size is free."""
    forward = graph.copy()
    for node in list(forward.nodes()):  # the check runs the model only: targets and losses don't constrain it
        if node.type == "Target" or node.spec.is_loss:
            forward.remove_node(node.id)
    modules = _modules(forward, declared_inference)
    shapes = {node_id: list(shape) for node_id, shape in declared.items()}
    best = None
    axes = sorted({(axis, size) for shape in shapes.values() for axis, size in enumerate(shape)
                   if size > sizes[0]}, key=lambda item: -item[1])
    for axis, size in axes:
        for small in (s for s in sizes if s < size):
            trial = {node_id: [small if (i == axis and d == size) else d for i, d in enumerate(shape)]
                     for node_id, shape in shapes.items()}
            inference = _infer_at(forward, trial)
            if not inference.errors and _modules(forward, inference) == modules:
                shapes, best = trial, inference
                break
    return None if best is None else ({k: tuple(v) for k, v in shapes.items()}, best)


def _infer_at(graph, shapes: dict) -> InferenceResult:
    for node_id, shape in shapes.items():
        graph.set_param(node_id, "shape", list(shape))
    return infer(graph)


def _modules(graph, inference: InferenceResult) -> dict | None:
    """Every module node's torch class and constructor arguments (None where a node has no shapes)."""
    built = {}
    for node in graph.nodes():
        custom = node.spec.op  # a custom layer (engine.custom_layers): its class, built with these arguments
        if custom is None and OPS[node.type].module is None:  # a functional node builds no module
            continue
        if node.id not in inference.inputs or node.id not in inference.info:
            return None
        built[node.id] = custom.arguments(node.resolved_params(), inference.inputs[node.id]) if custom is not None \
            else constructor(node.type, node.resolved_params(), inference.inputs[node.id])
    return built


def onnx_at_check_sizes(model, shapes: CheckShapes, input_nodes: dict[str, str]) -> bytes:
    """An ONNX model (serialised, for onnxruntime) that accepts the checked input sizes: the sizes that
    `shapes` reduced, and every size of the outputs, are declared free (`input_nodes`: ONNX input name ->
    Input node id). Only the declarations change, so a graph that is not size-generic fails to run."""
    if not shapes.reduced:
        return model.SerializeToString()
    relaxed = type(model)()
    relaxed.CopyFrom(model)
    graph = relaxed.graph
    for info in graph.input:
        node_id = input_nodes.get(info.name)
        if node_id not in shapes.shapes:
            continue
        for axis, size in enumerate(shapes.shapes[node_id], start=1):
            dim = info.type.tensor_type.shape.dim[axis]
            if dim.HasField("dim_value") and dim.dim_value != size:
                dim.dim_param = f"{info.name}_size_{axis}"
    for info in graph.output:
        for axis, dim in enumerate(info.type.tensor_type.shape.dim[1:], start=1):
            dim.dim_param = f"{info.name}_size_{axis}"
    del graph.value_info[:]  # sizes inferred at the declared shapes
    return relaxed.SerializeToString()
