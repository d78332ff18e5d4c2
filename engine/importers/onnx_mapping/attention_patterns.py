"""Self-attention written out as MatMul, Softmax, MatMul (how torch's exporters write nn.MultiheadAttention and
nn.TransformerEncoderLayer, and how hand-written attention looks) becomes one MultiheadAttention node.

The exporters fold the heads into the batch (`[batch * heads, T, head_dim]`), which no batch-first
Neurocanvas node can hold, so the attention is recognised as a whole: around each Softmax whose input is a
MatMul of two computed tensors and whose output multiplies a third, the region from one tensor x [batch, T, E]
to one tensor y [batch, T, E] is found from the graph's structure. Its weights are then read from its values,
not from its spelling: the model runs once in onnxruntime with the region's tensors exposed, queries, keys,
values and the output projection are fitted as affine maps (least squares in float64), and each fitted
matrix is replaced by the file's own weights where they match. A causal mask added to the scores (-inf above
the diagonal) sets the node's `causal`; any other mask is left unfused. The region is fused only if a
MultiheadAttention built from those weights reproduces y within 1e-5; otherwise it is left to the op-by-op
mapping, which then explains the refusal. A mixin of `OnnxImporter`; `_fused_MultiheadAttention` adds the node.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.importers.onnx_mapping.values import FUSED_DOMAIN, node_label

TOLERANCE = 1e-5
_SHAPE_ONLY = {"Shape", "Size"}  # their outputs carry no data of their inputs
_PROBE_BATCH = 16  # samples the fit sees, over several runs if the file fixes a smaller batch


class AttentionPatterns:
    def _fuse_attention(self, live):
        """Replace each self-attention region by one fused MultiheadAttention node; returns the nodes to map."""
        from onnx import helper

        self.fused_layers: dict[str, tuple] = {}  # a fused node's output -> (params, weights)
        self.attention_refusals: list[tuple[set, str]] = []  # (the ONNX nodes it spans, why it was not fused)
        softmaxes = [n for n in live if n.op_type == "Softmax" and n.domain in ("", "ai.onnx")]
        if not softmaxes:
            return live
        producer = {out: n for n in live for out in n.output if out}
        users: dict[str, list] = {}
        for n in live:
            for name in n.input:
                users.setdefault(name, []).append(n)
        data = self._data_tensors(live)
        candidates = [c for c in (self._attention_candidate(s, producer, users, data) for s in softmaxes) if c]
        if not candidates:
            return live
        values = self._probe([name for c in candidates for name in c["probe"] if name])
        if values is None:
            return live
        drop, replace = set(), {}
        for candidate in candidates:
            found = self._fit_attention(candidate, values, producer, users, data)
            if isinstance(found, str):
                self.attention_refusals.append((candidate["labels"], f"Softmax '{node_label(candidate['axis'])}': "
                                                f"{found}, so it is not one MultiheadAttention"))
                continue
            x, y, region, params, weights = found
            if drop & {id(n) for n in region}:
                continue
            self.fused_layers[y] = (params, weights)
            last = max(region, key=lambda n: live.index(n))
            replace[id(last)] = helper.make_node("MultiheadAttention", [x], [y], name=last.name, domain=FUSED_DOMAIN)
            drop |= {id(n) for n in region}
            self.consumers[x] -= sum(name == x for n in region for name in n.input) - 1
        return [replace.get(id(n), n) for n in live if id(n) not in drop or id(n) in replace]

    def attention_problems(self) -> list[str]:
        """Why each attention that was not fused is not one layer, where the refusal names one of its nodes."""
        return [why for labels, why in getattr(self, "attention_refusals", [])
                if any(f"'{label}'" in problem for problem in self.problems for label in labels)]

    def _fused_MultiheadAttention(self, node, ins, a):  # noqa: N802 - named after the node type it adds
        params, weights = self.fused_layers[node.output[0]]
        return [self._add("MultiheadAttention", params, [self._dyn(ins[0]).value], node, weights)]

    # ---- structure -------------------------------------------------------------------------
    def _data_tensors(self, live) -> set[str]:
        """Tensors that carry data of the model's inputs (not only their shapes)."""
        data = {info.name for info in self.graph.input if info.name not in self.consts}
        for n in live:
            if n.op_type not in _SHAPE_ONLY and any(i in data for i in n.input):
                data.update(o for o in n.output if o)
        return data

    def _attention_candidate(self, softmax, producer, users, data):
        """Names around one Softmax: the scores' two operands, the values and the forward chain to the output."""
        scores = self._back_to(softmax.input[0], "MatMul", producer, data)
        after = [u for u in users.get(softmax.output[0], []) if u.op_type == "MatMul"]
        if scores is None or len(after) != 1 or after[0].input[0] != softmax.output[0]:
            return None
        q, k, v = scores.input[0], scores.input[1], after[0].input[1]
        if not {q, k, v} <= data:
            return None
        chains = [self._chain_back(name, producer, data) for name in (q, k, v)]
        common = [name for name in chains[0] if name in chains[1] and name in chains[2]]
        forward = self._chain_forward(after[0].output[0], users, data)
        inside = [producer[n] for chain in chains for n in chain if n in producer] + [scores, softmax, after[0]]
        return {"labels": {node_label(n) for n in inside}, "q": q, "k": k, "v": v, "scores": scores.output[0], "logits": softmax.input[0],
                "axis": softmax, "attended": after[0].output[0], "sources": common, "sinks": forward,
                "probe": [q, k, v, scores.output[0], softmax.input[0], after[0].output[0], *common, *forward]}

    @staticmethod
    def _back_to(name, op_type, producer, data):
        """The `op_type` node reached from `name` backwards through ops with one data input (a scale, a cast)."""
        for _ in range(4):
            node = producer.get(name)
            if node is None:
                return None
            if node.op_type == op_type:
                return node
            ins = [i for i in node.input if i in data]
            if len(ins) != 1:
                return None
            name = ins[0]
        return None

    @staticmethod
    def _chain_back(name, producer, data, limit=24):
        """`name` and the tensors before it, each the only data input of the node making the next."""
        chain = [name]
        while len(chain) < limit and name in producer:
            ins = [i for i in producer[name].input if i in data]
            if len(ins) != 1:
                break
            name = ins[0]
            chain.append(name)
        return chain

    @staticmethod
    def _chain_forward(name, users, data, limit=12):
        """The tensors after `name` while each is read by exactly one node that has no other data input."""
        chain = []
        while len(chain) < limit:
            readers = users.get(name, [])
            data_readers = [r for r in readers if r.op_type not in _SHAPE_ONLY]
            if len(data_readers) != 1 or sum(i in data for i in data_readers[0].input) != 1:
                break
            name = data_readers[0].output[0]
            chain.append(name)
        return chain

    def _attention_region(self, x, y, producer, data):
        """The nodes computing y from x (shape arithmetic included), or None if y needs another data tensor."""
        region, stack, seen = [], [y], set()
        while stack:
            name = stack.pop()
            if name == x or name in seen or name in self.consts:
                continue
            seen.add(name)
            node = producer.get(name)
            if node is None:
                return None  # another graph input
            if node not in region:
                region.append(node)
            stack.extend(i for i in node.input if i)
        if not any(x in n.input for n in region):
            return None
        return region

    def _attention_closed(self, region, x, y) -> bool:
        """Nothing outside the region reads a tensor made inside it, except y."""
        made = {o for n in region for o in n.output if o} - {y}
        return all(self.consumers[o] == sum(i == o for n in region for i in n.input) for o in made)

    # ---- values ------------------------------------------------------------------------------
    def _probe(self, names):
        """The values of `names` on random inputs (rows stacked over runs), from onnxruntime; None if it can't."""
        import onnx
        import onnxruntime

        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        known = {o.name for o in model.graph.output}
        model.graph.output.extend(onnx.ValueInfoProto(name=n) for n in dict.fromkeys(names) if n not in known)
        try:
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
            session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                                   providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 - an operator onnxruntime lacks: no fusion
            return None
        batch = self.fixed_batch or _PROBE_BATCH
        rng = np.random.default_rng(0)
        runs = []
        for _ in range(max(1, _PROBE_BATCH // batch)):
            feeds = self._probe_feeds(session, batch, rng)
            if feeds is None:
                return None
            try:
                outs = session.run(None, feeds)
            except Exception:  # noqa: BLE001 - the model fails on random inputs: no fusion, the mapping explains
                return None
            runs.append(dict(zip([o.name for o in session.get_outputs()], outs)))
        return runs

    def _probe_feeds(self, session, batch, rng):
        feeds = {}
        for info in session.get_inputs():
            shape = [batch if i == 0 else d for i, d in enumerate(info.shape)]
            if not all(isinstance(d, int) and d > 0 for d in shape):
                return None
            if "int64" in info.type:
                feeds[info.name] = rng.integers(0, self._index_limit(info.name), shape, dtype=np.int64)
            elif "float" in info.type:
                feeds[info.name] = rng.standard_normal(shape).astype(np.float32)
            else:
                return None
        return feeds

    def _index_limit(self, name) -> int:
        """How many rows an embedding table read by `name` has (2 if no Gather reads a stored table with it)."""
        for node in self.graph.node:
            if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == name \
                    and node.input[0] in self.consts:
                return int(self.consts[node.input[0]].shape[0])
        return 2

    # ---- fitting -------------------------------------------------------------------------------
    def _fit_attention(self, c, runs, producer, users, data):
        """(x, y, region, params, weights) for the nearest x and farthest y that fit, or why none does."""
        first = runs[0]
        heads_layout = first[c["q"]].shape
        if len(heads_layout) not in (3, 4) or first[c["k"]].shape[-2] != heads_layout[-1]:
            return "its scores are not queries times transposed keys over heads"
        if not c["sources"]:
            return "its queries, keys and values come from different tensors (cross-attention)"
        if _scale_and_mask(first[c["logits"]].astype(np.float64), first[c["scores"]].astype(np.float64)) is None:
            return "a mask other than a causal one is added to its scores"
        for y in reversed(c["sinks"]):
            for x in c["sources"]:
                shape = first[x].shape
                if first[y].shape != shape or len(shape) != 3:
                    continue
                region = self._attention_region(x, y, producer, data)
                if region is None or not self._attention_closed(region, x, y):
                    continue
                found = self._attention_weights(c, x, y, runs)
                if found is not None:
                    return (x, y, region, *found)
        return "no self-attention layer built from its weights reproduces it within 1e-5"

    def _attention_weights(self, c, x, y, runs):
        batch, length, embed = runs[0][x].shape
        head_dim = runs[0][c["q"]].shape[-1]
        heads = embed // head_dim
        if heads * head_dim != embed or runs[0][c["q"]].size != batch * length * embed:
            return None
        stacked = {name: np.concatenate([r[name] for r in runs]).astype(np.float64)
                   for name in (x, y, c["q"], c["k"], c["v"], c["scores"], c["logits"], c["attended"])}
        rows = len(runs) * batch

        def tokens(name, transposed=False):  # [rows * heads, T, d] or [rows, heads, T, d] -> [rows * T, E]
            value = stacked[name]
            if transposed:
                value = np.swapaxes(value, -1, -2)
            if value.size != rows * length * embed:
                return None
            return value.reshape(rows, heads, length, head_dim).transpose(0, 2, 1, 3).reshape(rows * length, embed)

        found = _scale_and_mask(stacked[c["logits"]], stacked[c["scores"]])
        axis = c["axis"].attribute
        softmax_axis = next((a.i for a in axis if a.name == "axis"), -1)
        if found is None or softmax_axis not in (-1, stacked[c["logits"]].ndim - 1):
            return None
        scale, causal = found
        x_rows = stacked[x].reshape(-1, embed)
        q, k, v, o = tokens(c["q"]), tokens(c["k"], transposed=True), tokens(c["v"]), tokens(c["attended"])
        if any(t is None for t in (q, k, v, o)):
            return None
        stored = [v.astype(np.float64) for v in self.consts.values() if v.dtype == np.float32 and v.ndim in (1, 2)]
        fits = [_affine(x_rows, t, stored) for t in (q, k, v)] + [_affine(o, stacked[y].reshape(-1, embed), stored)]
        if any(f is None for f in fits):
            return None
        (wq, bq, sq), (wk, bk, sk), (wv, bv, sv), (wo, bo, so) = fits
        # torch divides the queries by sqrt(head_dim) itself; its legacy exporter scales queries and keys by
        # head_dim ** -0.25 each: the keys keep their stored weights and the queries take the whole factor
        gain = _unit(sq * sk * scale * math.sqrt(head_dim))
        weights = {"in_proj_weight": np.concatenate([wq * gain, wk, wv * sv]),
                   "in_proj_bias": np.concatenate([bq * gain, bk, bv * sv]),
                   "out_proj.weight": wo * so, "out_proj.bias": bo * so}
        weights = {name: torch.as_tensor(_snap_bias(w, stored) if w.ndim == 1 else w, dtype=torch.float32)
                   for name, w in weights.items()}
        params = {"num_heads": heads, "dropout": 0.0, "bias": True, **({"causal": True} if causal else {})}
        attention = torch.nn.MultiheadAttention(embed, heads, batch_first=True).eval()
        attention.load_state_dict(weights)
        mask = torch.ones(length, length).triu(1).bool() if causal else None
        with torch.no_grad():
            got = attention(*[torch.as_tensor(stacked[x], dtype=torch.float32)] * 3, need_weights=False,
                            attn_mask=mask)[0]
        if float((got.double() - torch.as_tensor(stacked[y])).abs().max()) > TOLERANCE:
            return None
        return params, weights


def _scale_and_mask(logits: np.ndarray, scores: np.ndarray):
    """(c, causal) with logits == c * scores, plus -inf (or a huge negative) above the diagonal when causal."""
    if logits.shape != scores.shape or logits.ndim < 2 or logits.shape[-1] != logits.shape[-2]:
        return None
    masked = ~np.isfinite(logits) | (logits < -1e8)
    if not masked.any():
        scale = _ratio(logits, scores)
        return None if scale is None else (scale, False)
    upper = np.triu(np.ones(logits.shape[-2:], dtype=bool), 1)
    if not (masked == upper).all():
        return None
    kept = ~np.broadcast_to(upper, logits.shape)
    scale = _ratio(logits[kept], scores[kept])
    return None if scale is None else (scale, True)


def _ratio(after: np.ndarray, before: np.ndarray):
    """The constant c with after == c * before (a scale between the scores and the Softmax), or None."""
    if after.shape != before.shape:
        return None
    scale = float((after * before).sum() / max((before * before).sum(), 1e-30))
    return scale if _close(scale * before, after) else None


def _affine(inputs: np.ndarray, outputs: np.ndarray, stored: list[np.ndarray]):
    """(W, b, s) with outputs == s * (inputs @ W.T + b): W a stored matrix (or rows of one) where one fits,
    with s its scale, else W fitted by least squares and s = 1; None if no affine map fits."""
    centred_in, centred_out = inputs - inputs.mean(0), outputs - outputs.mean(0)
    for candidate in _stored_matrices(stored, (outputs.shape[1], inputs.shape[1])):
        scale = _ratio(centred_out, centred_in @ candidate.T)
        if scale is not None and abs(scale) > 1e-6:
            bias = (outputs / scale - inputs @ candidate.T).mean(0)
            if _close(scale * (inputs @ candidate.T + bias), outputs):
                return candidate, bias, scale
    if inputs.shape[0] <= inputs.shape[1] + 1:
        return None
    design = np.concatenate([inputs, np.ones((inputs.shape[0], 1))], axis=1)
    solution, *_ = np.linalg.lstsq(design, outputs, rcond=None)
    if not _close(design @ solution, outputs):
        return None
    return solution[:-1].T.copy(), solution[-1].copy(), 1.0


def _stored_matrices(stored: list[np.ndarray], shape: tuple[int, int]):
    """The stored 2-D tensors, transposed or not, and their blocks of rows, of `shape` ([out, in])."""
    for tensor in stored:
        for matrix in ((tensor, tensor.T) if tensor.ndim == 2 else ()):
            rows, cols = matrix.shape
            if cols == shape[1] and rows % shape[0] == 0:
                yield from (matrix[i:i + shape[0]] for i in range(0, rows, shape[0]))


def _snap_bias(fitted: np.ndarray, stored: list[np.ndarray]) -> np.ndarray:
    """The stored vector (or the stored pieces) equal to a fitted bias within fitting noise, else the fit."""
    pieces = []
    for chunk in np.split(fitted, 3) if fitted.size % 3 == 0 else [fitted]:
        pieces.append(next((v[i:i + chunk.size] for v in stored if v.ndim == 1 and v.size % chunk.size == 0
                            for i in range(0, v.size, chunk.size) if _close(v[i:i + chunk.size], chunk)), chunk))
    whole = np.concatenate(pieces)
    if _close(whole, np.zeros_like(whole)) and np.abs(whole).max() < 1e-6:
        return np.zeros_like(whole)  # a zero bias the exporter left out
    return next((v for v in stored if v.ndim == 1 and v.shape == whole.shape and _close(v, whole)), whole)


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    return bool(np.abs(got - want).max() <= TOLERANCE * max(1.0, float(np.abs(want).max())))


def _unit(factor: float) -> float:
    """1.0 for a factor within float32 rounding of it, so stored weights stay bit-exact."""
    return 1.0 if abs(factor - 1.0) < 1e-5 else factor
