"""Where each node of a torch import was made: the user's modules around it (for `unit_grouping`).

torch.fx records, on every traced node, the stack of modules whose forward made it
(`nn_module_stack`). The user's own classes (a ResNet's `BasicBlock`) are the instances that
may become units; torch's containers (`nn.Sequential`, `nn.ModuleList`) are not, but their
numbered items may become a Repeat.
"""

from __future__ import annotations

import re

from torch import fx, nn

from engine.importers.common import GraphBuilder
from engine.importers.torch_mapping.tracing import is_custom
from engine.importers.unit_grouping import Placement

_CONTAINERS = (nn.Sequential, nn.ModuleList)


def placements(module: nn.Module, traced: fx.GraphModule,
               builder: GraphBuilder) -> tuple[dict[str, Placement], set[str]]:
    """(node id -> its Placement, the paths of the containers whose items may become a Repeat)."""
    by_name = {node.name: node for node in traced.graph.nodes}
    sequences = {path for path, sub in module.named_modules() if path and isinstance(sub, _CONTAINERS)}
    found = {}
    for node_id, pending in builder.nodes.items():
        node = by_name.get(pending.hint)
        if node is None or node.op == "placeholder":
            continue
        stack = list((node.meta.get("nn_module_stack") or {}).values())
        if node.op == "call_module" and stack and stack[-1][0] == node.target:
            stack = stack[:-1]  # the layer itself
        scopes = tuple((path, kind.__name__) for path, kind in stack
                       if path and isinstance(kind, type) and is_custom(kind))
        if node.op == "call_module":
            owner = scopes[-1][0] if scopes else ""
            name = node.target[len(owner) + 1:] if owner and node.target.startswith(owner + ".") else node.target
        else:
            name = re.sub(r"_\d+$", "", node.name)
        found[node_id] = Placement(scopes, name)
    return found, sequences
