"""Activations that an exporter spells as chains of element-wise ops (GELU, exact or tanh, SiLU, Mish,
Softsign, LogSigmoid, Tanhshrink, Softplus with beta or threshold, Threshold, as torch exports them)
become one activation node.

A chain is recognised by evaluating it on probe values and comparing with each
catalogue activation, not by its exact spelling. A mixin of `OnnxImporter`:
`_fuse_activations` replaces each such chain by one node in `FUSED_DOMAIN`,
which `ElementwiseOps._op_fused` maps.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import torch

from engine.importers.onnx_mapping.values import FUSED_DOMAIN

_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Pow", "Tanh", "Erf", "Sigmoid", "Exp", "Neg", "Sqrt", "Reciprocal", "Log",
                "Softplus", "Abs", "Greater", "LessOrEqual", "Where"}
_MAX_REGION = 24


class ActivationChains:
    def _fuse_activations(self, live):
        """Replace element-wise chains that compute one catalogue activation of x by a fused node."""
        from onnx import helper

        index = {id(n): i for i, n in enumerate(live)}
        producer = {out: n for n in live for out in n.output if out}
        absorbed: set[int] = set()
        replace: dict[int, object] = {}
        for y in reversed(live):
            if index[id(y)] in absorbed or y.op_type not in _ELEMENTWISE or y.domain not in ("", "ai.onnx"):
                continue
            cone = self._cone(y, producer, absorbed, index)
            if len(cone) < 2:
                continue
            cone_ids = {index[id(n)] for n in cone}
            made = {out for n in cone for out in n.output}
            candidates = [i for n in sorted(cone, key=lambda n: index[id(n)]) for i in n.input
                          if i and i not in made and i not in self.consts]
            candidates += [n.output[0] for n in sorted(cone, key=lambda n: index[id(n)]) if n is not y]
            for x in dict.fromkeys(candidates):
                region = self._region(x, y, cone, cone_ids, index)
                if len(region) < 2 or not self._closed(region, x, y):
                    continue
                found = self._identify(region, x, y)
                if found is None:
                    continue
                type_name, params = found
                fused = helper.make_node(type_name, [x], [y.output[0]], name=y.name, domain=FUSED_DOMAIN, **params)
                region_ids = {index[id(n)] for n in region}
                absorbed |= region_ids
                replace[index[id(y)]] = fused
                break
        return [replace.get(i, n) for i, n in enumerate(live) if i not in absorbed or i in replace]

    def _cone(self, y, producer, absorbed, index):
        cone, stack = [y], [y]
        seen = {id(y)}
        while stack and len(cone) < _MAX_REGION:
            node = stack.pop()
            for name in node.input:
                p = producer.get(name)
                if (p is None or id(p) in seen or p.op_type not in _ELEMENTWISE or p.domain not in ("", "ai.onnx")
                        or index[id(p)] in absorbed or name in self.consts):
                    continue
                seen.add(id(p))
                cone.append(p)
                stack.append(p)
        return cone

    @staticmethod
    def _region(x, y, cone, cone_ids, index):
        """The nodes of `cone` on a path from value x to node y."""
        ordered = sorted(cone, key=lambda n: index[id(n)])
        reach, region = {x}, []
        for node in ordered:
            if any(i in reach for i in node.input):
                region.append(node)
                reach.update(o for o in node.output if o)
        if not region or region[-1] is not y:
            return []
        # keep only nodes that lead to y
        needed, keep = {y.output[0]}, []
        for node in reversed(region):
            if any(o in needed for o in node.output):
                keep.append(node)
                needed.update(node.input)
        return list(reversed(keep))

    def _closed(self, region, x, y) -> bool:
        made = {o for n in region for o in n.output if o}
        uses = Counter(i for n in region for i in n.input if i)
        for node in region:
            for name in node.input:
                if not name or name == x or name in made:
                    continue
                if name not in self.consts or self.consts[name].size != 1:
                    return False
            if len([o for o in node.output if o]) != 1:
                return False
        inner = made - {y.output[0]}
        return all(self.consumers[o] == uses[o] for o in inner) and uses[x] >= 1

    def _identify(self, region, x, y):
        """Evaluate the chain on probe values and name the catalogue activation it computes, if any."""
        probe = np.concatenate([np.linspace(-8.0, 8.0, 161), [-0.37, 0.123, 2.71, -3.3]])
        values = {x: probe}
        with np.errstate(all="ignore"):
            for node in region:
                args = [values[i] if i in values else float(self.consts[i].reshape(-1)[0]) for i in node.input]
                values[node.output[0]] = _ELEMENTWISE_EVAL[node.op_type](*args)
            got = np.asarray(values[y.output[0]], dtype=np.float64)
            if got.shape != probe.shape or not np.all(np.isfinite(got)):
                return None
            constants = sorted({float(self.consts[i].reshape(-1)[0]) for n in region for i in n.input
                                if i in self.consts})
            for type_name, params, reference in [*_ACTIVATION_PROBES, *_parametric_probes(constants)]:
                want = reference(probe)
                if np.all(np.abs(got - want) <= 1e-6 + 1e-5 * np.abs(want)):
                    return type_name, params
        return None


def _erf(v):
    return torch.special.erf(torch.as_tensor(v, dtype=torch.float64)).numpy()


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-np.asarray(v, dtype=np.float64)))


_ELEMENTWISE_EVAL = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power,
    "Tanh": np.tanh, "Erf": _erf, "Sigmoid": _sigmoid, "Exp": np.exp, "Neg": np.negative, "Sqrt": np.sqrt,
    "Reciprocal": lambda v: 1.0 / v, "Log": np.log, "Softplus": lambda v: np.logaddexp(0.0, v), "Abs": np.abs,
    "Greater": np.greater, "LessOrEqual": np.less_equal, "Where": np.where,
}


def _softplus(p, beta=1.0, threshold=20.0):
    return np.where(beta * p > threshold, p, np.logaddexp(0.0, beta * p) / beta)


def _parametric_probes(constants):
    """Activations whose params a chain holds as its constants (Softplus's beta and threshold, Threshold's
    threshold and value): each candidate reading of them."""
    for beta in {1.0, *constants} - {0.0}:
        for threshold in {20.0, *constants}:
            yield ("Softplus", {"beta": beta, "threshold": threshold},
                   lambda p, b=beta, t=threshold: _softplus(p, b, t))
    for threshold in constants:
        for value in constants:
            yield ("Threshold", {"threshold": threshold, "value": value},
                   lambda p, t=threshold, v=value: np.where(p > t, p, v))

_ACTIVATION_PROBES = [
    ("GELU", {"approximate": "none"}, lambda p: 0.5 * p * (1.0 + _erf(p / math.sqrt(2.0)))),
    ("GELU", {"approximate": "tanh"},
     lambda p: 0.5 * p * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (p + 0.044715 * p ** 3)))),
    ("SiLU", {}, lambda p: p * _sigmoid(p)),
    ("Mish", {}, lambda p: p * np.tanh(_softplus(p))),
    ("Softsign", {}, lambda p: p / (1.0 + np.abs(p))),
    ("LogSigmoid", {}, lambda p: -np.logaddexp(0.0, -p)),
    ("Tanhshrink", {}, lambda p: p - np.tanh(p)),
    ("Sigmoid", {}, _sigmoid),
    ("Tanh", {}, np.tanh),
]
