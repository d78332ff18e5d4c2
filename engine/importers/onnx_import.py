"""Import an ONNX model as a Neurocanvas graph, with its weights.

`import_onnx(path_or_model)` returns an `ImportResult` (project + weights keyed
`<node_id>.<param>`); `import_onnx_file(model, project)` also writes
`PROJECT.json` and `PROJECT.safetensors`; `verify_import` runs the original in
onnxruntime and the imported graph in torch on the same random inputs.

How the model is read:
- Every graph input that is not an initializer becomes an Input node. Its first
  dimension is the batch (dynamic or fixed); the others must be fixed. Inputs are
  float32 or int64, and all must share the batch.
- Nodes that compute only on constants (initializers, `Constant`, weights made
  with `ConstantOfShape`, a transposed weight) are evaluated once, with the
  onnx reference implementation. Shape arithmetic (`Shape -> Gather -> Concat ->
  Reshape`, as torch exports `x.reshape(x.size(0), ...)`) is followed
  symbolically, the batch size being a symbol.
- Chains of element-wise ops that compute one activation of x (GELU, exact or
  tanh, and SiLU as torch exports them) become that activation node; they are
  recognised by evaluating the chain, not by its exact spelling.
- A constant added to or multiplied into the output of Linear/Conv/BatchNorm
  (MatMul + Add, Conv + Mul, BatchNorm + scale) is folded into that layer's
  weights when nothing else reads the layer's output.
- Transposes, Squeeze and Unsqueeze are kept as views until a node needs the
  tensor, which then gets a Permute and/or Reshape; a view may move the batch
  only on the way into or out of an LSTM/GRU (ONNX's time-major layout).
- Any node that cannot be mapped exactly makes the whole import fail with
  `ImportRefused`, listing every unmapped operator with its count and every
  other node that cannot be mapped with the reason. Nothing is ever dropped.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.errors import UserError
from engine.importers.common import (
    GraphBuilder,
    ImportedFiles,
    ImportMismatch,
    ImportRefused,
    ImportResult,
    Value,
    Verification,
)
from engine.shape_rules import TensorSpec
from graphs.errors import GraphError

__all__ = ["MAPPED_OPERATORS", "import_onnx", "import_onnx_file", "load_onnx", "verify_import"]

FUSED_DOMAIN = "neurocanvas.fused"
_FLOAT, _INT64 = 1, 7
_DTYPES = {_FLOAT: "float32", _INT64: "int64"}
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Pow", "Tanh", "Erf", "Sigmoid", "Exp", "Neg", "Sqrt", "Reciprocal", "Log"}
_NONDETERMINISTIC = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                     "Bernoulli"}
_MAX_REGION = 24


class _BatchSymbol:
    def __repr__(self) -> str:
        return "batch"


BATCH = _BatchSymbol()
_POISON = object()  # the value of an output whose node could not be mapped


class _Refuse(Exception):
    """This node cannot be mapped; the message says why (the node is named by the caller)."""


@dataclass(frozen=True)
class _Part:
    """One of the two ONNX axes that a Neurocanvas axis is split into: (directions, hidden) of a
    bidirectional LSTM/GRU output. `index` 0 is the outer part (of size `count`), 1 the inner one."""

    axis: int
    index: int
    count: int


@dataclass(eq=False)
class _Dyn:
    """A tensor computed by the model: a Neurocanvas value seen through a view.

    `axes[i]` is the Neurocanvas axis (0 = batch) behind ONNX axis i, or None for
    an inserted axis of size 1; None means the identity view. Neurocanvas axes of
    size 1 may be left out (squeezed). `kind`/`rnn` mark recurrent outputs.
    """

    value: Value
    axes: tuple | None = None
    origin: str = ""  # the ONNX node that made the view (names the Permute/Reshape it may become)
    kind: str = ""  # "rnn_seq" or "rnn_last"
    rnn: str | None = None
    materialized: _Dyn | None = field(default=None, repr=False)

    @property
    def nc_rank(self) -> int:
        return len(self.value.spec.shape) + 1

    def axes_list(self) -> list:
        return list(self.axes) if self.axes is not None else list(range(self.nc_rank))

    @property
    def canonical(self) -> bool:
        return self.axes_list() == list(range(self.nc_rank))

    def dims(self) -> list:
        full = (BATCH, *self.value.spec.shape)
        return [1 if a is None else (a.count if a.index == 0 else full[a.axis] // a.count) if isinstance(a, _Part)
                else full[a] for a in self.axes_list()]

    def view(self, axes, origin: str) -> _Dyn:
        return _Dyn(self.value, tuple(axes), origin, self.kind, self.rnn)


@dataclass(frozen=True)
class _Sym:
    """A small int vector (or scalar) from shape arithmetic; entries are ints or BATCH."""

    items: tuple
    scalar: bool = False


@dataclass(frozen=True)
class _Filled:
    """ConstantOfShape over a shape that involves the batch: a tensor filled with `value`."""

    value: float


def _sym(items, scalar=False):
    items = tuple(items)
    if all(isinstance(i, (int, np.integer)) for i in items):
        array = np.array(items, dtype=np.int64)
        return array.reshape(()) if scalar else array
    return _Sym(items, scalar)


def _tup(values):
    """An int when all values are equal (kernel_size=3), else a list ([3, 5])."""
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def _attrs(node) -> dict:
    from onnx import helper

    out = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        out[attribute.name] = value
    return out


def _label(node) -> str:
    return node.name or (node.output[0] if node.output else node.op_type)


def _hint(node) -> str:
    """A readable id for the node made from `node`: the module scope of a torch export (`/fc1/Gemm` -> fc1)."""
    name = node.name or ""
    if name.startswith("node_"):  # torch's dynamo exporter: node_lstm__2, node_Reshape_112
        return re.sub(r"_+\d+$", "", name[len("node_"):]).lower()
    parts = [p for p in name.split("/") if p]
    if name.startswith("/"):
        return parts[-2] if len(parts) >= 2 else ""
    if name:
        return name
    output = node.output[0] if node.output else ""
    if output and not output.startswith(("/", "onnx::")):
        return output
    return ""


def load_onnx(source) -> tuple:
    """(ModelProto, display name) from a path or a ModelProto; UserError if it can't be read."""
    import onnx

    if isinstance(source, onnx.ModelProto):
        return source, source.graph.name or "model"
    path = Path(source)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise UserError(f"ONNX file {path} {what}")
    try:
        model = onnx.load(str(path))
    except Exception as error:  # protobuf DecodeError, missing external data, ...
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{path} is not a readable ONNX model ({first})") from None
    if not model.graph.node and not model.graph.output:
        raise UserError(f"{path} is not an ONNX model (it holds no graph)")
    return model, str(path)


def import_onnx(source, name: str | None = None) -> ImportResult:
    """Map an ONNX model (a path or a ModelProto) to a Neurocanvas project with its weights.

    Raises `UserError` when the file can't be read and `ImportRefused` (a UserError) listing
    every unmapped operator and every node that can't be mapped exactly.
    """
    model, display = load_onnx(source)
    if name is None:
        name = Path(display).stem if isinstance(source, (str, os.PathLike)) else display
    return _OnnxImporter(model, display).run(name)


def import_onnx_file(model_path, project_path, weights_path=None, verify: bool = True) -> ImportedFiles:
    """Import `model_path` and write the project and its weights (`PROJECT.safetensors` beside it).

    With `verify` the import is first run against onnxruntime on random inputs, and
    `ImportMismatch` is raised (nothing written) if the outputs differ.
    """
    result = import_onnx(model_path, Path(project_path).stem)
    verification = verify_import(model_path, result) if verify else None
    if verification is not None and not verification.ok:
        raise ImportMismatch(str(model_path), verification)
    project, weights = result.save(project_path, weights_path)
    return ImportedFiles(result, project, weights, verification)


def verify_import(source, result: ImportResult, batch: int = 2, seed: int = 0) -> Verification | None:
    """Run the original model in onnxruntime and the imported graph in torch on the same random inputs
    (None if onnxruntime cannot run the original)."""
    import onnxruntime

    from engine.compiler import example_inputs

    model, _ = load_onnx(source)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                               providers=["CPUExecutionProvider"])
    except Exception:  # an operator onnxruntime lacks: nothing to compare against
        return None
    compiled = result.compiled
    first = session.get_inputs()[0].shape[0] if session.get_inputs() else None
    batch = first if isinstance(first, int) and first > 0 else batch
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tensors = example_inputs(compiled, batch)
    by_node = dict(zip(compiled.inputs, tensors))
    feeds = {name: by_node[node].numpy() for name, node in result.inputs.items() if node in by_node}
    with torch.no_grad():
        outputs = compiled.model(*tensors)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    by_output = dict(zip(compiled.outputs, outputs))
    names = list(result.outputs)
    expected = session.run(names, feeds)
    worst, largest = 0.0, 0.0
    for name, want in zip(names, expected):
        got = by_output[result.outputs[name]].numpy()
        if got.shape != want.shape:
            return Verification(math.inf, 0.0, "onnxruntime")
        if want.size:
            worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))))
            largest = max(largest, float(np.max(np.abs(want))))
    return Verification(worst, largest, "onnxruntime")


# ---------------------------------------------------------------------------------------------
class _OnnxImporter:
    def __init__(self, model, source: str):
        import onnx

        if model.functions:
            try:
                model = onnx.inliner.inline_local_functions(model)
            except Exception:  # noqa: BLE001 - leave them as unmapped ops
                pass
        self.model = model
        self.graph = model.graph
        self.source = source
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.builder = GraphBuilder()
        self.env: dict[str, object] = {}
        self.consts: dict[str, np.ndarray] = {}
        self.unmapped: Counter = Counter()
        self.problems: list[str] = []
        self.refs: dict[str, int] = {}
        self.rnn_used: dict[str, set] = {}
        self.inputs: dict[str, str] = {}
        self.fixed_batch: int | None = None
        self.notes: list[str] = []

    # ---- driver -----------------------------------------------------------
    def run(self, name: str) -> ImportResult:
        nodes = list(self.graph.node)
        self._read_initializers()
        live = self._live(nodes)
        self.consumers = Counter(i for n in live for i in n.input if i)
        self.consumers.update(o.name for o in self.graph.output)
        self._read_inputs()
        live = self._fold(live)
        live = self._fuse_activations(live)
        for node in live:
            self._convert(node)
        outputs = self._outputs()
        if self.unmapped or self.problems:
            raise ImportRefused(self.source, self.unmapped, self.problems)
        return self.builder.finish(name, outputs, self.inputs, self.notes)

    def _read_initializers(self) -> None:
        from onnx import numpy_helper

        for tensor in self.graph.initializer:
            self.consts[tensor.name] = numpy_helper.to_array(tensor)
        for sparse in self.graph.sparse_initializer:
            values = numpy_helper.to_array(sparse.values).reshape(-1)
            indices = numpy_helper.to_array(sparse.indices)
            dense = np.zeros(int(np.prod(sparse.dims)), dtype=values.dtype)
            flat = indices if indices.ndim == 1 else np.ravel_multi_index(indices.T, tuple(sparse.dims))
            dense[flat] = values
            self.consts[sparse.values.name] = dense.reshape(tuple(sparse.dims))

    def _live(self, nodes):
        """The nodes that some graph output depends on, in file order."""
        producer = {out: i for i, n in enumerate(nodes) for out in n.output if out}
        needed, stack = set(), [o.name for o in self.graph.output]
        while stack:
            name = stack.pop()
            index = producer.get(name)
            if index is None or index in needed:
                continue
            needed.add(index)
            stack.extend(i for i in nodes[index].input if i)
        return [n for i, n in enumerate(nodes) if i in needed]

    def _read_inputs(self) -> None:
        batches = []
        for info in self.graph.input:
            if info.name in self.consts:
                continue
            tensor = info.type.tensor_type
            if not info.type.HasField("tensor_type"):
                self.problems.append(f"input '{info.name}' is not a tensor")
                self.env[info.name] = _POISON
                continue
            dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
            dtype = _DTYPES.get(tensor.elem_type)
            why = None
            if dtype is None:
                import onnx

                why = (f"has element type {onnx.TensorProto.DataType.Name(tensor.elem_type).lower()}; "
                       "Neurocanvas inputs are float32 or int64")
            elif not tensor.HasField("shape") or not dims:
                why = "has no batch dimension (Neurocanvas takes the first dimension of each input as the batch)"
            elif any(not isinstance(d, int) or d < 1 for d in dims[1:]):
                why = f"has shape {dims}: every dimension but the first (the batch) must be a fixed size"
            if why:
                self.problems.append(f"input '{info.name}' {why}")
                self.env[info.name] = _POISON
                continue
            batches.append((info.name, dims[0]))
            hint = info.name if not info.name[:1].isdigit() else f"input_{info.name}"
            value = self.builder.add_input(hint, tuple(dims[1:]), dtype)
            self.inputs[info.name] = value.node
            self.env[info.name] = _Dyn(value)
        if not batches and not self.problems:
            self.problems.append("the model has no inputs (all its inputs are stored constants)")
        first = {b for _, b in batches}
        if len(first) > 1:
            listed = ", ".join(f"'{n}' {b}" for n, b in batches)
            self.problems.append(f"the inputs must share their first (batch) dimension, but they start with {listed}")
        elif first and isinstance(next(iter(first)), int):
            self.fixed_batch = next(iter(first))

    # ---- constants ----------------------------------------------------------
    def _fold(self, live):
        """Evaluate every node whose inputs are all constants; returns the nodes left to map."""
        rest = []
        for node in live:
            if (node.input and all((not i) or i in self.consts for i in node.input)) or (
                    not node.input and node.op_type in ("Constant", "ConstantOfShape")):
                if node.op_type in _NONDETERMINISTIC or node.domain not in ("", "ai.onnx"):
                    rest.append(node)
                    continue
                if any(a.type in (5, 10) for a in node.attribute):  # graph attributes: If/Loop/Scan
                    rest.append(node)
                    continue
                try:
                    values = self._evaluate(node)
                except Exception as error:  # noqa: BLE001 - the reference implementation raises anything
                    self.problems.append(f"{node.op_type} '{_label(node)}': its constant could not be computed "
                                         f"({str(error).strip().splitlines()[0] if str(error).strip() else error})")
                    for out in node.output:
                        self.env[out] = _POISON
                    continue
                for out, value in zip(node.output, values):
                    if out:
                        self.consts[out] = np.asarray(value)
                continue
            rest.append(node)
        return rest

    def _evaluate(self, node) -> list:
        a = _attrs(node)
        args = [self.consts[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Identity":
            return [args[0]]
        if op == "Constant" and "value" in a:
            from onnx import numpy_helper

            return [numpy_helper.to_array(a["value"])]
        if op == "ConstantOfShape":
            from onnx import numpy_helper

            fill = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            return [np.full(tuple(int(d) for d in args[0]), fill.reshape(-1)[0], dtype=fill.dtype)]
        if op == "Unsqueeze" and "axes" in a:  # before opset 13 (the reference evaluator only knows the new form)
            out = args[0]
            for axis in sorted(ax + out.ndim + len(a["axes"]) if ax < 0 else ax for ax in a["axes"]):
                out = np.expand_dims(out, axis)
            return [out]
        if op == "Squeeze" and "axes" in a:
            return [np.squeeze(args[0], axis=tuple(a["axes"]))]
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        feeds = {name: value for name, value in zip(node.input, args) if name}
        inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype), value.shape)
                  for name, value in feeds.items()]
        outputs = [helper.make_value_info(name, __import__("onnx").TypeProto()) for name in node.output if name]
        graph = helper.make_graph([node], "fold", inputs, outputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        return ReferenceEvaluator(model).run(None, feeds)

    # ---- activation chains ----------------------------------------------------
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
            for type_name, params, reference in _ACTIVATION_PROBES:
                want = reference(probe)
                if np.all(np.abs(got - want) <= 1e-6 + 1e-5 * np.abs(want)):
                    return type_name, params
        return None

    # ---- mapping ----------------------------------------------------------------
    def _convert(self, node) -> None:
        op = node.op_type if node.domain in ("", "ai.onnx") else (
            node.op_type if node.domain == FUSED_DOMAIN else f"{node.domain}.{node.op_type}")
        handler = getattr(self, f"_op_{node.op_type}", None) if node.domain in ("", "ai.onnx") else (
            self._op_fused if node.domain == FUSED_DOMAIN else None)
        ins = []
        for name in node.input:
            if not name:
                ins.append(None)
            elif name in self.consts:
                ins.append(self.consts[name])
            else:
                ins.append(self.env.get(name, _POISON))
        if node.input and all(v is None or isinstance(v, np.ndarray) for v in ins) and handler is not self._op_fused \
                and node.domain in ("", "ai.onnx") and node.op_type not in _NONDETERMINISTIC:
            try:  # constants that shape arithmetic produced (a product of two known sizes, ...)
                for name, value in zip(node.output, self._evaluate(node)):
                    if name:
                        self.consts[name] = np.asarray(value)
                return
            except Exception:  # noqa: BLE001 - fall through to the mapping, which explains the refusal
                pass
        if handler is None:
            self.unmapped[op] += 1
            self._poison(node)
            return
        if any(v is _POISON for v in ins):
            self._poison(node)
            return
        try:
            outs = handler(node, ins, _attrs(node))
        except _Refuse as refusal:
            self.problems.append(f"{op} '{_label(node)}'{refusal}")
            self._poison(node)
            return
        except GraphError as error:  # the engine's shape rules refused the mapped node
            self.problems.append(f"{op} '{_label(node)}' maps to a node that does not fit: {error.message}")
            self._poison(node)
            return
        except (ValueError, TypeError, KeyError, IndexError) as error:  # a malformed node (missing attribute, ...)
            self.problems.append(f"{op} '{_label(node)}' could not be read ({type(error).__name__}: {error})")
            self._poison(node)
            return
        for name, value in zip(node.output, outs):
            if name:
                self._bind(name, value)
        for name in node.output[len(outs):]:
            if name and self.consumers[name]:
                self.problems.append(f"{op} '{_label(node)}': its output '{name}' is used, "
                                     "but only the main output can be imported")
                self.env[name] = _POISON

    def _poison(self, node) -> None:
        for name in node.output:
            if name:
                self.env[name] = _POISON

    def _bind(self, name: str, value) -> None:
        if isinstance(value, np.ndarray):
            self.consts[name] = value
            return
        self.env[name] = value
        if isinstance(value, _Dyn):
            node = value.value.node
            if node in self.refs:  # another name for a tensor already bound (Identity, a view, a fold)
                self.refs[node] += self.consumers[name] - 1
            else:
                self.refs[node] = self.consumers[name]

    def _add(self, type_name: str, params: dict, inputs: list[Value], node, weights=None, hint=None) -> _Dyn:
        value = self.builder.add(type_name, params, inputs, _hint(node) if hint is None else hint, weights)
        return _Dyn(value)

    def _dyn(self, value, what: str = "its input") -> _Dyn:
        """The tensor as a Neurocanvas value in its own layout (adding Permute/Reshape for a view)."""
        if isinstance(value, np.ndarray):
            raise _Refuse(f": {what} is a constant tensor, which no Neurocanvas node takes there")
        if isinstance(value, (_Sym, _Filled)):
            raise _Refuse(f": {what} is computed from the model's shape, which no Neurocanvas node takes there")
        if value is None:
            raise _Refuse(f": {what} is missing")
        if value.kind:
            self.rnn_used.setdefault(value.rnn, set()).add(value.kind)
        if value.canonical:
            return value
        if value.materialized is None:
            value.materialized = self._materialize(value)
        return value.materialized

    def _materialize(self, view: _Dyn) -> _Dyn:
        axes = view.axes_list()
        if any(isinstance(a, _Part) for a in axes):
            raise _Refuse(f": its input comes from '{view.origin}', which keeps the two directions of a bidirectional "
                          "LSTM/GRU apart; Neurocanvas outputs them concatenated")
        if not axes or axes[0] != 0:
            raise _Refuse(f": its input comes from '{view.origin}', which moves the batch dimension away from the "
                          "front; Neurocanvas keeps the batch first")
        present = [a for a in axes if a is not None]
        perm = present + [k for k in range(view.nc_rank) if k not in present]
        sizes = (BATCH, *view.value.spec.shape)
        moved = [a for a in present if a == 0 or sizes[a] != 1]  # axes of size 1 are placed by the Reshape
        value = view.value
        if moved != sorted(moved):
            value = self.builder.add("Permute", {"dims": perm}, [value], _origin_hint(view.origin))
        target = tuple(view.dims()[1:])
        if target != value.spec.shape:
            value = self.builder.add("Reshape", {"shape": list(target)}, [value], _origin_hint(view.origin))
        return _Dyn(value, kind=view.kind, rnn=view.rnn)

    def _const(self, value, what: str) -> np.ndarray:
        if isinstance(value, np.ndarray):
            return value
        if value is None:
            raise _Refuse(f": {what} is missing")
        raise _Refuse(f": {what} is computed by the model (or is a graph input), not a stored initializer; "
                      "Neurocanvas layers need their weights stored in the file")

    def _rank(self, x: _Dyn) -> int:
        return len(x.value.spec.shape) + 1

    # ---- element-wise and activations --------------------------------------
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
        return self._activation("LeakyReLU", lambda a: {"negative_slope": _num(a.get("alpha", 0.01))})

    @property
    def _op_Elu(self):
        return self._activation("ELU", lambda a: {"alpha": _num(a.get("alpha", 1.0))})

    @property
    def _op_Gelu(self):
        return self._activation("GELU", lambda a: {"approximate": a.get("approximate", "none")})

    def _op_fused(self, node, ins, a):
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
            raise _Refuse(f": axis {a.get('axis')} is out of range for a tensor of {rank} dims")
        shape = x.value.spec.shape
        if self.opset >= 13 or (axis > 0 and math.prod(shape[axis:]) == 1):
            return [self._add(type_name, {"dim": axis}, [x.value], node)]
        if axis == 0:
            raise _Refuse(": before opset 13 it normalises over the batch together with every other dimension")
        # opset < 13 with trailing dims: softmax over the flattened trailing dims
        flat = self.builder.add("Flatten", {"start_dim": axis}, [x.value], _hint(node))
        out = self.builder.add(type_name, {"dim": -1}, [flat], _hint(node))
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
        if any(isinstance(v, (_Sym, _Filled)) for v in ins):
            raise _Refuse(": it computes with the batch size, which Neurocanvas graphs cannot express")
        dynamic = [v for v in ins if isinstance(v, _Dyn)]
        if len(dynamic) == len(ins):
            if len(ins) == 1:
                return [ins[0]]
            if kind in ("sub", "div"):
                word = "subtracts" if kind == "sub" else "divides"
                raise _Refuse(f": it {word} two computed tensors; Neurocanvas has no such node")
            if len(ins) > 16:
                raise _Refuse(f": it has {len(ins)} inputs; Add and Multiply take at most 16")
            values = [self._dyn(v).value for v in ins]
            return [self._add("Add" if kind == "add" else "Multiply", {"inputs": len(values)}, values, node)]
        if len(ins) != 2 or len(dynamic) != 1:
            raise _Refuse(": it combines constants with more than one computed tensor")
        constant_first = not isinstance(ins[0], _Dyn)
        x, c = (ins[1], ins[0]) if constant_first else (ins[0], ins[1])
        c = np.asarray(c, dtype=np.float64)
        if kind == "sub":
            if constant_first:
                raise _Refuse(": it subtracts a computed tensor from a constant; Neurocanvas has no such node")
            kind, c = "add", -c
        elif kind == "div":
            if constant_first:
                raise _Refuse(": it divides a constant by a computed tensor; Neurocanvas has no such node")
            kind, c = "mul", 1.0 / c
        return [self._affine(node, x, c, kind == "add")]

    def _affine(self, node, x: _Dyn, c: np.ndarray, add: bool) -> _Dyn:
        """x + c or x * c: a no-op, or folded into the bias/scale of the layer that produced x."""
        dims = [1 if d is BATCH else d for d in x.dims()]
        try:
            grown = tuple(np.broadcast_shapes(c.shape, tuple(dims))) != tuple(dims)
        except ValueError:
            raise _Refuse(f": the constant of shape {list(c.shape)} does not broadcast to its input "
                          f"{_fmt(x.dims())}") from None
        if not grown and np.all(c == (0.0 if add else 1.0)):
            return x
        producer = self.builder.nodes.get(x.value.node)
        what = f"adds a constant tensor to its input {_fmt(x.dims())}" if add else \
            f"multiplies its input {_fmt(x.dims())} by a constant tensor"
        refuse = _Refuse(f": it {what}; Neurocanvas has no node for that (a constant is only "
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

    # ---- layers -------------------------------------------------------------
    def _op_Gemm(self, node, ins, a):
        x = ins[0]
        if not isinstance(x, _Dyn) or isinstance(ins[1], _Dyn):
            raise _Refuse(": it multiplies two computed tensors (or a constant by a computed one on the left); "
                          "Neurocanvas has no matrix-product node, only Linear with stored weights")
        x = self._dyn(x)
        if a.get("transA", 0):
            raise _Refuse(": transA=1 would transpose the batch into the features")
        if self._rank(x) != 2:
            raise _Refuse(f": it needs a 2-D input, got {_fmt(x.dims())}")
        b = self._const(ins[1], "its weight B").astype(np.float32)
        weight = b if a.get("transB", 0) else b.T
        weight = weight * np.float32(a.get("alpha", 1.0))
        n = weight.shape[0]
        weights = {"weight": torch.as_tensor(np.ascontiguousarray(weight))}
        if len(ins) > 2 and ins[2] is not None:
            c = self._const(ins[2], "its bias C").astype(np.float32) * np.float32(a.get("beta", 1.0))
            if c.size not in (1, n) or (c.ndim == 2 and c.shape[0] != 1):
                raise _Refuse(f": its bias C has shape {list(c.shape)}, which depends on the batch row")
            weights["bias"] = torch.as_tensor(np.broadcast_to(c.reshape(-1), (n,)).copy())
        if weight.shape[1] != x.value.spec.shape[-1]:
            raise _Refuse(f": its weight takes {weight.shape[1]} features but the input has {x.value.spec.shape[-1]}")
        return [self._add("Linear", {"out_features": n, "bias": "bias" in weights}, [x.value], node, weights)]

    def _op_MatMul(self, node, ins, a):
        if not isinstance(ins[0], _Dyn) or isinstance(ins[1], _Dyn):
            raise _Refuse(": it multiplies two computed tensors (or a constant by a computed one on the left); "
                          "Neurocanvas has no matrix-product node, only Linear with stored weights")
        x = self._dyn(ins[0])
        w = self._const(ins[1], "its second operand").astype(np.float32)
        if w.ndim != 2 or self._rank(x) < 2:
            raise _Refuse(f": only [.., K] x [K, N] with a stored 2-D matrix maps to Linear, got {_fmt(x.dims())} "
                          f"x {list(w.shape)}")
        if w.shape[0] != x.value.spec.shape[-1]:
            raise _Refuse(f": the matrix takes {w.shape[0]} features but the input has {x.value.spec.shape[-1]}")
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
                    raise _Refuse(f": auto_pad={auto} pads unevenly here ({total} in all); Neurocanvas pads both "
                                  "sides equally")
                pads.append(total // 2)
            return pads
        pads = list(a.get("pads", [0] * 2 * n))
        if pads[:n] != pads[n:]:
            raise _Refuse(f": pads {pads} are not the same at both ends; Neurocanvas pads both sides equally")
        return pads[:n]

    def _op_Conv(self, node, ins, a):
        x = self._dyn(ins[0])
        w = self._const(ins[1], "its weight W").astype(np.float32)
        n = w.ndim - 2
        if n not in (1, 2):
            raise _Refuse(f": a {n}-D convolution has no Neurocanvas node (Conv1d and Conv2d only)")
        if self._rank(x) != n + 2:
            raise _Refuse(f": a {n}-D convolution needs input [batch, C, {'L' if n == 1 else 'H, W'}], got "
                          f"{_fmt(x.dims())}")
        kernel = list(a.get("kernel_shape", w.shape[2:]))
        strides = list(a.get("strides", [1] * n))
        dilations = list(a.get("dilations", [1] * n))
        groups = int(a.get("group", 1))
        pads = self._pads(a, x.value.spec.shape[1:], kernel, strides, dilations)
        if w.shape[1] * groups != x.value.spec.shape[0]:
            raise _Refuse(f": its weight takes {w.shape[1] * groups} channels but the input has "
                          f"{x.value.spec.shape[0]}")
        weights = {"weight": torch.as_tensor(w)}
        if len(ins) > 2 and ins[2] is not None:
            weights["bias"] = torch.as_tensor(self._const(ins[2], "its bias B").astype(np.float32))
        params = {"out_channels": int(w.shape[0]), "kernel_size": _tup(kernel), "stride": _tup(strides),
                  "padding": _tup(pads), "dilation": _tup(dilations), "groups": groups, "bias": "bias" in weights}
        return [self._add("Conv1d" if n == 1 else "Conv2d", params, [x.value], node, weights)]

    def _op_ConvTranspose(self, node, ins, a):
        x = self._dyn(ins[0])
        w = self._const(ins[1], "its weight W").astype(np.float32)
        n = w.ndim - 2
        if n != 2:
            raise _Refuse(f": a {n}-D transposed convolution has no Neurocanvas node (ConvTranspose2d only)")
        if self._rank(x) != 4:
            raise _Refuse(f": it needs input [batch, C, H, W], got {_fmt(x.dims())}")
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
                    raise _Refuse(f": output_shape {wanted} is larger than the layer can make")
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
            raise _Refuse(f": its padding ({begin} at the start, {end} at the end) trims more at the end than "
                          "torch's ConvTranspose2d can")
        if w.shape[0] != x.value.spec.shape[0]:
            raise _Refuse(f": its weight takes {w.shape[0]} channels but the input has {x.value.spec.shape[0]}")
        weights = {"weight": torch.as_tensor(w)}
        if len(ins) > 2 and ins[2] is not None:
            weights["bias"] = torch.as_tensor(self._const(ins[2], "its bias B").astype(np.float32))
        params = {"out_channels": int(w.shape[1] * groups), "kernel_size": _tup(kernel), "stride": _tup(strides),
                  "padding": _tup(begin), "output_padding": _tup(output_padding), "dilation": _tup(dilations),
                  "groups": groups, "bias": "bias" in weights}
        return [self._add("ConvTranspose2d", params, [x.value], node, weights)]

    def _pool_padding(self, a, spatial, kernel, strides, dilations, average: bool):
        """(padding, ceil_mode) for a pool; padding more at the end maps to ceil_mode when the sizes agree."""
        try:
            return self._pads(a, spatial, kernel, strides, dilations), bool(a.get("ceil_mode", 0))
        except _Refuse:
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
                raise _Refuse(f": pads {list(a['pads'])} are not the same at both ends; Neurocanvas pads both "
                              "sides equally")
        return begin, True

    def _op_MaxPool(self, node, ins, a):
        x = self._dyn(ins[0])
        kernel = list(a["kernel_shape"])
        n = len(kernel)
        if n not in (1, 2):
            raise _Refuse(f": {n}-D max pooling has no Neurocanvas node (MaxPool1d and MaxPool2d only)")
        if self._rank(x) != n + 2:
            raise _Refuse(f": it needs input [batch, C, {'L' if n == 1 else 'H, W'}], got {_fmt(x.dims())}")
        if len(node.output) > 1 and node.output[1] and self.consumers[node.output[1]]:
            raise _Refuse(": it uses the Indices output, which Neurocanvas pooling does not give")
        strides = list(a.get("strides", [1] * n))
        dilations = list(a.get("dilations", [1] * n))
        pads, ceil = self._pool_padding(a, x.value.spec.shape[1:], kernel, strides, dilations, average=False)
        params = {"kernel_size": _tup(kernel), "stride": _tup(strides), "padding": _tup(pads),
                  "dilation": _tup(dilations), "ceil_mode": ceil}
        return [self._add("MaxPool1d" if n == 1 else "MaxPool2d", params, [x.value], node)]

    def _op_AveragePool(self, node, ins, a):
        x = self._dyn(ins[0])
        kernel = list(a["kernel_shape"])
        n = len(kernel)
        if n != 2:
            raise _Refuse(f": {n}-D average pooling has no Neurocanvas node (AvgPool2d only)")
        if self._rank(x) != 4:
            raise _Refuse(f": it needs input [batch, C, H, W], got {_fmt(x.dims())}")
        if any(d != 1 for d in a.get("dilations", [1] * n)):
            raise _Refuse(": dilated average pooling has no Neurocanvas node")
        strides = list(a.get("strides", [1] * n))
        pads, ceil = self._pool_padding(a, x.value.spec.shape[1:], kernel, strides, [1] * n, average=True)
        params = {"kernel_size": _tup(kernel), "stride": _tup(strides), "padding": _tup(pads), "ceil_mode": ceil,
                  "count_include_pad": bool(a.get("count_include_pad", 0))}
        return [self._add("AvgPool2d", params, [x.value], node)]

    def _op_GlobalAveragePool(self, node, ins, a):
        x = self._dyn(ins[0])
        if self._rank(x) != 4:
            raise _Refuse(f": only 2-D global pooling ([batch, C, H, W]) maps to AdaptiveAvgPool2d, got "
                          f"{_fmt(x.dims())}")
        return [self._add("AdaptiveAvgPool2d", {"output_size": 1}, [x.value], node)]

    def _op_BatchNormalization(self, node, ins, a):
        x = self._dyn(ins[0])
        rank = self._rank(x)
        if rank not in (2, 3, 4):
            raise _Refuse(f": BatchNorm1d/2d take [batch, C], [batch, C, L] or [batch, C, H, W], got "
                          f"{_fmt(x.dims())}")
        if a.get("training_mode", 0) or not a.get("spatial", 1):
            raise _Refuse(": only inference-mode, per-channel batch normalisation can be imported")
        if any(o and self.consumers[o] for o in node.output[1:]):
            raise _Refuse(": it uses the running statistics outputs of training mode")
        names = ("scale", "B", "mean", "var")
        scale, bias, mean, var = (self._const(v, f"its {n}").astype(np.float32) for v, n in zip(ins[1:5], names))
        momentum = float(a.get("momentum", 0.9))
        weights = {"weight": scale, "bias": bias, "running_mean": mean, "running_var": var}
        weights = {k: torch.as_tensor(v.reshape(-1)) for k, v in weights.items()}
        params = {"eps": _num(a.get("epsilon", 1e-5)), "momentum": _num(min(max(1.0 - momentum, 0.0), 1.0))}
        return [self._add("BatchNorm2d" if rank == 4 else "BatchNorm1d", params, [x.value], node, weights)]

    def _op_LayerNormalization(self, node, ins, a):
        x = self._dyn(ins[0])
        rank = self._rank(x)
        axis = int(a.get("axis", -1))
        axis = axis + rank if axis < 0 else axis
        if not 1 <= axis < rank:
            raise _Refuse(f": axis {a.get('axis', -1)} would normalise over the batch")
        if any(o and self.consumers[o] for o in node.output[1:]):
            raise _Refuse(": it uses the mean / inverse deviation outputs")
        trailing = tuple(x.value.spec.shape[axis - 1:])
        scale = self._const(ins[1], "its scale").astype(np.float32)
        weights = {"weight": torch.as_tensor(np.broadcast_to(scale, trailing).copy())}
        if len(ins) > 2 and ins[2] is not None:
            bias = self._const(ins[2], "its bias B").astype(np.float32)
            weights["bias"] = torch.as_tensor(np.broadcast_to(bias, trailing).copy())
        params = {"normalized_dims": rank - axis, "eps": _num(a.get("epsilon", 1e-5)), "bias": "bias" in weights}
        return [self._add("LayerNorm", params, [x.value], node, weights)]

    def _op_Dropout(self, node, ins, a):
        if len(ins) > 2 and ins[2] is not None:
            training = self._const(ins[2], "its training_mode")
            if bool(np.asarray(training).reshape(-1)[0]):
                raise _Refuse(": it runs in training mode")
        if len(node.output) > 1 and node.output[1] and self.consumers[node.output[1]]:
            raise _Refuse(": it uses the dropout mask output")
        ratio = a.get("ratio", 0.5)
        if len(ins) > 1 and ins[1] is not None:
            ratio = float(np.asarray(self._const(ins[1], "its ratio")).reshape(-1)[0])
        x = self._dyn(ins[0])
        return [self._add("Dropout", {"p": _num(ratio)}, [x.value], node)]

    def _op_Identity(self, node, ins, a):
        return [ins[0]]

    def _op_Cast(self, node, ins, a):
        if isinstance(ins[0], (_Sym, _Filled)):
            return [ins[0]]
        x = ins[0]
        if _DTYPES.get(a.get("to")) != x.value.spec.dtype:
            raise _Refuse(f": it changes the element type to {a.get('to')}; Neurocanvas has no cast node")
        return [x]

    def _op_Concat(self, node, ins, a):
        axis = int(a.get("axis", 0))
        if any(isinstance(v, (_Sym, _Filled)) for v in ins) or all(not isinstance(v, _Dyn) for v in ins):
            items = []
            for v in ins:
                items.extend(v.items if isinstance(v, _Sym) else np.asarray(v).reshape(-1).tolist())
            return [_sym(items)]
        if any(not isinstance(v, _Dyn) for v in ins):
            raise _Refuse(": it concatenates a constant tensor; Neurocanvas has no constant node")
        if len(ins) == 1:
            return [ins[0]]
        if len(ins) > 16:
            raise _Refuse(f": it has {len(ins)} inputs; Concat takes at most 16")
        values = [self._dyn(v).value for v in ins]
        return [self._add("Concat", {"inputs": len(values), "dim": axis}, values, node)]

    def _op_Flatten(self, node, ins, a):
        x = self._dyn(ins[0])
        rank = self._rank(x)
        axis = int(a.get("axis", 1))
        axis = axis + rank if axis < 0 else axis
        shape = x.value.spec.shape
        if axis == 0 or math.prod(shape[:axis - 1]) != 1:
            raise _Refuse(f": axis={a.get('axis', 1)} merges the batch with other dimensions "
                          f"({_fmt(x.dims())}); Neurocanvas keeps the batch apart")
        if not shape:  # [batch] -> [batch, 1]
            return [self._add("Reshape", {"shape": [1]}, [x.value], node)]
        return [self._add("Flatten", {"start_dim": 1, "end_dim": -1}, [x.value], node)]

    def _op_Reshape(self, node, ins, a):
        data, shape = ins[0], ins[1]
        if isinstance(data, _Filled):
            return [data]
        if isinstance(data, _Sym):
            return [data]
        if isinstance(shape, _Dyn) or shape is None:
            raise _Refuse(": its target shape is computed from tensor values, not known when importing")
        entries = list(shape.items) if isinstance(shape, _Sym) else [int(v) for v in np.asarray(shape).reshape(-1)]
        if any(isinstance(ax, _Part) for ax in data.axes_list()):
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
                    raise _Refuse(f": shape {entries} copies dimension {i}, which its input lacks")
                e = dims[i]
            target.append(e)
        if not target:
            raise _Refuse(": it reshapes to a scalar, dropping the batch")
        first, rest = target[0], target[1:]
        if any(e is BATCH for e in rest):
            raise _Refuse(f": shape {_fmt(target)} moves the batch dimension; Neurocanvas keeps it first")
        per_sample = math.prod(x.value.spec.shape)
        known = math.prod(e for e in rest if e != -1)
        if any(e < -1 or e == 0 for e in rest) or rest.count(-1) > 1:
            raise _Refuse(f": shape {_fmt(target)} is not a valid reshape for Neurocanvas")
        batch_ok = first is BATCH or (first == -1 and -1 not in rest and known == per_sample) or (
            self.fixed_batch is not None and first == self.fixed_batch
            and (known == per_sample if -1 not in rest else per_sample % known == 0))
        if not batch_ok:
            raise _Refuse(f": shape {_fmt(target)} changes the batch dimension of its input {_fmt(dims)}")
        resolved = [per_sample // known if e == -1 else e for e in rest]
        if math.prod(resolved) != per_sample:
            raise _Refuse(f": cannot reshape {_fmt(dims)} to {_fmt(target)}")
        if tuple(resolved) == x.value.spec.shape:
            return [x]
        return [self._add("Reshape", {"shape": rest}, [x.value], node)]

    def _reshape_view(self, node, x: _Dyn, entries, allowzero) -> _Dyn | None:
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
        return x.view([None if t == 1 else next(remaining) for t in target], _label(node))

    def _merge_directions(self, node, x: _Dyn, entries, allowzero) -> _Dyn:
        """[T, batch, 2, H] -> [T, batch, 2H]: merging the directions of a bidirectional RNN output back."""
        axes, dims = x.axes_list(), x.dims()
        merged, i = [], 0
        while i < len(axes):
            ax = axes[i]
            if isinstance(ax, _Part) and ax.index == 0 and i + 1 < len(axes) and axes[i + 1] == _Part(ax.axis, 1,
                                                                                                      ax.count):
                merged.append(ax.axis)
                i += 2
            else:
                merged.append(ax)
                i += 1
        view = x.view(merged, _label(node))
        target = [dims[i] if (e is not BATCH and e == 0 and not allowzero and i < len(dims)) else e
                  for i, e in enumerate(entries)]
        new = view.dims()
        fits = len(target) == len(new) and target.count(-1) <= 1 and all(
            t == -1 or t is d or t == d for t, d in zip(target, new))
        if any(isinstance(ax, _Part) for ax in merged) or not fits:
            raise _Refuse(f": it reshapes the output of a bidirectional LSTM/GRU {_fmt(dims)} to {_fmt(target)}, "
                          "which Neurocanvas cannot express")
        return view

    def _op_Transpose(self, node, ins, a):
        x = ins[0]
        if not isinstance(x, _Dyn):
            raise _Refuse(": it transposes values computed from the model's shape")
        axes = x.axes_list()
        perm = list(a.get("perm", range(len(axes) - 1, -1, -1)))
        if sorted(perm) != list(range(len(axes))):
            raise _Refuse(f": perm {perm} is not a permutation of its {len(axes)} dims")
        return [x.view([axes[p] for p in perm], _label(node))]

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
        if isinstance(x, _Filled):
            return [x]
        if isinstance(x, _Sym):
            if len(x.items) != 1:
                raise _Refuse(": it squeezes a shape vector of more than one entry")
            return [_sym(x.items, scalar=True)]
        axes_now = x.axes_list()
        dims = x.dims()
        squeeze = self._axes_argument(node, ins, a, len(axes_now))
        if squeeze is None:
            squeeze = [i for i, d in enumerate(dims) if d == 1 and axes_now[i] != 0]
            if self.fixed_batch == 1 and axes_now and 0 in axes_now:
                raise _Refuse(": it squeezes every size-1 dimension, and the batch here is fixed at 1")
        for i in squeeze:
            if axes_now[i] == 0:
                raise _Refuse(": it squeezes away the batch dimension")
            if dims[i] != 1:
                raise _Refuse(f": dimension {i} of {_fmt(dims)} is not 1")
        return [x.view([ax for i, ax in enumerate(axes_now) if i not in squeeze], _label(node))]

    def _op_Unsqueeze(self, node, ins, a):
        x = ins[0]
        if isinstance(x, _Filled):
            return [x]
        if isinstance(x, _Sym):
            if not x.scalar:
                raise _Refuse(": it unsqueezes a shape vector")
            return [_Sym(x.items)]
        axes_now = x.axes_list()
        insert = self._axes_argument(node, ins, a, len(axes_now) + len(
            a.get("axes", []) or (np.asarray(ins[1]).reshape(-1) if len(ins) > 1 and ins[1] is not None else [])))
        if insert is None:
            raise _Refuse(": it has no axes")
        axes = list(axes_now)
        for i in insert:
            axes.insert(i, None)
        return [x.view(axes, _label(node))]

    def _op_Shape(self, node, ins, a):
        x = ins[0]
        if not isinstance(x, _Dyn):
            raise _Refuse(": it takes the shape of a computed shape")
        dims = x.dims()
        start, end = a.get("start", 0), a.get("end", len(dims))
        return [_sym(dims[slice(start, end)])]

    def _op_Size(self, node, ins, a):
        raise _Refuse(": it computes with the batch size, which Neurocanvas graphs cannot express")

    def _op_ConstantOfShape(self, node, ins, a):
        from onnx import numpy_helper

        value = numpy_helper.to_array(a["value"]).reshape(-1)[0] if "value" in a else 0.0
        return [_Filled(float(value))]

    def _op_Expand(self, node, ins, a):
        if isinstance(ins[0], _Filled):  # zeros broadcast to [layers, batch, hidden]: an RNN's initial state
            return [ins[0]]
        if isinstance(ins[0], np.ndarray) and ins[0].size and np.all(ins[0] == ins[0].reshape(-1)[0]):
            return [_Filled(float(ins[0].reshape(-1)[0]))]  # a constant broadcast to a shape with the batch
        raise _Refuse(": Neurocanvas has no broadcasting node")

    def _op_Slice(self, node, ins, a):
        x = ins[0]
        if isinstance(x, _Filled):
            return [x]
        if not isinstance(x, _Sym):
            raise _Refuse(": Neurocanvas has no slicing node")
        if "starts" in a:
            starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes", [0]), [1]
        else:
            starts, ends = (np.asarray(self._const(v, "its bounds")).reshape(-1).tolist() for v in ins[1:3])
            axes = np.asarray(self._const(ins[3], "axes")).reshape(-1).tolist() if len(ins) > 3 and ins[3] is not None \
                else [0]
            steps = np.asarray(self._const(ins[4], "steps")).reshape(-1).tolist() if len(ins) > 4 and \
                ins[4] is not None else [1]
        if list(axes) not in ([0], [-1]):
            raise _Refuse(": it slices a shape vector along a second axis")
        n = len(x.items)
        start, end, step = int(starts[0]), int(ends[0]), int(steps[0])
        start, end = max(min(start, n), -n - 1), max(min(end, n), -n - 1)
        return [_sym(x.items[slice(start, end, step)])]

    def _op_Gather(self, node, ins, a):
        data, indices = ins[0], ins[1]
        axis = int(a.get("axis", 0))
        if isinstance(data, _Sym):
            index = np.asarray(self._const(indices, "its indices"))
            picked = [data.items[int(i)] for i in index.reshape(-1)]
            return [_sym(picked, scalar=index.ndim == 0)]
        if isinstance(data, np.ndarray) and isinstance(indices, _Dyn):
            if axis != 0 or data.ndim != 2:
                raise _Refuse(": only rows of a stored 2-D table (an embedding) can be gathered")
            ids = self._dyn(indices, "its indices")
            if ids.value.spec.dtype != "int64":
                raise _Refuse(": its indices must be int64")
            weights = {"weight": torch.as_tensor(data.astype(np.float32))}
            params = {"num_embeddings": int(data.shape[0]), "embedding_dim": int(data.shape[1])}
            return [self._add("Embedding", params, [ids.value], node, weights)]
        if isinstance(data, _Dyn) and isinstance(indices, np.ndarray):
            return [self._last_step(node, data, indices, axis)]
        raise _Refuse(": Neurocanvas has no gather node (only an embedding table lookup maps)")

    def _last_step(self, node, x: _Dyn, indices, axis):
        """Picking the last time step of an LSTM/GRU sequence becomes that layer's output='last'."""
        axes = x.axes_list()
        axis = axis + len(axes) if axis < 0 else axis
        steps = x.value.spec.shape[0] if x.value.spec.shape else 0
        index = np.asarray(indices)
        if (x.kind != "rnn_seq" or axes[axis] != 1 or index.size != 1 or any(isinstance(ax, _Part) for ax in axes)
                or int(index.reshape(-1)[0]) not in (-1, steps - 1)):
            raise _Refuse(": Neurocanvas has no gather node (only the last step of an LSTM/GRU sequence maps, "
                          "as that layer's output='last')")
        hidden = x.value.spec.shape[1]
        last = Value(x.value.node, TensorSpec((hidden,)), x.value.port)
        remap = {0: 0, 2: 1, None: None}
        kept = [remap[ax] for i, ax in enumerate(axes) if i != axis or index.ndim]
        if index.ndim:  # [k] keeps the axis, as size 1
            kept = [remap[ax] if i != axis else None for i, ax in enumerate(axes)]
        return _Dyn(last, tuple(kept), _label(node), "rnn_last", x.rnn)

    # ---- recurrent ----------------------------------------------------------------
    def _op_LSTM(self, node, ins, a):
        return self._recurrent(node, ins, a, "LSTM", 4, [0, 2, 3, 1], ("Sigmoid", "Tanh", "Tanh"))

    def _op_GRU(self, node, ins, a):
        if int(a.get("linear_before_reset", 0)) != 1:
            raise _Refuse(": linear_before_reset=0 computes a different GRU from torch's")
        return self._recurrent(node, ins, a, "GRU", 3, [1, 0, 2], ("Sigmoid", "Tanh"))

    def _recurrent(self, node, ins, a, type_name, gates, order, activations):
        direction = a.get("direction", "forward")
        directions = {"forward": 1, "bidirectional": 2}.get(direction)
        if directions is None:
            raise _Refuse(f": direction '{direction}' has no torch equivalent (forward or bidirectional only)")
        if list(a.get("activations", activations)) != list(activations[:len(a.get("activations", activations))]) \
                or a.get("activation_alpha") or a.get("activation_beta"):
            raise _Refuse(f": its activations {a.get('activations')} differ from torch's {type_name}")
        if "clip" in a or int(a.get("input_forget", 0)):
            raise _Refuse(": clip / input_forget have no torch equivalent")
        if len(ins) > 4 and ins[4] is not None:
            raise _Refuse(": sequence_lens (variable-length batches) cannot be imported")
        for index, what in ((5, "initial_h"), (6, "initial_c")):
            if len(ins) > index and ins[index] is not None:
                value = ins[index]
                zero = (isinstance(value, _Filled) and value.value == 0) or (
                    isinstance(value, np.ndarray) and not np.any(value))
                if not zero:
                    raise _Refuse(f": its {what} is not zero; Neurocanvas recurrent layers start from zeros")
        if len(ins) > 7 and ins[7] is not None and np.any(self._const(ins[7], "its peepholes P")):
            raise _Refuse(": LSTM peepholes have no torch equivalent")
        w = self._const(ins[1], "its weight W").astype(np.float32)
        r = self._const(ins[2], "its recurrence weight R").astype(np.float32)
        hidden = int(a.get("hidden_size", r.shape[-1]))
        layout = int(a.get("layout", 0))
        x = ins[0]
        if not isinstance(x, _Dyn):
            raise _Refuse(": its input is not a computed tensor")
        axes = x.axes_list()
        if len(axes) != 3:
            raise _Refuse(f": it needs a 3-D input, got {_fmt(x.dims())}")
        if layout == 0:  # [T, batch, F]: the Neurocanvas tensor is batch first
            if axes[1] != 0:
                raise _Refuse(": its input runs the sequence along the model input's first dimension, which "
                              "Neurocanvas takes as the batch")
            x = x.view([axes[1], axes[0], axes[2]], x.origin)
        seq = self._dyn(x, "its input")

        def reorder(matrix):
            blocks = np.split(matrix, gates, axis=0)
            return torch.as_tensor(np.concatenate([blocks[i] for i in order], axis=0))

        if w.shape[0] != directions or w.shape[-1] != seq.value.spec.shape[-1]:
            raise _Refuse(f": its weight W {list(w.shape)} does not fit the input {_fmt(seq.dims())}")
        weights = {}
        bias = self._const(ins[3], "its bias B").astype(np.float32) if len(ins) > 3 and ins[3] is not None else None
        for d, suffix in enumerate(("", "_reverse")[:directions]):
            weights[f"weight_ih_l0{suffix}"] = reorder(w[d])
            weights[f"weight_hh_l0{suffix}"] = reorder(r[d])
            if bias is not None:
                weights[f"bias_ih_l0{suffix}"] = reorder(bias[d, :gates * hidden])
                weights[f"bias_hh_l0{suffix}"] = reorder(bias[d, gates * hidden:])
        params = {"hidden_size": hidden, "num_layers": 1, "bias": bias is not None,
                  "bidirectional": directions == 2, "output": "sequence"}
        out = self._add(type_name, params, [seq.value], node, weights)
        node_id = out.value.node
        steps = seq.value.spec.shape[0]
        sequence = Value(node_id, TensorSpec((steps, hidden * directions)))
        split = (None, 2) if directions == 1 else (_Part(2, 0, 2), _Part(2, 1, 2))  # [.., directions, hidden]
        y_axes = (1, split[0], 0, split[1]) if layout == 0 else (0, 1, *split)
        outputs = [_Dyn(sequence, y_axes, _label(node), "rnn_seq", node_id)]
        if directions == 1:  # Y_h is the last step; for two directions the backward state ends at step 0
            h_axes = (None, 0, 1) if layout == 0 else (0, None, 1)
            outputs.append(_Dyn(Value(node_id, TensorSpec((hidden,))), h_axes, _label(node), "rnn_last", node_id))
        if len(node.output) > 2 and node.output[2] and self.consumers[node.output[2]]:
            raise _Refuse(": it uses the final cell state Y_c, which Neurocanvas's LSTM does not output")
        return outputs

    # ---- outputs ------------------------------------------------------------
    def _outputs(self) -> dict[str, str]:
        outputs: dict[str, str] = {}
        for info in self.graph.output:
            value = self.env.get(info.name, self.consts.get(info.name, _POISON))
            if value is _POISON:
                continue
            if not isinstance(value, _Dyn):
                self.problems.append(f"output '{info.name}' is a constant, not computed from the inputs")
                continue
            try:
                value = self._dyn(value, f"output '{info.name}'")
            except _Refuse as refusal:
                self.problems.append(f"output '{info.name}'{refusal}")
                continue
            node = self.builder.nodes[value.value.node]
            if node.type == "Input":  # Identity, or a transpose of size-1 axes: a Reshape to the same shape
                spec = value.value.spec
                value = _Dyn(self.builder.add("Reshape", {"shape": list(spec.shape)}, [value.value], info.name))
            if value.value.node in outputs.values():
                other = next(k for k, v in outputs.items() if v == value.value.node)
                self.problems.append(f"outputs '{other}' and '{info.name}' are the same tensor")
                continue
            outputs[info.name] = value.value.node
        for node_id, kinds in self.rnn_used.items():
            if kinds == {"rnn_last"}:
                self.builder.set_params(node_id, output="last")
            elif len(kinds) > 1:
                self.problems.append(f"'{node_id}': the model uses both the whole sequence and the last step of "
                                     "one recurrent layer; a Neurocanvas LSTM/GRU outputs one of them")
        if self.problems:
            return outputs
        self.builder.prune(set(outputs.values()))
        for name, node_id in outputs.items():
            if self.builder.consumers(node_id):
                self.problems.append(f"output '{name}' is also used inside the model; a Neurocanvas model outputs "
                                     "only values that no other node reads")
        renamed = {}
        for name, node_id in outputs.items():
            renamed[name] = self.builder.rename(node_id, name)
        return renamed


def _origin_hint(origin: str) -> str:
    parts = [p for p in origin.split("/") if p]
    return parts[-2] if origin.startswith("/") and len(parts) >= 2 else ("" if origin.startswith("/") else origin)


def _num(value) -> float:
    """A float attribute without float32 noise (1e-05, not 9.999999747378752e-06)."""
    return float(f"{float(value):.7g}")


def _fmt(dims) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _erf(v):
    return torch.special.erf(torch.as_tensor(v, dtype=torch.float64)).numpy()


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-np.asarray(v, dtype=np.float64)))


_ELEMENTWISE_EVAL = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power,
    "Tanh": np.tanh, "Erf": _erf, "Sigmoid": _sigmoid, "Exp": np.exp, "Neg": np.negative, "Sqrt": np.sqrt,
    "Reciprocal": lambda v: 1.0 / v, "Log": np.log,
}

_ACTIVATION_PROBES = [
    ("GELU", {"approximate": "none"}, lambda p: 0.5 * p * (1.0 + _erf(p / math.sqrt(2.0)))),
    ("GELU", {"approximate": "tanh"},
     lambda p: 0.5 * p * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (p + 0.044715 * p ** 3)))),
    ("SiLU", {}, lambda p: p * _sigmoid(p)),
    ("Sigmoid", {}, _sigmoid),
    ("Tanh", {}, np.tanh),
]


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


_FOLDABLE = {"Linear": _fold_linear, "Conv1d": _fold_linear, "Conv2d": _fold_linear,
             "ConvTranspose2d": _fold_transposed, "BatchNorm1d": _fold_norm, "BatchNorm2d": _fold_norm}

# operators the importer maps (besides constant-only computations, which it evaluates)
MAPPED_OPERATORS = sorted(name[4:] for name in dir(_OnnxImporter) if name.startswith("_op_") and name != "_op_fused")
