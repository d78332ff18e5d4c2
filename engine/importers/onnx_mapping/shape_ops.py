"""ONNX ops that move, merge or compute shapes: Reshape, Flatten, Concat, Transpose, Squeeze,
Unsqueeze, Identity, Cast (as ToDtype where the element type changes), the shape arithmetic (Shape, Slice, ConstantOfShape, Expand), and Gather
(of shape entries, or rows of a stored table as an Embedding).

Transposes, Squeeze and Unsqueeze are kept as views (`Dyn.axes`) until a node
needs the tensor; shape arithmetic is followed with the batch size as the
symbol `BATCH`, so `x.reshape(x.size(0), ...)` becomes a plain Reshape. A
mixin of `OnnxImporter`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.importers.common import BATCH, Refuse
from engine.importers.onnx_mapping.values import (
    DTYPES,
    Dyn,
    Filled,
    Part,
    Sym,
    dims_text,
    node_label,
    symbolic,
)


class ShapeOps:
    def _op_Identity(self, node, ins, a):
        return [ins[0]]

    def _op_Cast(self, node, ins, a):
        if isinstance(ins[0], (Sym, Filled)):
            return [ins[0]]
        x = ins[0]
        dtype = DTYPES.get(a.get("to"))
        if dtype is None:
            raise Refuse(f": it casts to ONNX element type {a.get('to')}; ToDtype casts to float32 or int64 only")
        if dtype == x.value.spec.dtype:
            return [x]
        return [self._add("ToDtype", {"dtype": dtype}, [self._dyn(x).value], node)]

    def _op_Concat(self, node, ins, a):
        axis = int(a.get("axis", 0))
        if any(name in self.final_states for name in node.input):
            return self._state_stack(node, axis)
        if any(isinstance(v, (Sym, Filled)) for v in ins) or all(not isinstance(v, Dyn) for v in ins):
            items = []
            for v in ins:
                items.extend(v.items if isinstance(v, Sym) else np.asarray(v).reshape(-1).tolist())
            return [symbolic(items)]
        if any(not isinstance(v, Dyn) for v in ins):
            raise Refuse(": it concatenates a constant tensor; Neurocanvas has no constant node")
        if len(ins) == 1:
            return [ins[0]]
        if len(ins) > 16:
            raise Refuse(f": it has {len(ins)} inputs; Concat takes at most 16")
        values = [self._dyn(v).value for v in ins]
        return [self._add("Concat", {"inputs": len(values), "dim": axis}, values, node)]

    def _op_Flatten(self, node, ins, a):
        x = self._dyn(ins[0])
        rank = self._rank(x)
        axis = int(a.get("axis", 1))
        axis = axis + rank if axis < 0 else axis
        shape = x.value.spec.shape
        if axis == 0 or math.prod(shape[:axis - 1]) != 1:
            raise Refuse(f": axis={a.get('axis', 1)} merges the batch with other dimensions "
                         f"({dims_text(x.dims())}); Neurocanvas keeps the batch apart")
        if not shape:  # [batch] -> [batch, 1]
            return [self._add("Reshape", {"shape": [1]}, [x.value], node)]
        return [self._add("Flatten", {"start_dim": 1, "end_dim": -1}, [x.value], node)]

    def _op_Reshape(self, node, ins, a):
        data, shape = ins[0], ins[1]
        if isinstance(data, Filled):
            return [data]
        if isinstance(data, Sym):
            return [data]
        if isinstance(shape, Dyn) or shape is None:
            raise Refuse(": its target shape is computed from tensor values, not known when importing")
        entries = list(shape.items) if isinstance(shape, Sym) else [int(v) for v in np.asarray(shape).reshape(-1)]
        if any(isinstance(ax, Part) for ax in data.axes_list()):
            return [self._merge_directions(node, data, entries, int(a.get("allowzero", 0)))]
        if not data.canonical:
            view = self._reshape_view(node, data, entries, int(a.get("allowzero", 0)))
            if view is not None:
                return [view]
        x = self._dyn(data)
        dims = [BATCH, *x.value.spec.shape]
        allowzero = int(a.get("allowzero", 0))
        target = []
        for i, e in enumerate(entries):
            if e is not BATCH and e == 0 and not allowzero:
                if i >= len(dims):
                    raise Refuse(f": shape {entries} copies dimension {i}, which its input lacks")
                e = dims[i]
            target.append(e)
        if not target:
            raise Refuse(": it reshapes to a scalar, dropping the batch")
        first, rest = target[0], target[1:]
        if any(e is BATCH for e in rest):
            raise Refuse(f": shape {dims_text(target)} moves the batch dimension; Neurocanvas keeps it first")
        per_sample = math.prod(x.value.spec.shape)
        known = math.prod(e for e in rest if e != -1)
        if any(e < -1 or e == 0 for e in rest) or rest.count(-1) > 1:
            raise Refuse(f": shape {dims_text(target)} is not a valid reshape for Neurocanvas")
        batch_ok = first is BATCH or (first == -1 and -1 not in rest and known == per_sample) or (
            self.fixed_batch is not None and first == self.fixed_batch
            and (known == per_sample if -1 not in rest else per_sample % known == 0))
        if not batch_ok:
            raise Refuse(f": shape {dims_text(target)} changes the batch dimension of its input {dims_text(dims)}")
        resolved = [per_sample // known if e == -1 else e for e in rest]
        if math.prod(resolved) != per_sample:
            raise Refuse(f": cannot reshape {dims_text(dims)} to {dims_text(target)}")
        if tuple(resolved) == x.value.spec.shape:
            return [x]
        return [self._add("Reshape", {"shape": rest}, [x.value], node)]

    def _reshape_view(self, node, x: Dyn, entries, allowzero) -> Dyn | None:
        """A reshape of a view that only adds or drops axes of size 1 stays a view (None if it does more)."""
        axes, dims = x.axes_list(), x.dims()
        target = [dims[i] if (e is not BATCH and e == 0 and not allowzero and i < len(dims)) else e
                  for i, e in enumerate(entries)]
        source = [(ax, d) for ax, d in zip(axes, dims) if d != 1]
        kept = [t for t in target if t != 1]
        if len(kept) != len(source) or kept.count(-1) > 1:
            return None
        if not all(t == -1 or t is d or (t is not BATCH and d is not BATCH and t == d) for t, (_, d) in
                   zip(kept, source)):
            return None
        remaining = iter(ax for ax, _ in source)
        return x.view([None if t == 1 else next(remaining) for t in target], node_label(node))

    def _merge_directions(self, node, x: Dyn, entries, allowzero) -> Dyn:
        """[T, batch, 2, H] -> [T, batch, 2H]: merging the directions of a bidirectional RNN output back."""
        axes, dims = x.axes_list(), x.dims()
        merged, i = [], 0
        while i < len(axes):
            ax = axes[i]
            if isinstance(ax, Part) and ax.index == 0 and i + 1 < len(axes) and axes[i + 1] == Part(ax.axis, 1,
                                                                                                    ax.count):
                merged.append(ax.axis)
                i += 2
            else:
                merged.append(ax)
                i += 1
        view = x.view(merged, node_label(node))
        target = [dims[i] if (e is not BATCH and e == 0 and not allowzero and i < len(dims)) else e
                  for i, e in enumerate(entries)]
        new = view.dims()
        fits = len(target) == len(new) and target.count(-1) <= 1 and all(
            t == -1 or t is d or t == d for t, d in zip(target, new))
        if any(isinstance(ax, Part) for ax in merged) or not fits:
            raise Refuse(f": it reshapes the output of a bidirectional LSTM/GRU {dims_text(dims)} to "
                         f"{dims_text(target)}, which Neurocanvas cannot express")
        return view

    def _op_Transpose(self, node, ins, a):
        x = ins[0]
        if not isinstance(x, Dyn):
            raise Refuse(": it transposes values computed from the model's shape")
        axes = x.axes_list()
        perm = list(a.get("perm", range(len(axes) - 1, -1, -1)))
        if sorted(perm) != list(range(len(axes))):
            raise Refuse(f": perm {perm} is not a permutation of its {len(axes)} dims")
        return [x.view([axes[p] for p in perm], node_label(node))]

    def _axes_argument(self, node, ins, a, rank):
        if "axes" in a:
            axes = list(a["axes"])
        elif len(ins) > 1 and ins[1] is not None:
            axes = [int(v) for v in np.asarray(self._const(ins[1], "its axes")).reshape(-1)]
        else:
            return None
        return sorted(ax + rank if ax < 0 else ax for ax in axes)

    def _op_Squeeze(self, node, ins, a):
        x = ins[0]
        if isinstance(x, Filled):
            return [x]
        if isinstance(x, Sym):
            if len(x.items) != 1:
                raise Refuse(": it squeezes a shape vector of more than one entry")
            return [symbolic(x.items, scalar=True)]
        axes_now = x.axes_list()
        dims = x.dims()
        squeeze = self._axes_argument(node, ins, a, len(axes_now))
        if squeeze is None:
            squeeze = [i for i, d in enumerate(dims) if d == 1 and axes_now[i] != 0]
            if self.fixed_batch == 1 and axes_now and 0 in axes_now:
                raise Refuse(": it squeezes every size-1 dimension, and the batch here is fixed at 1")
        for i in squeeze:
            if axes_now[i] == 0:
                raise Refuse(": it squeezes away the batch dimension")
            if dims[i] != 1:
                raise Refuse(f": dimension {i} of {dims_text(dims)} is not 1")
        return [x.view([ax for i, ax in enumerate(axes_now) if i not in squeeze], node_label(node))]

    def _op_Unsqueeze(self, node, ins, a):
        x = ins[0]
        if isinstance(x, Filled):
            return [x]
        if isinstance(x, Sym):
            if not x.scalar:
                raise Refuse(": it unsqueezes a shape vector")
            return [Sym(x.items)]
        axes_now = x.axes_list()
        insert = self._axes_argument(node, ins, a, len(axes_now) + len(
            a.get("axes", []) or (np.asarray(ins[1]).reshape(-1) if len(ins) > 1 and ins[1] is not None else [])))
        if insert is None:
            raise Refuse(": it has no axes")
        axes = list(axes_now)
        for i in insert:
            axes.insert(i, None)
        return [x.view(axes, node_label(node))]

    def _op_Shape(self, node, ins, a):
        x = ins[0]
        if not isinstance(x, Dyn):
            raise Refuse(": it takes the shape of a computed shape")
        dims = x.dims()
        start, end = a.get("start", 0), a.get("end", len(dims))
        return [symbolic(dims[slice(start, end)])]

    def _op_Size(self, node, ins, a):
        raise Refuse(": it computes with the batch size, which Neurocanvas graphs cannot express")

    def _op_ConstantOfShape(self, node, ins, a):
        from onnx import numpy_helper

        value = numpy_helper.to_array(a["value"]).reshape(-1)[0] if "value" in a else 0.0
        return [Filled(float(value))]

    def _op_Expand(self, node, ins, a):
        if isinstance(ins[0], Filled):  # zeros broadcast to [layers, batch, hidden]: an RNN's initial state
            return [ins[0]]
        if isinstance(ins[0], np.ndarray) and ins[0].size and np.all(ins[0] == ins[0].reshape(-1)[0]):
            return [Filled(float(ins[0].reshape(-1)[0]))]  # a constant broadcast to a shape with the batch
        raise Refuse(": Neurocanvas has no broadcasting node")

    def _op_Slice(self, node, ins, a):
        if node.input[0] in self.state_stacks:
            return self._state_slice(node, ins)
        x = ins[0]
        if isinstance(x, Filled):
            return [x]
        if not isinstance(x, Sym):
            raise Refuse(": Neurocanvas has no slicing node")
        if "starts" in a:
            starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes", [0]), [1]
        else:
            starts, ends = (np.asarray(self._const(v, "its bounds")).reshape(-1).tolist() for v in ins[1:3])
            axes = np.asarray(self._const(ins[3], "axes")).reshape(-1).tolist() if len(ins) > 3 and ins[3] is not None \
                else [0]
            steps = np.asarray(self._const(ins[4], "steps")).reshape(-1).tolist() if len(ins) > 4 and \
                ins[4] is not None else [1]
        if list(axes) not in ([0], [-1]):
            raise Refuse(": it slices a shape vector along a second axis")
        n = len(x.items)
        start, end, step = int(starts[0]), int(ends[0]), int(steps[0])
        start, end = max(min(start, n), -n - 1), max(min(end, n), -n - 1)
        return [symbolic(x.items[slice(start, end, step)])]

    def _op_Gather(self, node, ins, a):
        data, indices = ins[0], ins[1]
        axis = int(a.get("axis", 0))
        if isinstance(data, Sym):
            index = np.asarray(self._const(indices, "its indices"))
            picked = [data.items[int(i)] for i in index.reshape(-1)]
            return [symbolic(picked, scalar=index.ndim == 0)]
        if isinstance(data, np.ndarray) and isinstance(indices, Dyn):
            if axis != 0 or data.ndim != 2:
                raise Refuse(": only rows of a stored 2-D table (an embedding) can be gathered")
            ids = self._dyn(indices, "its indices")
            if ids.value.spec.dtype != "int64":
                raise Refuse(": its indices must be int64")
            weights = {"weight": torch.as_tensor(data.astype(np.float32))}
            params = {"num_embeddings": int(data.shape[0]), "embedding_dim": int(data.shape[1])}
            return [self._add("Embedding", params, [ids.value], node, weights)]
        if isinstance(data, Dyn) and isinstance(indices, np.ndarray):
            return [self._last_step(node, data, indices, axis)]
        raise Refuse(": Neurocanvas has no gather node (only an embedding table lookup maps)")
