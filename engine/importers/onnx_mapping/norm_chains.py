"""Layer normalisation that an exporter writes out as separate ops becomes one LayerNorm node.

The spelling recognised (older exporters and other producers write it so):
ReduceMean(x) -> Sub(x, mean) -> Pow(d, 2) or Mul(d, d) -> ReduceMean -> Add(eps) -> Sqrt -> Div(d, .),
optionally followed by Mul(gamma) and Add(beta), both means over the same trailing axes with keepdims.
A mixin of `OnnxImporter`: `_fuse_layer_norms` replaces each such chain by one `LayerNorm` node in
`FUSED_DOMAIN`, which `_fused_LayerNorm` maps with the chain's eps and its gamma / beta as weights.
A chain whose parts differ (the variance over other axes, an inner value used elsewhere, ...) is left
alone and maps op by op.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import torch

from engine.importers.common import Refuse
from engine.importers.onnx_mapping.values import FUSED_DOMAIN, Dyn, clean_float


class NormChains:
    def _fuse_layer_norms(self, live):
        """Replace each written-out layer normalisation (with its affine Mul / Add) by one fused node."""
        from onnx import helper

        producer = {out: n for n in live for out in n.output if out}
        users: dict[str, list] = {}
        for n in live:
            for name in dict.fromkeys(i for i in n.input if i):
                users.setdefault(name, []).append(n)
        absorbed: set[int] = set()
        replace: dict[int, object] = {}
        for div in live:
            if div.op_type != "Div" or not _standard(div) or id(div) in absorbed:
                continue
            core = self._layer_norm_core(div, producer)
            if core is None:
                continue
            x, axes, eps, chain = core
            gamma = beta = ""
            last = div
            follower = self._sole_user(last, users)
            if follower is not None and follower.op_type == "Mul" and _standard(follower):
                gamma = self._affine_operand(follower, last.output[0], len(axes))
                if gamma:
                    chain, last = [*chain, follower], follower
            follower = self._sole_user(last, users)
            if follower is not None and follower.op_type == "Add" and _standard(follower):
                beta = self._affine_operand(follower, last.output[0], len(axes))
                if beta:
                    chain, last = [*chain, follower], follower
            if any(id(n) in absorbed for n in chain) or not self._only_inside(chain, last):
                continue
            absorbed |= {id(n) for n in chain}
            replace[id(last)] = helper.make_node("LayerNorm", [x, gamma, beta], [last.output[0]], name=last.name,
                                                 domain=FUSED_DOMAIN, axes=axes, epsilon=eps)
        return [replace.get(id(n), n) for n in live if id(n) not in absorbed or id(n) in replace]

    def _layer_norm_core(self, div, producer):
        """(x, axes, eps, nodes) when `div` ends ReduceMean -> Sub -> square -> ReduceMean -> Add(eps) -> Sqrt."""
        sub, sqrt = producer.get(div.input[0]), producer.get(div.input[1])
        if not (_is(sub, "Sub") and _is(sqrt, "Sqrt")):
            return None
        x, d = sub.input[0], sub.output[0]
        mean = producer.get(sub.input[1])
        add = producer.get(sqrt.input[0])
        if not (_is(mean, "ReduceMean") and mean.input[0] == x and _is(add, "Add")):
            return None
        eps_name = next((i for i in add.input if i in self.consts and self.consts[i].size == 1), None)
        if eps_name is None:
            return None
        var = producer.get(add.input[1] if add.input[0] == eps_name else add.input[0])
        if not _is(var, "ReduceMean"):
            return None
        square = producer.get(var.input[0])
        if not (_is(square, "Pow") and square.input[0] == d and _scalar(self.consts.get(square.input[1]), 2.0)
                or _is(square, "Mul") and list(square.input) == [d, d]):
            return None
        axes = self._trailing_axes(mean, x)
        if axes is None or self._trailing_axes(var, x) != axes:
            return None
        eps = float(self.consts[eps_name].reshape(-1)[0])
        return x, axes, eps, [mean, sub, square, var, add, sqrt, div]

    def _trailing_axes(self, reduce, x):
        """The axes a keepdims ReduceMean averages, as negative trailing axes (-k .. -1), or None."""
        if not int(_attribute(reduce, "keepdims", 1)):
            return None
        axes = _attribute(reduce, "axes", None)
        if axes is None and len(reduce.input) > 1 and reduce.input[1] in self.consts:
            axes = self.consts[reduce.input[1]].reshape(-1).tolist()
        if not axes:
            return None
        if any(a >= 0 for a in axes):  # positive axes need the rank of x
            rank = self._rank(self.env[x]) if isinstance(self.env.get(x), Dyn) else self._inferred_ranks.get(x)
            if rank is None:
                return None
            axes = [a - rank if a >= 0 else a for a in axes]
        axes = sorted(int(a) for a in axes)
        return axes if axes == list(range(-len(axes), 0)) else None

    @cached_property
    def _inferred_ranks(self) -> dict[str, int]:
        """The rank of each value ONNX shape inference can tell (none when it fails)."""
        import onnx

        try:
            graph = onnx.shape_inference.infer_shapes(self.model).graph
        except Exception:  # noqa: BLE001 - a model shape inference cannot read: no ranks
            return {}
        return {i.name: len(i.type.tensor_type.shape.dim) for i in [*graph.value_info, *graph.input, *graph.output]
                if i.type.HasField("tensor_type") and i.type.tensor_type.HasField("shape")}

    def _affine_operand(self, node, value: str, dims: int) -> str:
        """The stored tensor `node` combines with `value`, when it is a per-element affine over the last `dims`
        axes (at most `dims` axes once leading ones are dropped); '' otherwise."""
        other = [i for i in node.input if i != value]
        if len(other) != 1 or other[0] not in self.consts:
            return ""
        shape = list(self.consts[other[0]].shape)
        while shape and shape[0] == 1:
            shape.pop(0)
        return other[0] if len(shape) <= dims else ""

    @staticmethod
    def _sole_user(node, users):
        found = users.get(node.output[0], [])
        return found[0] if len(found) == 1 else None

    def _only_inside(self, chain, last) -> bool:
        """Every value the chain makes, but its last, is used only by the chain (and not a graph output)."""
        uses: dict[str, int] = {}
        for n in chain:
            for i in n.input:
                uses[i] = uses.get(i, 0) + 1
        return all(len([o for o in n.output if o]) == 1 for n in chain) and all(
            self.consumers[n.output[0]] == uses.get(n.output[0], 0) for n in chain if n is not last)

    def _fused_LayerNorm(self, node, ins, a):
        x = self._dyn(ins[0])
        rank, dims = self._rank(x), len(a["axes"])
        if dims >= rank:
            raise Refuse(": its written-out layer normalisation averages over the batch too")
        trailing = tuple(x.value.spec.shape[rank - 1 - dims:])
        weights = {}
        for key, what, value in (("weight", "its gamma", ins[1]), ("bias", "its beta", ins[2])):
            if value is not None:
                tensor = self._const(value, what).astype(np.float32)
                tensor = tensor.reshape(tensor.shape[max(tensor.ndim - dims, 0):])  # drop leading ones
                weights[key] = torch.as_tensor(np.broadcast_to(tensor, trailing).copy())
        if weights and "weight" not in weights:
            weights["weight"] = torch.ones(trailing)
        params = {"normalized_dims": dims, "eps": clean_float(a["epsilon"]), "elementwise_affine": bool(weights),
                  "bias": "bias" in weights}
        return [self._add("LayerNorm", params, [x.value], node, weights or None)]


def _standard(node) -> bool:
    return node.domain in ("", "ai.onnx")


def _is(node, op_type: str) -> bool:
    return node is not None and node.op_type == op_type and _standard(node)


def _scalar(value, want: float) -> bool:
    return value is not None and value.size == 1 and float(value.reshape(-1)[0]) == want


def _attribute(node, name: str, default):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default
