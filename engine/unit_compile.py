"""Compile a graph with units: its expansion, with each instance a submodule of its own class.

The expansion's layers have dotted ids (`layer1.0.conv1`), so torch.fx's `GraphModule` makes the
intermediate modules and `state_dict` keys read `layer1.0.conv1.weight`, as in hand-written code.
Those intermediate modules are then given classes: an instance of unit `BasicBlock` becomes a
`BasicBlock` module (one class per unit, its docstring the unit's doc), a Repeat an `nn.Sequential`
of them. The model's `forward` stays the flat, readable fx code; a unit module holds its layers'
weights and is not called on its own (the Python export writes units with their own forward).
Errors found on the expansion are moved onto the instance they come from.
"""

from __future__ import annotations

from torch import nn

from engine.compiler import CompiledGraph, CompileError, compile_graph
from engine.shapes import InferenceResult, infer
from graphs.document import Graph
from graphs.units import REPEAT, expand


class UnitModule(nn.Module):
    """The base of the classes made for units: a container of an instance's layers."""

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} holds the weights of one unit instance; the model's "
                                  "forward runs its layers (export the model to Python for a class with its own "
                                  "forward)")


def compile_units(graph: Graph, shapes: InferenceResult | None = None) -> CompiledGraph:
    if shapes is not None and shapes.expanded is not None and not shapes.expanded.live:
        expanded, flat_shapes = shapes.expanded, shapes.flat
    else:
        expanded = expand(graph)
        flat_shapes = infer(expanded.graph)
    if expanded.errors:
        raise CompileError(expanded.errors + (expanded.map_errors(flat_shapes.errors) if expanded.complete else []))
    try:
        compiled = compile_graph(expanded.graph, flat_shapes)
    except CompileError as error:
        raise CompileError(expanded.map_errors(error.errors)) from None
    unit_classes(compiled.model, expanded, graph)
    compiled.expanded, compiled.source = expanded, graph
    return compiled


def unit_classes(model: nn.Module, expanded, graph: Graph) -> None:
    """Give each instance's module its unit's class, and each Repeat's an nn.Sequential (innermost first,
    so an outer module takes its already converted children)."""
    classes: dict[str, type] = {}
    for scope in reversed(expanded.scopes):
        parent_name, _, name = scope.prefix.rpartition(".")
        try:
            parent = model.get_submodule(parent_name) if parent_name else model
            old = getattr(parent, name)
        except AttributeError:  # the instance has no module at all (only functions such as Add)
            continue
        if scope.unit == REPEAT:
            new = nn.Sequential()
        else:
            cls = classes.get(scope.unit)
            if cls is None:
                doc = scope.doc or f"Unit {scope.unit}."
                cls = classes[scope.unit] = type(scope.unit, (UnitModule,), {"__doc__": doc})
            new = cls()
        new._modules, new._parameters, new._buffers = old._modules, old._parameters, old._buffers
        new.training = old.training
        setattr(parent, name, new)
