"""Node ids against torch: every id the document accepts compiles under exactly its own name.

Candidates are every Python keyword and builtin, every attribute of a compiled model,
every name torch.fx reserves, names the compiler's helpers would take, and names in
CamelCase or with a trailing newline. Each is either refused by the document with a
reason, or works as the id of an Input, a module, a functional node and a node with
helpers (Add with three inputs, Reshape, LSTM), next to a node named like one of those
helpers, and the model runs with each fx node named after its node.
"""

from __future__ import annotations

import builtins
import keyword

import pytest
import torch
from torch import fx

from engine.compiler import compile_graph, example_inputs
from graphs.document import Graph
from graphs.errors import GraphError
from graphs.names import MAX_LENGTH, id_problem
from tests.reliability.observe import value_node
from tests.reliability.strategies import TRICKY_IDS
from tests.reliability.tally import count


def compiled_model_attributes() -> set[str]:
    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, "x")
    graph.add_node("Linear", {}, "fc")
    graph.connect("x", "fc")
    return set(dir(compile_graph(graph).model)) - {"fc", "x"}


CANDIDATES = sorted(
    compiled_model_attributes() | set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist)
    | set(getattr(fx.graph, "_illegal_names", ())) | set(TRICKY_IDS)
    | {"Conv1", "denseLayer", "HTTPServer", "x\n", "a b", "é", "", "1x", "x" * (MAX_LENGTH + 1)})


def graphs_naming(node_id: str) -> list[Graph]:
    """Small graphs in which `node_id` names an Input, a module, a functional node or a node with helpers."""
    def chain(*layers) -> Graph:
        graph = Graph()
        previous = None
        for type_name, params, name in layers:
            graph.add_node(type_name, params, name)
            if previous is not None:
                node = graph.node(name)
                for port in node.input_ports():
                    if port not in node.spec.optional:  # an LSTM's initial state is left open
                        graph.connect(previous, name, target_port=port)
            previous = name
        return graph

    data = ("Input", {"shape": [3, 4]}, "q_data")
    return [  # each next node takes the name the compiler would have given a helper of `node_id`
        chain(("Input", {"shape": [3, 4]}, node_id), ("Linear", {}, "q_fc")),
        chain(data, ("Linear", {"out_features": 4}, node_id), ("ReLU", {}, "q_act")),
        chain(data, ("Reshape", {"shape": [12]}, node_id), ("Reshape", {"shape": [4, 3]}, f"{node_id}_batch")),
        chain(data, ("Add", {"inputs": 3}, node_id), ("Add", {"inputs": 3}, f"{node_id}_partial1")),
        chain(data, ("LSTM", {"hidden_size": 5, "output": "last"}, node_id), ("Linear", {}, f"{node_id}_output")),
    ]


def check_names(graph: Graph) -> None:
    compiled = compile_graph(graph)
    ids = set(graph.node_ids())
    for node_id in ids:
        assert value_node(compiled.model.graph, node_id, ids) is not None, \
            f"{node_id!r} became {[n.name for n in compiled.model.graph.nodes]}"
    with torch.no_grad():
        compiled.model(*example_inputs(compiled))


@pytest.mark.parametrize("node_id", CANDIDATES, ids=repr)
def test_an_id_is_refused_with_a_reason_or_compiles_under_its_own_name(node_id):
    problem = id_problem(node_id)
    if problem is not None:
        with pytest.raises(GraphError, match="node id"):
            Graph().add_node("ReLU", {}, node_id)
        count("node ids tried against torch", "refused by the document")
        return
    for graph in graphs_naming(node_id):
        check_names(graph)
    count("node ids tried against torch", "accepted: compiled and ran under their own name")
