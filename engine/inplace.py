"""In-place activations where they are safe, as hand-written PyTorch writes them (`nn.ReLU(inplace=True)`).

An activation may overwrite its input when nothing else reads that input and the op that made it does
not need its own output for backward: a convolution, a linear layer, a batch norm, an addition (torch's
own ResNet writes BN -> ReLU(inplace) and `out += identity; relu(out)`). Each one saves a full-size
allocation and a pass over memory per step, which is what kept the compiled ResNet-18 a few percent behind
the hand-written one. The compiler applies it to every model it builds; anything that wants to look at
a node's output after the activation ran (the explain tools' probes) uses copies without it
(`without_inplace`).
"""

from __future__ import annotations

import copy
import operator
from collections import Counter

import torch
from torch import fx, nn

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Hardtanh)  # those whose backward needs only their output
SAFE_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
SAFE_FUNCTIONS = (operator.add, torch.add)


def make_activations_inplace(model: fx.GraphModule) -> int:
    """Set `inplace` on the activations of `model` that may overwrite their input; returns how many.
    A module called from several places becomes in-place only if every call may."""
    calls, safe = Counter(), Counter()
    for node in model.graph.nodes:
        if node.op != "call_module" or not isinstance(model.get_submodule(node.target), ACTIVATIONS):
            continue
        calls[node.target] += 1
        safe[node.target] += _may_overwrite_input(model, node)
    changed = 0
    for target, count in calls.items():
        module = model.get_submodule(target)
        if safe[target] == count and not module.inplace:
            module.inplace = True
            changed += 1
    return changed


def _may_overwrite_input(model: fx.GraphModule, node: fx.Node) -> bool:
    if len(node.args) != 1 or node.kwargs or not isinstance(node.args[0], fx.Node):
        return False
    source = node.args[0]
    if len(source.users) != 1:
        return False  # another node reads the value too
    if source.op == "call_module":
        return isinstance(model.get_submodule(source.target), SAFE_MODULES)
    return source.op == "call_function" and source.target in SAFE_FUNCTIONS


def without_inplace(module: nn.Module) -> nn.Module:
    """`module`, or a shallow copy of it that does not overwrite its input (to read the input afterwards)."""
    if getattr(module, "inplace", False) is True:
        module = copy.copy(module)
        module.inplace = False
    return module
