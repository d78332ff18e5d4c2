"""Causal attention masks in a traced model: the square subsequent mask, as torch builds it
(`nn.Transformer.generate_square_subsequent_mask(T)`: torch.full((T, T), -inf).triu(1)) or as Neurocanvas
writes it (x.new_ones(T, T).triu(1).bool()), given to an attention layer as its mask. The layer's node then
gets causal=True. Each step is followed with a `MaskStep`; anything else built this way is refused."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import fx

from engine.importers.common import Refuse

# the keyword each layer takes its causal mask on, and its is_causal hint
MASK_ARGUMENTS = {
    "MultiheadAttention": ("attn_mask", "is_causal"), "TransformerEncoderLayer": ("src_mask", "is_causal"),
    "TransformerEncoder": ("mask", "is_causal"), "TransformerDecoderLayer": ("tgt_mask", "tgt_is_causal"),
    "TransformerDecoder": ("tgt_mask", "tgt_is_causal"),
}


@dataclass
class MaskStep:
    """A [size, size] tensor on its way to a causal mask: "ones" or "-inf" filled, "upper" (ones above the
    diagonal), or "causal" (done: True or -inf above the diagonal)."""

    size: int
    stage: str


def causal_kwargs(env: dict, type_name: str, kwargs: dict) -> tuple[dict, MaskStep | None]:
    """The call's keyword arguments less a causal mask (and its is_causal hint), and that mask (or None)."""
    mask_name, hint = MASK_ARGUMENTS.get(type_name, (None, None))
    given = kwargs.get(mask_name)
    mask = env.get(given) if isinstance(given, fx.Node) else None
    if not isinstance(mask, MaskStep) or mask.stage != "causal":
        return dict(kwargs), None
    return {k: v for k, v in kwargs.items() if k not in (mask_name, hint)}, mask


def _value(self, arg):
    return self.env.get(arg) if isinstance(arg, fx.Node) else arg


def _square(self, sizes) -> int:
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    sizes = [_value(self, s) for s in sizes]
    if len(sizes) != 2 or not all(isinstance(s, int) for s in sizes) or sizes[0] != sizes[1]:
        raise Refuse(": only a square causal mask built from the sequence length maps (no Neurocanvas node "
                     "makes other constant tensors)")
    return sizes[0]


def new_ones(self, node):
    return MaskStep(_square(self, node.args[1:]), "ones")


def full(self, node):
    fill = node.args[1] if len(node.args) > 1 else node.kwargs.get("fill_value")
    if not (isinstance(fill, float) and math.isinf(fill) and fill < 0):
        raise Refuse(": only torch.full(..., -inf), the start of a causal mask, maps")
    return MaskStep(_square(self, node.args[:1]), "-inf")


def triu(self, node):
    step = _value(self, node.args[0])
    diagonal = node.args[1] if len(node.args) > 1 else node.kwargs.get("diagonal", 0)
    if not isinstance(step, MaskStep) or step.stage not in ("ones", "-inf") or diagonal != 1:
        raise Refuse(": only triu(1) of a square mask (a causal mask) maps")
    return MaskStep(step.size, "upper" if step.stage == "ones" else "causal")


def to_bool(self, node):
    step = _value(self, node.args[0])
    if not isinstance(step, MaskStep) or step.stage != "upper":
        raise Refuse(": only .bool() of a causal mask maps")
    return MaskStep(step.size, "causal")


FUNCTIONS = {torch.full: full, torch.triu: triu}
METHODS = {"new_ones": new_ones, "triu": triu, "bool": to_bool}
