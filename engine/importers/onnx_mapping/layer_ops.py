"""ONNX layers with stored weights or windows as Neurocanvas nodes: Gemm/MatMul (Linear), Conv,
ConvTranspose, pooling, BatchNormalization, LayerNormalization and Dropout.

Padding must be the same at both ends (Neurocanvas pads both sides equally),
except where torch's ceil_mode or output_padding computes the same thing. A
mixin of `OnnxImporter`.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.importers.common import Refuse, compact_ints
from engine.importers.onnx_mapping.values import Dyn, clean_float, dims_text

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}  # the spatial dims Neurocanvas convolutions and pools take


class LayerOps:
    def _op_Gemm(self, node, ins, a):
        x = ins[0]
        if not isinstance(x, Dyn) or isinstance(ins[1], Dyn):
            raise Refuse(": it multiplies two computed tensors (or a constant by a computed one on the left); "
                         "Neurocanvas has no matrix-product node, only Linear with stored weights")
        x = self._dyn(x)
        if a.get("transA", 0):
            raise Refuse(": transA=1 would transpose the batch into the features")
        if self._rank(x) != 2:
            raise Refuse(f": it needs a 2-D input, got {dims_text(x.dims())}")
        b = self._const(ins[1], "its weight B").astype(np.float32)
        weight = b if a.get("transB", 0) else b.T
        weight = weight * np.float32(a.get("alpha", 1.0))
        n = weight.shape[0]
        weights = {"weight": torch.as_tensor(np.ascontiguousarray(weight))}
        if len(ins) > 2 and ins[2] is not None:
            c = self._const(ins[2], "its bias C").astype(np.float32) * np.float32(a.get("beta", 1.0))
            if c.size not in (1, n) or (c.ndim == 2 and c.shape[0] != 1):
                raise Refuse(f": its bias C has shape {list(c.shape)}, which depends on the batch row")
            weights["bias"] = torch.as_tensor(np.broadcast_to(c.reshape(-1), (n,)).copy())
        if weight.shape[1] != x.value.spec.shape[-1]:
            raise Refuse(f": its weight takes {weight.shape[1]} features but the input has {x.value.spec.shape[-1]}")
        return [self._add("Linear", {"out_features": n, "bias": "bias" in weights}, [x.value], node, weights)]

    def _op_MatMul(self, node, ins, a):
        if not isinstance(ins[0], Dyn) or isinstance(ins[1], Dyn):
            raise Refuse(": it multiplies two computed tensors (or a constant by a computed one on the left); "
                         "Neurocanvas has no matrix-product node, only Linear with stored weights")
        x = self._dyn(ins[0])
        w = self._const(ins[1], "its second operand").astype(np.float32)
        if w.ndim != 2 or self._rank(x) < 2:
            raise Refuse(": only [.., K] x [K, N] with a stored 2-D matrix maps to Linear, got "
                         f"{dims_text(x.dims())} x {list(w.shape)}")
        if w.shape[0] != x.value.spec.shape[-1]:
            raise Refuse(f": the matrix takes {w.shape[0]} features but the input has {x.value.spec.shape[-1]}")
        weights = {"weight": torch.as_tensor(np.ascontiguousarray(w.T))}
        return [self._add("Linear", {"out_features": int(w.shape[1]), "bias": False}, [x.value], node, weights)]

    def _pads(self, a, spatial, kernel, strides, dilations, transpose_free=True):
        n = len(kernel)
        auto = a.get("auto_pad", "NOTSET") or "NOTSET"
        if auto == "VALID":
            return [0] * n
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            pads = []
            for size, k, s, d in zip(spatial, kernel, strides, dilations):
                out = -(-size // s)
                total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
                if total % 2:
                    raise Refuse(f": auto_pad={auto} pads unevenly here ({total} in all); Neurocanvas pads both "
                                 "sides equally")
                pads.append(total // 2)
            return pads
        pads = list(a.get("pads", [0] * 2 * n))
        if pads[:n] != pads[n:]:
            raise Refuse(f": pads {pads} are not the same at both ends; Neurocanvas pads both sides equally")
        return pads[:n]

    def _op_Conv(self, node, ins, a):
        x = self._dyn(ins[0])
        w = self._const(ins[1], "its weight W").astype(np.float32)
        n = w.ndim - 2
        if n not in _SPATIAL:
            raise Refuse(f": a {n}-D convolution has no Neurocanvas node (Conv1d, Conv2d and Conv3d only)")
        if self._rank(x) != n + 2:
            raise Refuse(f": a {n}-D convolution needs input [batch, C, {_SPATIAL[n]}], got {dims_text(x.dims())}")
        kernel = list(a.get("kernel_shape", w.shape[2:]))
        strides = list(a.get("strides", [1] * n))
        dilations = list(a.get("dilations", [1] * n))
        groups = int(a.get("group", 1))
        pads = self._pads(a, x.value.spec.shape[1:], kernel, strides, dilations)
        if w.shape[1] * groups != x.value.spec.shape[0]:
            raise Refuse(f": its weight takes {w.shape[1] * groups} channels but the input has "
                         f"{x.value.spec.shape[0]}")
        weights = {"weight": torch.as_tensor(w)}
        if len(ins) > 2 and ins[2] is not None:
            weights["bias"] = torch.as_tensor(self._const(ins[2], "its bias B").astype(np.float32))
        params = {"out_channels": int(w.shape[0]), "kernel_size": compact_ints(kernel),
                  "stride": compact_ints(strides), "padding": compact_ints(pads),
                  "dilation": compact_ints(dilations), "groups": groups, "bias": "bias" in weights}
        return [self._add(f"Conv{n}d", params, [x.value], node, weights)]

    def _op_ConvTranspose(self, node, ins, a):
        x = self._dyn(ins[0])
        w = self._const(ins[1], "its weight W").astype(np.float32)
        n = w.ndim - 2
        if n not in _SPATIAL:
            raise Refuse(f": a {n}-D transposed convolution has no Neurocanvas node (ConvTranspose1d/2d/3d only)")
        if self._rank(x) != n + 2:
            raise Refuse(f": it needs input [batch, C, {_SPATIAL[n]}], got {dims_text(x.dims())}")
        kernel = list(a.get("kernel_shape", w.shape[2:]))
        strides = list(a.get("strides", [1] * n))
        dilations = list(a.get("dilations", [1] * n))
        groups = int(a.get("group", 1))
        extra = list(a.get("output_padding", [0] * n))
        spatial = x.value.spec.shape[1:]
        auto = a.get("auto_pad", "NOTSET") or "NOTSET"
        if "output_shape" in a or auto in ("SAME_UPPER", "SAME_LOWER"):
            wanted = list(a["output_shape"])[-n:] if "output_shape" in a else [size * s for size, s in
                                                                               zip(spatial, strides)]
            begin, end = [], []
            for i in range(n):
                total = strides[i] * (spatial[i] - 1) + extra[i] + (kernel[i] - 1) * dilations[i] + 1 - wanted[i]
                if total < 0:
                    raise Refuse(f": output_shape {wanted} is larger than the layer can make")
                small, large = total // 2, total - total // 2
                begin.append(small if auto == "SAME_UPPER" else large)
                end.append(large if auto == "SAME_UPPER" else small)
        elif auto == "VALID":
            begin, end = [0] * n, [0] * n
        else:
            pads = list(a.get("pads", [0] * 2 * n))
            begin, end = pads[:n], pads[n:]
        output_padding = [e + b - f for e, b, f in zip(extra, begin, end)]
        if any(p < 0 for p in output_padding):
            raise Refuse(f": its padding ({begin} at the start, {end} at the end) trims more at the end than "
                         f"torch's ConvTranspose{n}d can")
        if w.shape[0] != x.value.spec.shape[0]:
            raise Refuse(f": its weight takes {w.shape[0]} channels but the input has {x.value.spec.shape[0]}")
        weights = {"weight": torch.as_tensor(w)}
        if len(ins) > 2 and ins[2] is not None:
            weights["bias"] = torch.as_tensor(self._const(ins[2], "its bias B").astype(np.float32))
        params = {"out_channels": int(w.shape[1] * groups), "kernel_size": compact_ints(kernel),
                  "stride": compact_ints(strides), "padding": compact_ints(begin),
                  "output_padding": compact_ints(output_padding), "dilation": compact_ints(dilations),
                  "groups": groups, "bias": "bias" in weights}
        return [self._add(f"ConvTranspose{n}d", params, [x.value], node, weights)]

    def _pool_padding(self, a, spatial, kernel, strides, dilations, average: bool):
        """(padding, ceil_mode) for a pool; padding more at the end maps to ceil_mode when the sizes agree."""
        try:
            return self._pads(a, spatial, kernel, strides, dilations), bool(a.get("ceil_mode", 0))
        except Refuse:
            if "pads" not in a or a.get("ceil_mode", 0) or (average and a.get("count_include_pad", 0)):
                raise
        n = len(kernel)
        begin, end = list(a["pads"][:n]), list(a["pads"][n:])
        for size, k, s, d, b, e in zip(spatial, kernel, strides, dilations, begin, end):
            onnx_size = (size + b + e - d * (k - 1) - 1) // s + 1
            torch_size = -(-(size + 2 * b - d * (k - 1) - 1) // s) + 1
            if (torch_size - 1) * s >= size + b:
                torch_size -= 1
            if e < b or onnx_size != torch_size:
                raise Refuse(f": pads {list(a['pads'])} are not the same at both ends; Neurocanvas pads both "
                             "sides equally")
        return begin, True

    def _op_MaxPool(self, node, ins, a):
        x = self._dyn(ins[0])
        kernel = list(a["kernel_shape"])
        n = len(kernel)
        if n not in _SPATIAL:
            raise Refuse(f": {n}-D max pooling has no Neurocanvas node (MaxPool1d/2d/3d only)")
        if self._rank(x) != n + 2:
            raise Refuse(f": it needs input [batch, C, {_SPATIAL[n]}], got {dims_text(x.dims())}")
        if len(node.output) > 1 and node.output[1] and self.consumers[node.output[1]]:
            raise Refuse(": it uses the Indices output, which Neurocanvas pooling does not give")
        strides = list(a.get("strides", [1] * n))
        dilations = list(a.get("dilations", [1] * n))
        pads, ceil = self._pool_padding(a, x.value.spec.shape[1:], kernel, strides, dilations, average=False)
        params = {"kernel_size": compact_ints(kernel), "stride": compact_ints(strides),
                  "padding": compact_ints(pads), "dilation": compact_ints(dilations), "ceil_mode": ceil}
        return [self._add(f"MaxPool{n}d", params, [x.value], node)]

    def _op_AveragePool(self, node, ins, a):
        x = self._dyn(ins[0])
        kernel = list(a["kernel_shape"])
        n = len(kernel)
        if n not in _SPATIAL:
            raise Refuse(f": {n}-D average pooling has no Neurocanvas node (AvgPool1d/2d/3d only)")
        if self._rank(x) != n + 2:
            raise Refuse(f": it needs input [batch, C, {_SPATIAL[n]}], got {dims_text(x.dims())}")
        if any(d != 1 for d in a.get("dilations", [1] * n)):
            raise Refuse(": dilated average pooling has no Neurocanvas node")
        strides = list(a.get("strides", [1] * n))
        pads, ceil = self._pool_padding(a, x.value.spec.shape[1:], kernel, strides, [1] * n, average=True)
        params = {"kernel_size": compact_ints(kernel), "stride": compact_ints(strides),
                  "padding": compact_ints(pads), "ceil_mode": ceil,
                  "count_include_pad": bool(a.get("count_include_pad", 0))}
        return [self._add(f"AvgPool{n}d", params, [x.value], node)]

    def _op_GlobalAveragePool(self, node, ins, a):
        return self._global_pool(node, ins, "Avg")

    def _op_GlobalMaxPool(self, node, ins, a):
        return self._global_pool(node, ins, "Max")

    def _global_pool(self, node, ins, kind):
        x = self._dyn(ins[0])
        n = self._rank(x) - 2
        if n not in _SPATIAL:
            raise Refuse(f": only 1-D to 3-D global pooling maps to Adaptive{kind}Pool1d/2d/3d, got "
                         f"{dims_text(x.dims())}")
        return [self._add(f"Adaptive{kind}Pool{n}d", {"output_size": 1}, [x.value], node)]

    def _op_BatchNormalization(self, node, ins, a):
        x = self._dyn(ins[0])
        rank = self._rank(x)
        if rank not in (2, 3, 4, 5):
            raise Refuse(f": BatchNorm1d/2d/3d take [batch, C], [batch, C, L], [batch, C, H, W] or [batch, C, D, H, W], got "
                         f"{dims_text(x.dims())}")
        if a.get("training_mode", 0) or not a.get("spatial", 1):
            raise Refuse(": only inference-mode, per-channel batch normalisation can be imported")
        if any(o and self.consumers[o] for o in node.output[1:]):
            raise Refuse(": it uses the running statistics outputs of training mode")
        names = ("scale", "B", "mean", "var")
        scale, bias, mean, var = (self._const(v, f"its {n}").astype(np.float32) for v, n in zip(ins[1:5], names))
        momentum = float(a.get("momentum", 0.9))
        weights = {"weight": scale, "bias": bias, "running_mean": mean, "running_var": var}
        weights = {k: torch.as_tensor(v.reshape(-1)) for k, v in weights.items()}
        params = {"eps": clean_float(a.get("epsilon", 1e-5)),
                  "momentum": clean_float(min(max(1.0 - momentum, 0.0), 1.0))}
        type_name = {4: "BatchNorm2d", 5: "BatchNorm3d"}.get(rank, "BatchNorm1d")
        return [self._add(type_name, params, [x.value], node, weights)]

    def _normalised_axis(self, x, a) -> int:
        """The first axis a LayerNormalization-like node normalises (its `axis`), which must follow the batch."""
        rank = self._rank(x)
        axis = int(a.get("axis", -1))
        axis = axis + rank if axis < 0 else axis
        if not 1 <= axis < rank:
            raise Refuse(f": axis {a.get('axis', -1)} would normalise over the batch")
        return axis

    def _op_LayerNormalization(self, node, ins, a):
        x = self._dyn(ins[0])
        rank, axis = self._rank(x), self._normalised_axis(x, a)
        if any(o and self.consumers[o] for o in node.output[1:]):
            raise Refuse(": it uses the mean / inverse deviation outputs")
        trailing = tuple(x.value.spec.shape[axis - 1:])
        scale = self._const(ins[1], "its scale").astype(np.float32)
        weights = {"weight": torch.as_tensor(np.broadcast_to(scale, trailing).copy())}
        if len(ins) > 2 and ins[2] is not None:
            bias = self._const(ins[2], "its bias B").astype(np.float32)
            weights["bias"] = torch.as_tensor(np.broadcast_to(bias, trailing).copy())
        params = {"normalized_dims": rank - axis, "eps": clean_float(a.get("epsilon", 1e-5)),
                  "bias": "bias" in weights}
        return [self._add("LayerNorm", params, [x.value], node, weights)]

    def _op_Dropout(self, node, ins, a):
        if len(ins) > 2 and ins[2] is not None:
            training = self._const(ins[2], "its training_mode")
            if bool(np.asarray(training).reshape(-1)[0]):
                raise Refuse(": it runs in training mode")
        if len(node.output) > 1 and node.output[1] and self.consumers[node.output[1]]:
            raise Refuse(": it uses the dropout mask output")
        ratio = a.get("ratio", 0.5)
        if len(ins) > 1 and ins[1] is not None:
            ratio = float(np.asarray(self._const(ins[1], "its ratio")).reshape(-1)[0])
        x = self._dyn(ins[0])
        return [self._add("Dropout", {"p": clean_float(ratio)}, [x.value], node)]
