"""The ONNX importer: it reads the model, folds constants, fuses activation chains, maps each node
with the `_op_<OpType>` handler of its operator, and collects the outputs.

The handlers live in mixins grouped by kind (`elementwise_ops`, `layer_ops`,
`shape_ops`, `recurrent_ops`); reading the model is `reading`, recognising
activations spelled as element-wise chains is `activation_chains`, written-out
layer normalisation `norm_chains`. A handler
takes (node, its input values, its attributes) and returns the values of the
node's outputs, or raises `Refuse` saying why the node cannot be mapped.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from engine.importers.common import BATCH, POISON, GraphBuilder, ImportRefused, ImportResult, Refuse, Value
from engine.importers.onnx_mapping.activation_chains import ActivationChains
from engine.importers.onnx_mapping.attention_patterns import AttentionPatterns
from engine.importers.onnx_mapping.elementwise_ops import ElementwiseOps
from engine.importers.onnx_mapping.family_ops import FamilyOps
from engine.importers.onnx_mapping.layer_ops import LayerOps
from engine.importers.onnx_mapping.norm_chains import NormChains
from engine.importers.onnx_mapping.reading import ModelReading
from engine.importers.onnx_mapping.recurrent_ops import RecurrentOps
from engine.importers.onnx_mapping.shape_ops import ShapeOps
from engine.importers.onnx_mapping.tensor_ops import TensorOps
from engine.importers.onnx_mapping.values import (
    FUSED_DOMAIN,
    NONDETERMINISTIC,
    Dyn,
    Filled,
    Part,
    Sym,
    node_attributes,
    node_hint,
    node_label,
)
from graphs.errors import GraphError


class OnnxImporter(TensorOps, ModelReading, AttentionPatterns, NormChains, ActivationChains, ElementwiseOps, LayerOps,
                   ShapeOps, RecurrentOps, FamilyOps):
    def __init__(self, model, source: str, units: bool = False):
        import onnx

        if model.functions:
            try:
                model = onnx.inliner.inline_local_functions(model)
            except Exception:  # noqa: BLE001 - leave them as unmapped ops
                pass
        self.model = model
        self.graph = model.graph
        self.source = source
        self.units = units  # group the module hierarchy into units (`engine.importers.unit_grouping`)
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.builder = GraphBuilder()
        self.env: dict[str, object] = {}
        self.consts: dict[str, np.ndarray] = {}
        self.unmapped: Counter = Counter()
        self.problems: list[str] = []
        self.refs: dict[str, int] = {}
        self.rnn_used: dict[str, set] = {}
        self.final_states: dict[str, Value] = {}  # ONNX name of a Y_h / Y_c -> the node's h_n / c_n
        self.state_stacks: dict[str, list[Value]] = {}  # ONNX name of a stack's state -> each layer's
        self.inputs: dict[str, str] = {}
        self.fixed_batch: int | None = None
        self.notes: list[str] = []

    # ---- driver -----------------------------------------------------------
    def run(self, name: str) -> ImportResult:
        self._check_opset()
        nodes = list(self.graph.node)
        self._read_initializers()
        live = self._in_order(self._live(nodes))
        self.consumers = Counter(i for n in live for i in n.input if i)
        self.consumers.update(o.name for o in self.graph.output)
        self._read_inputs()
        live = self._fold(live)
        live = self._fuse_attention(live)
        live = self._fuse_layer_norms(live)
        live = self._fuse_activations(live)
        live = self._fuse_gates(live)
        for node in live:
            self._convert(node)
        outputs = self._outputs()
        if self.unmapped or self.problems:
            raise ImportRefused(self.source, self.unmapped, self.problems + self.attention_problems())
        result = self.builder.finish(name, outputs, self.inputs, self.notes)
        if not self.units:
            return result
        from engine.importers.onnx_mapping.hierarchy import placements
        from engine.importers.unit_grouping import with_units

        return with_units(result, *placements(self.builder))

    # ---- mapping ----------------------------------------------------------------
    def _convert(self, node) -> None:
        self.builder.origin = node  # where the module hierarchy is read from (`onnx_mapping.hierarchy`)
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
                ins.append(self.env.get(name, POISON))
        if node.input and all(v is None or isinstance(v, np.ndarray) for v in ins) and handler is not self._op_fused \
                and node.domain in ("", "ai.onnx") and node.op_type not in NONDETERMINISTIC:
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
        if any(v is POISON for v in ins):
            self._poison(node)
            return
        try:
            outs = handler(node, ins, node_attributes(node))
        except Refuse as refusal:
            self.problems.append(f"{op} '{node_label(node)}'{refusal}")
            self._poison(node)
            return
        except GraphError as error:  # the engine's shape rules refused the mapped node
            self.problems.append(f"{op} '{node_label(node)}' maps to a node that does not fit: {error.message}")
            self._poison(node)
            return
        except (ValueError, TypeError, KeyError, IndexError) as error:  # a malformed node (missing attribute, ...)
            self.problems.append(f"{op} '{node_label(node)}' could not be read ({type(error).__name__}: {error})")
            self._poison(node)
            return
        for name, value in zip(node.output, outs):
            if name:
                self._bind(name, value)
        for name in node.output[len(outs):]:
            if name and self.consumers[name]:
                self.problems.append(f"{op} '{node_label(node)}': its output '{name}' is used, "
                                     "but only the main output can be imported")
                self.env[name] = POISON

    def _poison(self, node) -> None:
        for name in node.output:
            if name:
                self.env[name] = POISON

    def _bind(self, name: str, value) -> None:
        if isinstance(value, np.ndarray):
            self.consts[name] = value
            return
        self.env[name] = value
        if isinstance(value, Dyn):
            node = value.value.node
            if node in self.refs:  # another name for a tensor already bound (Identity, a view, a fold)
                self.refs[node] += self.consumers[name] - 1
            else:
                self.refs[node] = self.consumers[name]

    def _add(self, type_name: str, params: dict, inputs: list[Value], node, weights=None, hint=None) -> Dyn:
        value = self.builder.add(type_name, params, inputs, node_hint(node) if hint is None else hint, weights)
        return Dyn(value)

    def _dyn(self, value, what: str = "its input") -> Dyn:
        """The tensor as a Neurocanvas value in its own layout (adding Permute/Reshape for a view)."""
        if isinstance(value, np.ndarray):
            raise Refuse(f": {what} is a constant tensor, which no Neurocanvas node takes there")
        if isinstance(value, (Sym, Filled)):
            raise Refuse(f": {what} is computed from the model's shape, which no Neurocanvas node takes there")
        if value is None:
            raise Refuse(f": {what} is missing")
        if value.kind:
            self.rnn_used.setdefault(value.rnn, set()).add(value.kind)
        if value.canonical:
            return value
        if value.materialized is None:
            value.materialized = self._materialize(value)
        return value.materialized

    def _materialize(self, view: Dyn) -> Dyn:
        axes = view.axes_list()
        if any(isinstance(a, Part) for a in axes):
            raise Refuse(f": its input comes from '{view.origin}', which keeps the two directions of a bidirectional "
                         "LSTM/GRU apart; Neurocanvas outputs them concatenated")
        if not axes or axes[0] != 0:
            raise Refuse(f": its input comes from '{view.origin}', which moves the batch dimension away from the "
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
        return Dyn(value, kind=view.kind, rnn=view.rnn)

    def _const(self, value, what: str) -> np.ndarray:
        if isinstance(value, np.ndarray):
            return value
        if value is None:
            raise Refuse(f": {what} is missing")
        raise Refuse(f": {what} is computed by the model (or is a graph input), not a stored initializer; "
                     "Neurocanvas layers need their weights stored in the file")

    def _rank(self, x: Dyn) -> int:
        return len(x.value.spec.shape) + 1

    # ---- outputs ------------------------------------------------------------
    def _outputs(self) -> dict[str, str]:
        outputs: dict[str, str] = {}
        seen: dict[tuple, str] = {}
        for info in self.graph.output:
            value = self.env.get(info.name, self.consts.get(info.name, POISON))
            if value is POISON:
                continue
            if not isinstance(value, Dyn):
                self.problems.append(f"output '{info.name}' is a constant, not computed from the inputs")
                continue
            try:
                value = self._dyn(value, f"output '{info.name}'")
            except Refuse as refusal:
                self.problems.append(f"output '{info.name}'{refusal}")
                continue
            node = self.builder.nodes[value.value.node]
            if node.type == "Input":  # Identity, or a transpose of size-1 axes: a Reshape to the same shape
                spec = value.value.spec
                value = Dyn(self.builder.add("Reshape", {"shape": list(spec.shape)}, [value.value], info.name))
            if (value.value.node, value.value.port) in seen:
                other = seen[(value.value.node, value.value.port)]
                self.problems.append(f"outputs '{other}' and '{info.name}' are the same tensor")
                continue
            seen[(value.value.node, value.value.port)] = info.name  # a Split's pieces: one node, several ports
            outputs[info.name] = value.value.node
        for node_id in self.builder.settle_recurrent(self.rnn_used, "rnn_last"):
            self.problems.append(f"'{node_id}': the model uses both the whole sequence and the last step of "
                                 "one recurrent layer; a Neurocanvas LSTM/GRU outputs one of them")
        if self.problems:
            return outputs
        for name in self.builder.prune_to_outputs(outputs):
            self.problems.append(f"output '{name}' is also used inside the model; a Neurocanvas model outputs "
                                 "only values that no other node reads")
        renamed, done = {}, {}
        for name, node_id in outputs.items():
            if node_id not in done:  # a node with several outputs is named after its first
                done[node_id] = self.builder.rename(node_id, name)
            renamed[name] = done[node_id]
        for (_, port), name in seen.items():  # named as `CompiledGraph.outputs` names a Split's pieces
            if port != "out" and name in renamed:
                renamed[name] = f"{renamed[name]}_{port}"
        return renamed


def _origin_hint(origin: str) -> str:
    parts = [p for p in origin.split("/") if p]
    return parts[-2] if origin.startswith("/") and len(parts) >= 2 else ("" if origin.startswith("/") else origin)


# operators the importer maps (besides constant-only computations, which it evaluates)
MAPPED_OPERATORS = sorted(name[4:] for name in dir(OnnxImporter) if name.startswith("_op_") and name != "_op_fused")
