"""The last step of grouping an import into units: the grouped graph must compute exactly what the flat
import does, and a summary of the units it holds (`engine.importers.unit_grouping`)."""

from __future__ import annotations

from collections import Counter

import torch

from engine.importers.common import ImportResult
from graphs.document import Graph
from graphs.project import Project
from graphs.units import REPEAT


class NotGrouped(Exception):
    """The model cannot be grouped into units; the message says why (the flat import is kept)."""


def checked(result: ImportResult, document: Graph, renamed: dict[str, str]) -> ImportResult:
    """The grouped import, compiled with the flat one's weights and checked to compute exactly the same."""
    from engine.check_sizes import check_inputs, check_shapes
    from engine.compiler import CompileError, compile_graph

    try:
        with torch.random.fork_rng(devices=[]):
            compiled = compile_graph(document)
    except CompileError as error:
        raise NotGrouped(f"the grouped graph does not compile ({error})") from None
    flat = result.compiled
    weights = {}
    for key, tensor in result.weights.items():
        node_id, dot, rest = key.partition(".")
        weights[renamed[node_id] + dot + rest] = tensor
    missing, unexpected = compiled.model.load_state_dict(weights, strict=False, assign=True)
    if missing or unexpected:
        raise NotGrouped(f"its weights do not fit the grouped graph (missing {missing[:3]}, unexpected "
                         f"{unexpected[:3]})")
    compiled.model.eval()
    sources = {(renamed.get(node, node), port): name for name, (node, port) in
               zip(flat.outputs, flat.output_sources)}
    names = dict(zip(compiled.outputs, compiled.output_sources))
    new_name = {sources[source]: name for name, source in names.items() if source in sources}
    if len(new_name) != len(flat.outputs) or [new_name[n] for n in flat.outputs] != compiled.outputs:
        raise NotGrouped("its outputs come out in another order")
    inputs = check_inputs(flat, 2, 0, check_shapes(flat, 2, ""))
    with torch.no_grad():
        want, got = flat.model(*inputs), compiled.model(*inputs)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    if any(not torch.equal(a, b) for a, b in zip(want, got)):
        raise NotGrouped("the grouped graph does not compute exactly what the flat one does")
    project = Project(graph=document, name=result.project.name)
    outputs = {label: new_name[name] for label, name in result.outputs.items()}
    return ImportResult(project, compiled.model.state_dict(), outputs, dict(result.inputs), list(result.notes),
                        compiled)


def unit_uses(graph: Graph) -> Counter:
    """How many instances of each unit the model holds, at any depth (a Repeat counts its copies)."""
    uses = Counter()
    for where in [graph, *(graph.unit_graph(name) for name in graph.units)]:
        for node in where.nodes():
            if node.type == REPEAT:
                uses[node.params["unit"]] += node.resolved_params()["count"]
            elif node.type in graph.units:
                uses[node.type] += 1
    return uses


def unit_summary(graph: Graph) -> str:
    """`BasicBlock (5), BasicBlock_downsample (3)`: each unit and how often it is used."""
    uses = unit_uses(graph)
    return ", ".join(f"{name} ({uses[name]})" for name in graph.units)
