"""The op table: one entry per node type, the engine's whole knowledge of it.

`OPS[type name]` is an `Op` holding the shape rule, the `torch.nn` class (a name)
or the functional call that builds it, and how `forward` uses it. The catalogue
(`graphs.catalogue`) says what a type *is* (ports, params); this table says what
the engine *does* with it. Both are read by name, so adding a node type is one
catalogue entry plus one entry here; tests/engine/test_op_coverage.py checks
that every catalogue type has both. No torch is imported here.

Families: `convolution` (Linear, Embedding, ConvNd, ConvTransposeNd), `pooling`,
`normalisation`, `sequence` (recurrent layers, attention), `transformer` (the Transformer
stacks and decoder layer), `positional` (positional encodings), `tensor_ops` (data, shape and merge,
activations), `losses`, `tensors` (Parameter, arithmetic, reductions, Split & co, Sample).
"""

from __future__ import annotations

from engine.ops import (
    activations,
    convolution,
    losses,
    normalisation,
    norms,
    pooling,
    positional,
    resampling,
    sequence,
    tensor_ops,
    tensors,
    transformer,
)
from engine.ops.base import Ctx, Emitter, NodeInfo, Op, TensorSpec, fmt

OPS: dict[str, Op] = {
    **tensor_ops.OPS, **convolution.OPS, **pooling.OPS, **normalisation.OPS, **sequence.OPS, **losses.OPS,
    **transformer.OPS, **positional.OPS, **tensors.OPS,
    **activations.OPS, **norms.OPS, **resampling.OPS,  # graphs/families/{activations,normalisation,resampling}
}

__all__ = ["OPS", "Ctx", "Emitter", "NodeInfo", "Op", "TensorSpec", "fmt"]
