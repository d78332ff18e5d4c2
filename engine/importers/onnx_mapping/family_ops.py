"""ONNX operators of the activations, normalisation and resampling families as Neurocanvas nodes: Clip
(ReLU6, Hardtanh), PRelu, HardSwish, HardSigmoid, Softplus, Selu, Celu, Mish, Softsign,
InstanceNormalization, RMSNormalization, LRN, Resize/Upsample, Pad, DepthToSpace and SpaceToDepth;
and the two-operator spellings torch writes for GLU (Split, Sigmoid, Mul) and Softmin (Neg, Softmax),
which `_fuse_gates` replaces by one node each before the mapping.

Every parameter is read from the file; where ONNX computes something torch's node does not (another
coordinate transformation, a different window, padding on the batch), the node is refused with the
reason. A mixin of `OnnxImporter`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.importers.common import BATCH, Refuse, compact_ints
from engine.importers.onnx_mapping.values import FUSED_DOMAIN, Sym, clean_float, dims_text, node_attributes

_SELU_ALPHA, _SELU_GAMMA = 1.6732632423543772, 1.0507009873554805  # torch's fixed SELU constants
_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}
_PAD_KINDS = {"reflect": "Reflection", "edge": "Replication"}


class FamilyOps:
    def _fuse_gates(self, live):
        """Replace Split + Sigmoid + Mul (a GLU), Neg + Softmax (a Softmin) and x * 1 / sqrt(mean(x^2) + eps)
        (* weight) (an RMSNorm) by one fused node each, when nothing else reads their inner values."""
        producer = {out: n for n in live for out in n.output if out}
        users = {}
        for n in live:
            for name in n.input:
                users.setdefault(name, []).append(n)
        dropped, replaced = set(), {}
        for node in live:
            if node.domain not in ("", "ai.onnx") or id(node) in replaced:
                continue
            if node.op_type == "Softmax":
                fusion = self._softmin_fusion(node, producer)
            elif node.op_type == "Mul":
                fusion = self._rms_fusion(node, producer, users) or self._glu_fusion(node, producer)
            else:
                continue
            if fusion is not None:
                fused, last, absorbed = fusion
                replaced[id(last)] = fused
                dropped |= {id(n) for n in absorbed}
        return [replaced.get(id(n), n) for n in live if id(n) not in dropped]

    def _softmin_fusion(self, softmax, producer):
        """(fused Softmin, the node it replaces, the nodes it absorbs) for Softmax(Neg(x))."""
        from onnx import helper

        neg = producer.get(softmax.input[0])
        if neg is None or neg.op_type != "Neg" or self.consumers[neg.output[0]] != 1:
            return None
        fused = helper.make_node("Softmin", [neg.input[0]], [softmax.output[0]], name=softmax.name,
                                 domain=FUSED_DOMAIN, **node_attributes(softmax))
        return fused, softmax, [neg]

    def _rms_fusion(self, mul, producer, users):
        """(fused RMSNorm, the node it replaces, the nodes it absorbs) for the RMSNorm torch writes out,
        with the Mul by a stored weight that follows it."""
        from onnx import helper

        parts = self._rms_parts(mul, producer)
        if parts is None:
            return None
        inner, axes, eps = parts
        x = mul.input[0] if mul.input[1] == inner[-1].output[0] else mul.input[1]
        last, inputs, absorbed = mul, [x], list(inner)
        scaling = users.get(mul.output[0], [])
        if len(scaling) == 1 and scaling[0].op_type == "Mul" and self.consumers[mul.output[0]] == 1:
            weight = next((i for i in scaling[0].input if i != mul.output[0]), None)
            if weight in self.consts:
                last, inputs, absorbed = scaling[0], [x, weight], [*inner, mul]
        fused = helper.make_node("RMSNorm", inputs, [last.output[0]], name=last.name, domain=FUSED_DOMAIN, axes=axes,
                                 epsilon=eps)
        return fused, last, absorbed

    def _glu_fusion(self, mul, producer):
        """(fused GLU, the node it replaces, the nodes it absorbs) for first half * sigmoid(second half)."""
        from onnx import helper

        parts = self._glu_parts(mul, producer)
        if parts is None:
            return None
        split, sigmoid = parts
        fused = helper.make_node("GLU", [split.input[0]], [mul.output[0]], name=mul.name, domain=FUSED_DOMAIN,
                                 dim=int(node_attributes(split).get("axis", 0)))
        return fused, mul, [split, sigmoid]

    def _rms_parts(self, mul, producer):
        """([Pow, ReduceMean, Add, Sqrt, Reciprocal], axes, eps) when `mul` is x * Reciprocal(Sqrt(
        ReduceMean(Pow(x, 2)) + eps)) over trailing axes kept as dims of size 1, nothing else reading them."""
        chain = ("Reciprocal", "Sqrt", "Add", "ReduceMean", "Pow")
        for value in mul.input:
            nodes, name = [], value
            for op_type in chain:
                node = producer.get(name)
                if node is None or node.op_type != op_type or self.consumers[node.output[0]] != 1:
                    break
                nodes.append(node)
                name = next((i for i in node.input if i not in self.consts), None) if op_type == "Add" else \
                    node.input[0]
            else:
                pow_, mean, add = nodes[4], nodes[3], nodes[2]
                x = next(i for i in mul.input if i != value) if list(mul.input).count(value) == 1 else None
                exponent, eps = self.consts.get(pow_.input[1]), next((self.consts[i] for i in add.input
                                                                      if i in self.consts), None)
                axes = node_attributes(mean).get("axes")
                if len(mean.input) > 1 and mean.input[1]:
                    axes = self.consts.get(mean.input[1])
                if (x != pow_.input[0] or exponent is None or float(np.asarray(exponent).reshape(-1)[0]) != 2.0
                        or eps is None or np.asarray(eps).size != 1 or axes is None
                        or not node_attributes(mean).get("keepdims", 1)):
                    return None
                return list(reversed(nodes)), [int(v) for v in np.asarray(axes).reshape(-1)], \
                    float(np.asarray(eps).reshape(-1)[0])
        return None

    def _fused_RMSNorm(self, node, ins, a):
        x = self._dyn(ins[0])
        rank = self._rank(x)
        axes = sorted(axis % rank for axis in a["axes"])
        if axes != list(range(rank - len(axes), rank)) or axes[0] == 0:
            raise Refuse(f": it normalises over axes {a['axes']} of {dims_text(x.dims())}; RMSNorm normalises "
                         "the trailing dims after the batch")
        trailing = tuple(x.value.spec.shape[axes[0] - 1:])
        eps = a["epsilon"]
        params = {"normalized_dims": len(axes), "elementwise_affine": len(ins) > 1,
                  "eps": None if np.float32(eps) == np.finfo(np.float32).eps else clean_float(eps)}
        weights = {}
        if len(ins) > 1:
            weight = np.asarray(ins[1], dtype=np.float32)
            while weight.ndim > len(trailing) and weight.shape[0] == 1:  # leading axes of size 1 (the batch)
                weight = weight[0]
            try:
                weights["weight"] = torch.as_tensor(np.broadcast_to(weight, trailing).copy())
            except ValueError:
                raise Refuse(f": its scale of shape {list(weight.shape)} does not fit the normalised dims "
                             f"{list(trailing)}") from None
        return [self._add("RMSNorm", params, [x.value], node, weights)]

    def _fused_Softmin(self, node, ins, a):
        """Neg + Softmax: Softmax's axis, read as Softmax reads it."""
        return self._softmax(node, ins, a, "Softmin")

    def _glu_parts(self, mul, producer):
        """(Split, Sigmoid) when `mul` is first-half * sigmoid(second half) of one Split into equal halves."""
        sigmoid = next((producer.get(i) for i in mul.input if getattr(producer.get(i), "op_type", "") == "Sigmoid"),
                       None)
        if sigmoid is None:
            return None
        split = producer.get(sigmoid.input[0])
        first = next((i for i in mul.input if i != sigmoid.output[0]), None)
        if split is None or split.op_type != "Split" or list(split.output) != [first, sigmoid.input[0]]:
            return None
        sizes = node_attributes(split).get("split")
        if len(split.input) > 1 and split.input[1]:
            sizes = self.consts.get(split.input[1])
        if sizes is not None and len(set(np.asarray(sizes).reshape(-1).tolist())) != 1:
            return None
        if any(self.consumers[name] != 1 for name in (*split.output, sigmoid.output[0])):
            return None
        return split, sigmoid

    def _op_Clip(self, node, ins, a):
        x = self._dyn(ins[0])
        low, high = a.get("min"), a.get("max")
        if len(ins) > 1 and ins[1] is not None:
            low = self._scalar(ins[1], "its min")
        if len(ins) > 2 and ins[2] is not None:
            high = self._scalar(ins[2], "its max")
        if (low, high) == (0.0, 6.0):
            return [self._add("ReLU6", {}, [x.value], node)]
        if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
            if low == 0.0 and high is None:
                return [self._add("ReLU", {}, [x.value], node)]
            raise Refuse(": it clips on one side only (or to an infinite bound); only Clip(0, 6) (ReLU6), "
                         "Clip(0) (ReLU) and Clip with both bounds (Hardtanh) map")
        if high <= low:
            raise Refuse(f": its max ({high}) is not above its min ({low}); Hardtanh needs max_val > min_val")
        return [self._add("Hardtanh", {"min_val": clean_float(low), "max_val": clean_float(high)}, [x.value],
                          node)]

    def _scalar(self, value, what: str) -> float:
        array = np.asarray(self._const(value, what)).reshape(-1)
        if array.size != 1:
            raise Refuse(f": {what} holds {array.size} values; only one bound for all elements maps")
        return float(array[0])

    def _op_PRelu(self, node, ins, a):
        x = self._dyn(ins[0])
        slope = np.asarray(self._const(ins[1], "its slope"), dtype=np.float32)
        shape = x.value.spec.shape
        # ONNX aligns the slope with the input's last dims: [C, 1, ..] (or [1, C, 1, ..]) over [batch, C, ..]
        # is one slope per channel
        aligned = slope.shape[max(slope.ndim - len(shape), 0):]
        per_channel = (bool(shape) and all(d == 1 for d in slope.shape[:slope.ndim - len(aligned)])
                       and aligned == (shape[0], *[1] * (len(shape) - 1)))
        if slope.size != 1 and not per_channel:
            raise Refuse(f": its slope has shape {list(slope.shape)}; PReLU learns one slope, or one per channel of "
                         f"its input {dims_text(x.dims())} (shape [C, 1, ...])")
        weights = {"weight": torch.as_tensor(slope.reshape(-1).copy())}
        return [self._add("PReLU", {"num_parameters": int(slope.size), "init": 0.25}, [x.value], node, weights)]

    def _op_HardSwish(self, node, ins, a):
        return [self._add("Hardswish", {}, [self._dyn(ins[0]).value], node)]

    def _op_HardSigmoid(self, node, ins, a):
        alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
        if not (math.isclose(alpha, 1 / 6, rel_tol=1e-6) and beta == 0.5):
            raise Refuse(f": alpha={alpha:g}, beta={beta:g}; torch's Hardsigmoid is alpha=1/6, beta=0.5")
        return [self._add("Hardsigmoid", {}, [self._dyn(ins[0]).value], node)]

    def _op_Softplus(self, node, ins, a):
        return [self._add("Softplus", {}, [self._dyn(ins[0]).value], node)]

    def _op_Softsign(self, node, ins, a):
        return [self._add("Softsign", {}, [self._dyn(ins[0]).value], node)]

    def _op_Mish(self, node, ins, a):
        return [self._add("Mish", {}, [self._dyn(ins[0]).value], node)]

    def _op_Selu(self, node, ins, a):
        alpha, gamma = float(a.get("alpha", _SELU_ALPHA)), float(a.get("gamma", _SELU_GAMMA))
        if not (math.isclose(alpha, _SELU_ALPHA, rel_tol=1e-6) and math.isclose(gamma, _SELU_GAMMA, rel_tol=1e-6)):
            raise Refuse(f": alpha={alpha:g}, gamma={gamma:g} differ from torch's fixed SELU constants")
        return [self._add("SELU", {}, [self._dyn(ins[0]).value], node)]

    def _op_Celu(self, node, ins, a):
        return [self._add("CELU", {"alpha": clean_float(a.get("alpha", 1.0))}, [self._dyn(ins[0]).value], node)]

    def _op_InstanceNormalization(self, node, ins, a):
        x = self._dyn(ins[0])
        rank = self._rank(x)
        if rank not in (3, 4):
            raise Refuse(f": InstanceNorm1d/2d take [batch, C, L] or [batch, C, H, W], got {dims_text(x.dims())}")
        scale, bias = (np.asarray(self._const(v, f"its {n}"), dtype=np.float32).reshape(-1)
                       for v, n in zip(ins[1:3], ("scale", "B")))
        weights = {"weight": torch.as_tensor(scale.copy()), "bias": torch.as_tensor(bias.copy())}
        params = {"eps": clean_float(a.get("epsilon", 1e-5)), "affine": True, "track_running_stats": False}
        return [self._add(f"InstanceNorm{rank - 2}d", params, [x.value], node, weights)]

    def _op_RMSNormalization(self, node, ins, a):
        x = self._dyn(ins[0])
        rank, axis = self._rank(x), self._normalised_axis(x, a)
        trailing = tuple(x.value.spec.shape[axis - 1:])
        scale = np.asarray(self._const(ins[1], "its scale"), dtype=np.float32)
        weights = {"weight": torch.as_tensor(np.broadcast_to(scale, trailing).copy())}
        params = {"normalized_dims": rank - axis, "eps": clean_float(a.get("epsilon", 1e-5))}
        return [self._add("RMSNorm", params, [x.value], node, weights)]

    def _op_LRN(self, node, ins, a):
        size = int(a["size"])
        if size % 2 == 0:
            raise Refuse(f": size {size} is even; ONNX centres an even window one channel later than torch does")
        params = {"size": size, "alpha": clean_float(a.get("alpha", 1e-4)), "beta": clean_float(a.get("beta", 0.75)),
                  "k": clean_float(a.get("bias", 1.0))}
        return [self._add("LocalResponseNorm", params, [self._dyn(ins[0]).value], node)]

    def _op_DepthToSpace(self, node, ins, a):
        if a.get("mode", "DCR") != "CRD":
            raise Refuse(": mode DCR orders the channels differently from torch's PixelShuffle (mode CRD maps)")
        return [self._add("PixelShuffle", {"upscale_factor": int(a["blocksize"])}, [self._dyn(ins[0]).value], node)]

    def _op_SpaceToDepth(self, node, ins, a):
        x = self._dyn(ins[0])
        if x.value.spec.shape and x.value.spec.shape[0] != 1:
            raise Refuse(": it orders the channels block first, torch's PixelUnshuffle channel first; they agree "
                         "only for one input channel")
        return [self._add("PixelUnshuffle", {"downscale_factor": int(a["blocksize"])}, [x.value], node)]

    # ---- resizing ---------------------------------------------------------------------
    def _op_Upsample(self, node, ins, a):
        scales = a.get("scales")
        if len(ins) > 1 and ins[1] is not None:
            scales = self._const(ins[1], "its scales")
        return self._resize(node, self._dyn(ins[0]), scales, None, a.get("mode", "nearest"), "asymmetric", "floor")

    def _op_Resize(self, node, ins, a):
        x = self._dyn(ins[0])
        if self.opset < 11:  # Resize-10 resizes like Upsample: asymmetric coordinates, rounding down
            scales, sizes = self._const(ins[1], "its scales"), None
            transform, a = "asymmetric", {**a, "nearest_mode": "floor"}
        else:
            scales = ins[2] if len(ins) > 2 else None
            sizes = ins[3] if len(ins) > 3 else None
            scales = None if scales is None or np.asarray(self._const(scales, "its scales")).size == 0 else scales
            transform = a.get("coordinate_transformation_mode", "half_pixel")
        if a.get("antialias", 0) or a.get("exclude_outside", 0):
            raise Refuse(": antialias and exclude_outside are not imported")
        if "axes" in a or a.get("keep_aspect_ratio_policy", "stretch") != "stretch":
            raise Refuse(": axes and keep_aspect_ratio_policy are not imported")
        if a.get("mode", "nearest") == "cubic" and not math.isclose(a.get("cubic_coeff_a", -0.75), -0.75):
            raise Refuse(f": cubic_coeff_a={a['cubic_coeff_a']:g}; torch's bicubic uses -0.75")
        return self._resize(node, x, scales, sizes, a.get("mode", "nearest"), transform,
                            a.get("nearest_mode", "round_prefer_floor"))

    def _resize(self, node, x, scales, sizes, mode, transform, nearest_mode):
        n = self._rank(x) - 2
        if n not in (1, 2, 3):
            raise Refuse(f": Upsample takes [batch, C, L], [batch, C, H, W] or [batch, C, D, H, W], got "
                         f"{dims_text(x.dims())}")
        if mode == "nearest":
            if transform != "asymmetric" or nearest_mode != "floor":
                raise Refuse(f": nearest resizing with coordinate_transformation_mode={transform} and "
                             f"nearest_mode={nearest_mode}; torch's nearest is asymmetric with floor")
            params = {"mode": "nearest", "align_corners": False}
        elif mode in ("linear", "cubic"):
            if mode == "cubic" and n != 2:
                raise Refuse(f": cubic resizing of {n} spatial dims; torch's bicubic takes 2")
            if transform not in ("align_corners", "half_pixel", "pytorch_half_pixel"):
                raise Refuse(f": coordinate_transformation_mode={transform} has no torch equivalent (align_corners "
                             "True is 'align_corners', False is 'half_pixel')")
            params = {"mode": "bicubic" if mode == "cubic" else _LINEAR[n], "align_corners": transform == "align_corners"}
        else:
            raise Refuse(f": mode '{mode}' has no Neurocanvas equivalent")
        spatial = x.value.spec.shape[1:]
        if sizes is not None:
            items = list(sizes.items) if isinstance(sizes, Sym) else np.asarray(self._const(sizes, "its sizes")).tolist()
            if len(items) != n + 2 or any(v is BATCH for v in items[2:]) or items[1] != x.value.spec.shape[0]:
                raise Refuse(f": sizes {items} resize the batch or the channels")
            params.update(size=[int(v) for v in items[2:]], scale_factor=None)
        else:
            factors = [float(v) for v in np.asarray(self._const(scales, "its scales")).reshape(-1)]
            if len(factors) != n + 2 or factors[:2] != [1.0, 1.0]:
                raise Refuse(f": scales {factors} resize the batch or the channels")
            if len(set(factors[2:])) == 1:
                params.update(size=None, scale_factor=factors[2])
            elif all(float(d * f).is_integer() for d, f in zip(spatial, factors[2:])):
                params.update(size=[int(d * f) for d, f in zip(spatial, factors[2:])], scale_factor=None)
            else:
                raise Refuse(f": scales {factors[2:]} differ between dims and give fractional sizes; Upsample "
                             "takes one scale_factor for all dims")
        out = params["size"] or [math.floor(d * params["scale_factor"]) for d in spatial]
        if transform == "pytorch_half_pixel" and 1 in out and mode != "nearest":
            raise Refuse(f": coordinate_transformation_mode=pytorch_half_pixel samples an output of size 1 at the "
                         f"first pixel, torch at the centre (output {out})")
        return [self._add("Upsample", params, [x.value], node)]

    # ---- padding ----------------------------------------------------------------------
    def _op_Pad(self, node, ins, a):
        x = self._dyn(ins[0])
        rank = self._rank(x)
        mode = a.get("mode", "constant")
        if len(ins) > 1 and ins[1] is not None:
            pads = [int(v) for v in np.asarray(self._const(ins[1], "its pads")).reshape(-1)]
        else:
            pads = list(a["pads"])
        value = float(a.get("value", 0.0))
        if len(ins) > 2 and ins[2] is not None:
            value = self._scalar(ins[2], "its constant_value")
        if len(ins) > 3 and ins[3] is not None:
            axes = [int(v) % rank for v in np.asarray(self._const(ins[3], "its axes")).reshape(-1)]
            full = [0] * (2 * rank)
            for i, axis in enumerate(axes):
                full[axis], full[rank + axis] = pads[i], pads[len(axes) + i]
            pads = full
        if mode != "constant" and mode not in _PAD_KINDS:
            raise Refuse(f": mode '{mode}' has no Neurocanvas pad node (constant, reflect and edge do)")
        begin, end = pads[:rank], pads[rank:]
        if any(p < 0 for p in pads):
            raise Refuse(f": pads {pads} crop the input; the pad nodes only add")
        padded = [axis for axis in range(rank) if begin[axis] or end[axis]]
        if padded and padded[0] == 0:
            raise Refuse(f": pads {pads} pad the batch dimension; the pad nodes pad the dims of each sample")
        if padded and padded[0] < rank - 2:
            raise Refuse(f": pads {pads} pad more than the last two dims of {dims_text(x.dims())}; the pad nodes pad "
                         "the last 1 or 2")
        n = 2 if (padded and padded[0] == rank - 2) or (mode != "constant" and rank == 4) else 1
        if mode != "constant" and rank - 1 not in (n, n + 1):
            raise Refuse(f": {mode} padding of {dims_text(x.dims())}; the reflection and replication pads take "
                         "[batch, L], [batch, C, L], [batch, H, W] or [batch, C, H, W]")
        padding = []
        for axis in range(rank - 1, rank - 1 - n, -1):
            padding += [begin[axis], end[axis]]
        kind = _PAD_KINDS.get(mode) or ("Constant" if value else "Zero")
        params = {"padding": compact_ints(padding)}
        if kind == "Constant":
            params["value"] = clean_float(value)
        return [self._add(f"{kind}Pad{n}d", params, [x.value], node)]
