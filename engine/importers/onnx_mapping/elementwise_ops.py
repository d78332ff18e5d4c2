"""ONNX activations, softmax and arithmetic (Add, Sum, Mul, Sub, Div) as Neurocanvas nodes.

A constant added to or multiplied into the output of Linear/Conv/BatchNorm
(MatMul + Add, Conv + Mul, BatchNorm + scale) is folded into that layer's
weights when nothing else reads the layer's output; any other constant
operand is refused. A mixin of `OnnxImporter`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.importers.common import BATCH, Refuse
from engine.importers.onnx_mapping.values import Dyn, Filled, Sym, clean_float, dims_text, node_hint


class ElementwiseOps:
    def _activation(self, type_name, params=None):
        def handler(node, ins, a):
            return [self._add(type_name, params(a) if callable(params) else (params or {}),
                              [self._dyn(ins[0]).value], node)]
        return handler

    @property
    def _op_Relu(self):
        return self._activation("ReLU")

    @property
    def _op_Sigmoid(self):
        return self._activation("Sigmoid")

    @property
    def _op_Tanh(self):
        return self._activation("Tanh")

    @property
    def _op_LeakyRelu(self):
        return self._activation("LeakyReLU", lambda a: {"negative_slope": clean_float(a.get("alpha", 0.01))})

    @property
    def _op_Elu(self):
        return self._activation("ELU", lambda a: {"alpha": clean_float(a.get("alpha", 1.0))})

    @property
    def _op_Gelu(self):
        return self._activation("GELU", lambda a: {"approximate": a.get("approximate", "none")})

    def _op_fused(self, node, ins, a):
        special = getattr(self, f"_fused_{node.op_type}", None)  # a fusion whose params need the input
        if special is not None:
            return special(node, ins, a)
        return [self._add(node.op_type, a, [self._dyn(ins[0]).value], node)]

    def _op_Softmax(self, node, ins, a):
        return self._softmax(node, ins, a, "Softmax")

    def _op_LogSoftmax(self, node, ins, a):
        return self._softmax(node, ins, a, "LogSoftmax")

    def _softmax(self, node, ins, a, type_name):
        x = self._dyn(ins[0])
        rank = self._rank(x)
        axis = a.get("axis", -1 if self.opset >= 13 else 1)
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis < rank:
            raise Refuse(f": axis {a.get('axis')} is out of range for a tensor of {rank} dims")
        shape = x.value.spec.shape
        if self.opset >= 13 or (axis > 0 and math.prod(shape[axis:]) == 1):
            return [self._add(type_name, {"dim": axis}, [x.value], node)]
        if axis == 0:
            raise Refuse(": before opset 13 it normalises over the batch together with every other dimension")
        # opset < 13 with trailing dims: softmax over the flattened trailing dims
        flat = self.builder.add("Flatten", {"start_dim": axis}, [x.value], node_hint(node))
        out = self.builder.add(type_name, {"dim": -1}, [flat], node_hint(node))
        return [self._add("Reshape", {"shape": list(shape)}, [out], node)]

    def _op_Add(self, node, ins, a):
        return self._arithmetic(node, ins, "add")

    def _op_Sum(self, node, ins, a):
        return self._arithmetic(node, ins, "add")

    def _op_Mul(self, node, ins, a):
        return self._arithmetic(node, ins, "mul")

    def _op_Sub(self, node, ins, a):
        return self._arithmetic(node, ins, "sub")

    def _op_Div(self, node, ins, a):
        return self._arithmetic(node, ins, "div")

    def _arithmetic(self, node, ins, kind):
        if any(isinstance(v, (Sym, Filled)) for v in ins):
            raise Refuse(": it computes with the batch size, which Neurocanvas graphs cannot express")
        dynamic = [v for v in ins if isinstance(v, Dyn)]
        if len(dynamic) == len(ins):
            if len(ins) == 1:
                return [ins[0]]
            if kind in ("sub", "div"):
                word = "subtracts" if kind == "sub" else "divides"
                raise Refuse(f": it {word} two computed tensors; Neurocanvas has no such node")
            if len(ins) > 16:
                raise Refuse(f": it has {len(ins)} inputs; Add and Multiply take at most 16")
            values = [self._dyn(v).value for v in ins]
            return [self._add("Add" if kind == "add" else "Multiply", {"inputs": len(values)}, values, node)]
        if len(ins) != 2 or len(dynamic) != 1:
            raise Refuse(": it combines constants with more than one computed tensor")
        constant_first = not isinstance(ins[0], Dyn)
        x, c = (ins[1], ins[0]) if constant_first else (ins[0], ins[1])
        c = np.asarray(c, dtype=np.float64)
        if kind == "sub":
            if constant_first:
                raise Refuse(": it subtracts a computed tensor from a constant; Neurocanvas has no such node")
            kind, c = "add", -c
        elif kind == "div":
            if constant_first:
                raise Refuse(": it divides a constant by a computed tensor; Neurocanvas has no such node")
            kind, c = "mul", 1.0 / c
        return [self._affine(node, x, c, kind == "add")]

    def _affine(self, node, x: Dyn, c: np.ndarray, add: bool) -> Dyn:
        """x + c or x * c: a no-op, or folded into the bias/scale of the layer that produced x."""
        dims = [1 if d is BATCH else d for d in x.dims()]
        try:
            grown = tuple(np.broadcast_shapes(c.shape, tuple(dims))) != tuple(dims)
        except ValueError:
            raise Refuse(f": the constant of shape {list(c.shape)} does not broadcast to its input "
                         f"{dims_text(x.dims())}") from None
        if not grown and np.all(c == (0.0 if add else 1.0)):
            return x
        producer = self.builder.nodes.get(x.value.node)
        what = f"adds a constant tensor to its input {dims_text(x.dims())}" if add else \
            f"multiplies its input {dims_text(x.dims())} by a constant tensor"
        refuse = Refuse(f": it {what}; Neurocanvas has no node for that (a constant is only "
                        "imported as the bias or scale of the Linear, Conv or BatchNorm that computes its input, "
                        "when nothing else reads that layer's output)")
        if (grown or not x.canonical or producer is None or producer.type not in _FOLDABLE
                or self.refs.get(producer.id) != 1):
            raise refuse
        axis = len(dims) - 1 if producer.type == "Linear" else 1
        full = np.broadcast_to(c, tuple(dims))
        moved = np.moveaxis(full, axis, 0).reshape(dims[axis], -1)
        if not np.all(moved == moved[:, :1]):
            raise refuse
        vector = torch.as_tensor(moved[:, 0].copy(), dtype=torch.float32)
        _FOLDABLE[producer.type](self.builder, producer, vector, add)
        return x


def _fold_linear(builder, node, vector, add):
    if add:
        node.weights["bias"] = node.weights.get("bias", torch.zeros_like(vector)) + vector
        if not node.params.get("bias", True):
            builder.set_params(node.id, bias=True)
    else:
        node.weights["weight"] = node.weights["weight"] * vector.view(-1, *([1] * (node.weights["weight"].dim() - 1)))
        if "bias" in node.weights:
            node.weights["bias"] = node.weights["bias"] * vector


def _fold_transposed(builder, node, vector, add):
    if add:
        _fold_linear(builder, node, vector, add)
        return
    weight = node.weights["weight"]
    groups = node.params.get("groups", 1)
    c_in, per_group = weight.shape[0], weight.shape[1]
    scale = vector.view(groups, 1, per_group, *([1] * (weight.dim() - 2)))
    node.weights["weight"] = (weight.view(groups, c_in // groups, per_group, *weight.shape[2:]) * scale
                              ).reshape(weight.shape)
    if "bias" in node.weights:
        node.weights["bias"] = node.weights["bias"] * vector


def _fold_norm(builder, node, vector, add):
    if add:
        node.weights["bias"] = node.weights["bias"] + vector
    else:
        node.weights["weight"] = node.weights["weight"] * vector
        node.weights["bias"] = node.weights["bias"] * vector


_FOLDABLE = {"Linear": _fold_linear, **{f"Conv{n}d": _fold_linear for n in (1, 2, 3)},
             **{f"ConvTranspose{n}d": _fold_transposed for n in (1, 2, 3)},
             "BatchNorm1d": _fold_norm, "BatchNorm2d": _fold_norm, "BatchNorm3d": _fold_norm}
