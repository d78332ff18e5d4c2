"""ONNX ops that map to the tensor types (graphs/families/tensors.py): Sub, Div, MatMul, Max and Min of two
computed tensors; a scalar constant added, subtracted, multiplied or divided (Scale); a constant tensor added
to, concatenated with or broadcast over the batch (a Parameter node holding it: positional embeddings, class
tokens); Exp, Log, Sqrt, Abs, Pow with a constant exponent; ReduceMean/Sum/Max/Min (axes as an attribute or,
opset 18 style, an input); Split (one output port per piece); Gather of one constant index (Select); Slice;
Expand of a computed tensor.

Each handler takes over the operator where these types apply and leaves the rest to the handler it
overrides (folding a constant into the layer before, an embedding lookup, shape arithmetic). A mixin of
`OnnxImporter`, placed before the others.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.importers.common import BATCH, Refuse, Value
from engine.importers.onnx_mapping.values import Dyn, Filled, Sym, node_hint, symbolic
from engine.shape_rules import infer_node
from graphs.catalogue import CATALOGUE

_BINARY = {"sub": "Subtract", "div": "Divide", "add": "Add", "mul": "Multiply"}


class TensorOps:
    # ---- arithmetic ---------------------------------------------------------------------------
    def _op_Add(self, node, ins, a):
        return self._tensor_arithmetic(node, ins, "add", super()._op_Add)

    def _op_Mul(self, node, ins, a):
        return self._tensor_arithmetic(node, ins, "mul", super()._op_Mul)

    def _op_Sub(self, node, ins, a):
        return self._tensor_arithmetic(node, ins, "sub", super()._op_Sub)

    def _op_Div(self, node, ins, a):
        return self._tensor_arithmetic(node, ins, "div", super()._op_Div)

    def _tensor_arithmetic(self, node, ins, kind, fallback):
        """Two computed tensors: Subtract/Divide; one and a constant: folded into the layer before where
        the other mapping can, else Scale (a scalar) or a Parameter node holding the constant."""
        if len(ins) == 2 and all(isinstance(v, Dyn) for v in ins) and kind in ("sub", "div"):
            return [self._add(_BINARY[kind], {}, [self._dyn(v).value for v in ins], node)]
        constants = [v for v in ins if isinstance(v, np.ndarray)]
        if len(ins) != 2 or len(constants) != 1 or not any(isinstance(v, Dyn) for v in ins):
            return fallback(node, ins, {})
        try:
            return fallback(node, ins, {})
        except Refuse:
            pass
        constant_first = isinstance(ins[0], np.ndarray)
        x = self._dyn(ins[1] if constant_first else ins[0])
        c = np.asarray(constants[0], dtype=np.float64)
        if c.size == 1:
            return [self._scale(node, x, float(c.reshape(-1)[0]), kind, constant_first)]
        stored = self._stored(node, c, len(x.value.spec.shape))
        pair = [stored, x.value] if constant_first else [x.value, stored]
        params = {"inputs": 2} if kind in ("add", "mul") else {}
        return [self._add(_BINARY[kind], params, pair, node)]

    def _scale(self, node, x: Dyn, c: float, kind: str, constant_first: bool) -> Dyn:
        if kind == "div" and (constant_first or c == 0.0):
            raise Refuse(": it divides a constant by a computed tensor (or by zero); no Neurocanvas node does")
        scale, bias = {"add": (1.0, c), "mul": (c, 0.0), "sub": (-1.0, c) if constant_first else (1.0, -c),
                       "div": (1.0 / c if c else 0.0, 0.0)}[kind]
        producer = self.builder.nodes.get(x.value.node)
        if (kind in ("add", "sub") and scale == 1.0 and producer is not None and producer.type == "Scale"
                and producer.params.get("bias", 0.0) == 0.0 and self.refs.get(producer.id) == 1):
            self.builder.set_params(producer.id, bias=bias)  # x * a + b: one Scale, computed in the same order
            return x
        return self._add("Scale", {"scale": scale, "bias": bias}, [x.value], node)

    def _stored(self, node, constant: np.ndarray, rank: int) -> Value:
        """A Parameter node holding a constant broadcast against a tensor of `rank` dims (the batch apart)."""
        if constant.ndim > rank + 1:
            raise Refuse(f": the constant of shape {list(constant.shape)} has more dims than its input")
        full = constant.reshape((1,) * (rank + 1 - constant.ndim) + constant.shape)
        if full.shape[0] != 1 and (full == full[:1]).all():
            full = full[:1]  # repeated over the batch of a fixed-batch export (a class token expanded)
        if full.shape[0] != 1:
            raise Refuse(f": the constant of shape {list(constant.shape)} differs along the batch")
        tensor = torch.as_tensor(full.astype(np.float32))
        params = {"shape": list(full.shape[1:]) or [1], "init": "zeros"}
        if not full.shape[1:]:
            tensor = tensor.reshape(1, 1)
        return self.builder.add("Parameter", params, [], f"{node_hint(node) or 'constant'}_value", {"": tensor})

    def _op_Concat(self, node, ins, a):
        """A constant (a class token) concatenated with computed tensors becomes a Parameter node."""
        if not any(isinstance(v, Dyn) for v in ins) or any(isinstance(v, (Sym, Filled)) for v in ins) or \
                all(isinstance(v, Dyn) for v in ins):
            return super()._op_Concat(node, ins, a)
        rank = len(self._dyn(next(v for v in ins if isinstance(v, Dyn))).value.spec.shape)
        values = [Dyn(self._stored(node, np.asarray(v, dtype=np.float64), rank)) if isinstance(v, np.ndarray)
                  else v for v in ins]
        return super()._op_Concat(node, values, a)

    def _op_Expand(self, node, ins, a):
        """A constant broadcast over the batch (a class token): a Parameter node; a computed tensor
        expanded: Expand."""
        data, shape = ins[0], ins[1]
        if isinstance(data, np.ndarray) and isinstance(shape, Sym) and shape.items and shape.items[0] is BATCH and \
                not np.all(data == data.reshape(-1)[0]):
            aligned = data.reshape((1,) * (len(shape.items) - data.ndim) + data.shape)
            target = [1, *(d if n == 1 else int(n) for d, n in zip(aligned.shape[1:], shape.items[1:]))]
            full = np.broadcast_to(aligned, target)
            return [Dyn(self._stored(node, np.ascontiguousarray(full, dtype=np.float64), len(target) - 1))]
        if not isinstance(data, Dyn):
            return super()._op_Expand(node, ins, a)
        x = self._dyn(data)
        items = shape.items if isinstance(shape, Sym) else np.asarray(self._const(shape, "its shape")).tolist()
        dims = (BATCH, *x.value.spec.shape)
        if len(items) != len(dims):
            raise Refuse(": it adds dims; Neurocanvas's Expand keeps the number of dims")
        target = [d if n in (1, BATCH) or n == d else int(n) for d, n in zip(dims, items)]
        if target[0] is not BATCH:
            raise Refuse(": it expands the batch dim")
        return [self._add("Expand", {"size": target[1:]}, [x.value], node)]

    def _binary_or(self, node, ins, type_name, fallback):
        if len(ins) == 2 and all(isinstance(v, Dyn) for v in ins):
            return [self._add(type_name, {}, [self._dyn(v).value for v in ins], node)]
        if fallback is None:
            raise Refuse(f": only two computed tensors map ({type_name}); a constant operand has no node here")
        return fallback(node, ins, {})

    def _op_MatMul(self, node, ins, a):
        return self._binary_or(node, ins, "MatMul", super()._op_MatMul)

    def _op_Max(self, node, ins, a):
        return self._binary_or(node, ins, "Maximum", getattr(super(), "_op_Max", None))

    def _op_Min(self, node, ins, a):
        return self._binary_or(node, ins, "Minimum", getattr(super(), "_op_Min", None))

    # ---- maths and reductions ------------------------------------------------------------------
    def _unary(self, node, ins, type_name, params=None):
        return [self._add(type_name, params or {}, [self._dyn(ins[0]).value], node)]

    def _op_Exp(self, node, ins, a):
        return self._unary(node, ins, "Exp")

    def _op_Log(self, node, ins, a):
        return self._unary(node, ins, "Log")

    def _op_Sqrt(self, node, ins, a):
        return self._unary(node, ins, "Sqrt")

    def _op_Abs(self, node, ins, a):
        return self._unary(node, ins, "Abs")

    def _op_Pow(self, node, ins, a):
        exponent = self._const(ins[1], "its exponent")
        if exponent.size != 1:
            raise Refuse(": only a scalar constant exponent maps to Pow")
        return self._unary(node, ins, "Pow", {"exponent": float(exponent.reshape(-1)[0])})

    def _reduce(self, node, ins, a, type_name):
        x = self._dyn(ins[0])
        if "axes" in a:
            axes = list(a["axes"])
        elif len(ins) > 1 and ins[1] is not None:
            axes = np.asarray(self._const(ins[1], "its axes")).reshape(-1).tolist()
        else:
            axes = []
        if not axes:
            if int(a.get("noop_with_empty_axes", 0)):
                return [x]
            raise Refuse(": it reduces every axis, the batch too; no Neurocanvas node does")
        params = {"dim": [int(d) for d in axes], "keepdim": bool(int(a.get("keepdims", 1)))}
        rank = len(x.value.spec.shape) + 1
        spatial = sorted(d % rank for d in params["dim"])
        if type_name == "Mean" and params["keepdim"] and rank in (3, 4, 5) and spatial == list(range(2, rank)):
            # global average pooling, as torch's dynamo exporter writes AdaptiveAvgPool(1): the same mean
            return [self._add(f"AdaptiveAvgPool{rank - 2}d", {"output_size": 1}, [x.value], node)]
        return [self._add(type_name, params, [x.value], node)]

    def _op_ReduceMean(self, node, ins, a):
        return self._reduce(node, ins, a, "Mean")

    def _op_ReduceSum(self, node, ins, a):
        return self._reduce(node, ins, a, "Sum")

    def _op_ReduceMax(self, node, ins, a):
        return self._reduce(node, ins, a, "Max")

    def _op_ReduceMin(self, node, ins, a):
        return self._reduce(node, ins, a, "Min")

    # ---- cutting -------------------------------------------------------------------------------
    def _op_Split(self, node, ins, a):
        x = self._dyn(ins[0])
        axis = int(a.get("axis", 0))
        dims = (BATCH, *x.value.spec.shape)
        if axis % len(dims) == 0:
            raise Refuse(": it splits the batch")
        size = dims[axis]
        if len(ins) > 1 and ins[1] is not None:
            sections = np.asarray(self._const(ins[1], "its sizes")).reshape(-1).tolist()
        elif "split" in a:
            sections = list(a["split"])
        else:
            count = int(a.get("num_outputs", len(node.output)))
            step = -(-size // count)
            sections = [min(step, size - start) for start in range(0, size, step)]
        params = {"split_size_or_sections": [int(s) for s in sections], "dim": axis}
        value = self._add("Split", params, [x.value], node).value
        pending = self.builder.nodes[value.node]
        info = infer_node(value.node, "Split", CATALOGUE["Split"].resolve_params(pending.params), {"in": x.value.spec})
        return [Dyn(Value(value.node, spec, port)) for port, spec in info.outputs.items()]

    def _op_Gather(self, node, ins, a):
        data, indices = ins[0], ins[1]
        if isinstance(data, Dyn) and not data.kind and isinstance(indices, np.ndarray) and indices.ndim == 0:
            x = self._dyn(data)
            return [self._add("Select", {"dim": int(a.get("axis", 0)), "index": int(indices)}, [x.value], node)]
        return super()._op_Gather(node, ins, a)

    def _op_Slice(self, node, ins, a):
        if not isinstance(ins[0], Dyn):
            return super()._op_Slice(node, ins, a)
        x = self._dyn(ins[0])
        if "starts" in a:  # opset < 10: attributes
            starts, ends = list(a["starts"]), list(a["ends"])
            axes, steps = list(a.get("axes", range(len(starts)))), [1] * len(starts)
        else:
            starts, ends = (np.asarray(self._const(v, "its bounds")).reshape(-1).tolist() for v in ins[1:3])
            axes = np.asarray(self._const(ins[3], "its axes")).reshape(-1).tolist() if len(ins) > 3 and \
                ins[3] is not None else list(range(len(starts)))
            steps = np.asarray(self._const(ins[4], "its steps")).reshape(-1).tolist() if len(ins) > 4 and \
                ins[4] is not None else [1] * len(starts)
        value = x.value
        for start, end, axis, step in zip(starts, ends, axes, steps):
            size = (BATCH, *value.spec.shape)[axis]
            if axis % (len(value.spec.shape) + 1) == 0:
                raise Refuse(": it slices the batch")
            start, end = int(start), int(end)
            if step < 1:
                raise Refuse(": a negative step has no Neurocanvas node")
            if start == 0 and end >= size and step == 1:
                continue
            params = {"dim": int(axis), "start": max(min(start, size), -size), "step": int(step),
                      "end": None if end >= size else max(end, -size)}
            value = self.builder.add("Slice", params, [value], node_hint(node))
        return [Dyn(value)]

    # ---- shape arithmetic of torch's expand(batch, -1, ...) ----------------------------------------
    def _op_Shape(self, node, ins, a):
        if isinstance(ins[0], Sym):  # the shape of a shape vector: its length
            return [np.array([len(ins[0].items)], dtype=np.int64)]
        return super()._op_Shape(node, ins, a)

    def _op_Equal(self, node, ins, a):
        """A shape vector compared with constants (`size == -1`); the batch size is never -1 or 0."""
        shape, other = (ins[0], ins[1]) if isinstance(ins[0], Sym) else (ins[1], ins[0])
        if not isinstance(shape, Sym) or not isinstance(other, np.ndarray):
            raise Refuse(": only a shape compared with constants maps here")
        values = np.broadcast_to(other, (len(shape.items),)).tolist()
        if any(item is BATCH and value > 0 for item, value in zip(shape.items, values)):
            raise Refuse(": it compares the batch size with a size")
        return [np.array([item is not BATCH and item == value for item, value in zip(shape.items, values)])]

    def _op_Where(self, node, ins, a):
        condition, x, y = ins
        if not isinstance(condition, np.ndarray) or not all(isinstance(v, (Sym, np.ndarray)) for v in (x, y)):
            raise Refuse(": only a choice between shape vectors maps here")
        n = condition.size
        pick = [np.broadcast_to(v.items if isinstance(v, Sym) else np.asarray(v).reshape(-1), (n,)).tolist()
                if not isinstance(v, Sym) or len(v.items) == n else None for v in (x, y)]
        if None in pick:
            raise Refuse(": the shape vectors differ in length")
        return [symbolic([p if c else q for c, p, q in zip(condition.reshape(-1).tolist(), *pick)])]
