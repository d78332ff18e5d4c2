"""Run a compiled model and see every catalogue node's actual output (torch.fx Interpreter).

The compiler names each node's op after its node id; modules returning tuples (LSTM,
GRU, MultiheadAttention) are followed by `getitem` helpers that pick the tensor,
so a node's value is its named op followed by any such trailing helpers.
"""

from __future__ import annotations

import operator

import torch
from torch import fx


class Recorder(fx.Interpreter):
    """An Interpreter that keeps every fx node's result by name."""

    def __init__(self, module: fx.GraphModule):
        super().__init__(module)
        self.values: dict[str, object] = {}

    def run_node(self, node: fx.Node):
        result = super().run_node(node)
        self.values[node.name] = result
        return result


def value_node(graph: fx.Graph, node_id: str, node_ids: set[str]) -> fx.Node | None:
    """The fx node holding `node_id`'s output, or None when no fx node carries its name."""
    named = {n.name: n for n in graph.nodes}.get(node_id)
    current = named
    while current is not None and len(current.users) == 1:
        (user,) = current.users
        if user.op != "call_function" or user.target is not operator.getitem or user.name in node_ids:
            break
        current = user
    return current


def run_recording(model: fx.GraphModule, inputs: tuple[torch.Tensor, ...]) -> tuple[object, dict[str, object]]:
    """The model's outputs for `inputs` and every fx node's value by name."""
    recorder = Recorder(model)
    with torch.no_grad():
        outputs = recorder.run(*inputs)
    return outputs, recorder.values
