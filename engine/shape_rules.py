"""Per-node-type shape inference: output shapes, parameter counts and MACs of one node.

The rules themselves live beside the rest of each type's entry in the op table
(`engine.ops`); `infer_node` runs the one for a node and bounds its output size.
Each rule takes the node's resolved params and its input `TensorSpec`s (shapes
without the batch dimension) and returns its output specs, or raises
`ShapeError` with a sentence that says what is wrong and how to fix it. The
formulas follow torch's own shape checks exactly; tests/engine/test_shape_property.py
proves it against real modules with hypothesis. This module imports no torch.
"""

from __future__ import annotations

import math

from engine.ops import OPS, Ctx, NodeInfo, TensorSpec, fmt
from graphs.params import MAX_INT

__all__ = ["RULES", "Ctx", "NodeInfo", "TensorSpec", "fmt", "infer_node"]

RULES = {name: op.shape for name, op in OPS.items()}


def infer_node(node_id: str, type_name: str, params: dict, inputs: dict, op=None) -> NodeInfo:
    """Output specs, params and MACs of one node; raises ShapeError on an impossible input.

    An output of more than MAX_INT values per sample is refused too: torch cannot hold it,
    and without the bound sizes could grow without limit along a chain of layers. `op`: the entry of a
    type outside the op table (a custom layer's, `NodeType.op`)."""
    ctx = Ctx(node_id, type_name, params, inputs)
    info = (op or OPS[type_name]).shape(ctx)
    for spec in info.outputs.values():
        if math.prod(spec.shape) > MAX_INT:
            raise ctx.fail(f"would output more than 2**63 - 1 values per sample ({len(spec.shape)} dims), "
                           "more than torch can hold; reduce its sizes")
    return info
