"""Random graphs over the whole catalogue: where `check_sizes` finds input sizes it can make smaller, the
compiled model really runs at them, its outputs have the shapes inferred at them, and the graph compiled
at them holds the very same parameters. (The real sizes are small here, so the sizes tried are 2 and 3.)
"""

from __future__ import annotations

import warnings

import torch
from hypothesis import given, settings

from engine.check_sizes import smaller_shapes
from engine.compiler import CompileError, compile_graph, example_inputs
from engine.shapes import infer
from graphs.errors import GraphError
from tests.reliability.strategies import graphs
from tests.reliability.tally import count, examples

SUBJECT = "check sizes of random graphs"
BATCH = 2


@settings(max_examples=examples(120), deadline=None)
@given(graph=graphs(max_layers=5))
def sizes_made_smaller_give_the_same_model(graph):
    shapes = infer(graph)
    try:
        compiled = compile_graph(graph, shapes)
    except (CompileError, GraphError):
        count(SUBJECT, "not compiled")
        return
    declared = {node_id: shapes.info[node_id].outputs["out"].shape for node_id in compiled.inputs}
    found = smaller_shapes(graph, shapes, declared, (2, 3))
    if found is None:
        count(SUBJECT, "no size free")
        return
    small, inference = found
    assert any(small[n] != declared[n] for n in declared)
    compiled.model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outputs = compiled.model(*example_inputs(compiled, BATCH, shapes=small))
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    for (node_id, port), output in zip(compiled.output_sources, outputs):
        assert tuple(output.shape) == (BATCH, *inference.info[node_id].outputs[port].shape), node_id
    at_small = graph.copy()
    for node_id, shape in small.items():
        at_small.set_param(node_id, "shape", list(shape))
    small_inference = infer(at_small)
    if not small_inference.errors:  # (a Target fixed at the declared size may make the whole graph invalid)
        rebuilt = compile_graph(at_small, small_inference).model.state_dict()
        assert {k: v.shape for k, v in rebuilt.items()} == {k: v.shape for k, v in compiled.model.state_dict().items()}
    count(SUBJECT, "made smaller, same model")


def test_sizes_made_smaller_give_the_same_model():
    sizes_made_smaller_give_the_same_model()
