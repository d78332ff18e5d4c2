"""Reading an ONNX model: its initializers, its inputs (each an Input node with the batch first),
the nodes the outputs depend on, and every node that computes only on constants, evaluated once.

A mixin of `OnnxImporter`: it fills `consts` (tensor name -> numpy array),
`env` (name -> value for computed tensors) and `problems`.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from engine.errors import UserError
from engine.importers.common import POISON
from engine.importers.onnx_mapping.stored_tensors import (
    DamagedTensor,
    element_count,
    sparse_array,
    stored_array,
)
from engine.importers.onnx_mapping.values import DTYPES, NONDETERMINISTIC, Dyn, node_attributes, node_label
from engine.memory_budget import check_budget, gigabytes
from graphs.errors import quoted

MIN_OPSET = 6  # the oldest opset the importer is tested on (the onnx package's converted PyTorch models)


class ModelReading:
    def _read_initializers(self) -> None:
        for tensor in self.graph.initializer:
            self.consts[tensor.name] = stored_array(tensor, f"initializer {quoted(tensor.name)}")
        for sparse in self.graph.sparse_initializer:
            self.consts[sparse.values.name] = sparse_array(sparse, f"sparse initializer {quoted(sparse.values.name)}")

    def _check_opset(self) -> None:
        """The default domain's opset must be one the importer is tested on and onnx knows."""
        import onnx

        versions = [o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")]
        newest = onnx.defs.onnx_opset_version()
        if not versions:
            raise UserError(f"{self.source} declares no opset for the standard ONNX operators; the file is damaged")
        if not MIN_OPSET <= versions[0] <= newest:
            raise UserError(f"{self.source} uses ONNX opset {versions[0]}; Neurocanvas imports opsets "
                            f"{MIN_OPSET} to {newest}", "Export the model again with a supported opset.")

    def _in_order(self, live):
        """The live nodes in an order where each comes after the nodes it reads (ONNX requires the file
        to be sorted, but not every exporter does); `UserError` for a tensor nothing provides, a tensor
        two nodes produce, or a cycle (naming the nodes on it)."""
        producer = {}
        for node in live:
            for out in filter(None, node.output):
                if out in producer:
                    raise UserError(f"{self.source}: tensor {quoted(out)} is produced by two nodes, "
                                    f"{quoted(node_label(producer[out]))} and {quoted(node_label(node))}; "
                                    "the file is damaged")
                producer[out] = node
        given = {i.name for i in self.graph.input} | set(self.consts)
        for name in [i for n in live for i in n.input if i] + [o.name for o in self.graph.output]:
            if name not in producer and name not in given:
                raise UserError(f"{self.source}: tensor {quoted(name)} is read but no node, initializer or "
                                "graph input provides it; the file is damaged")
        waiting = [sum(1 for i in n.input if i in producer) for n in live]
        readers: dict[str, list[int]] = {}
        for index, node in enumerate(live):
            for name in filter(None, node.input):
                readers.setdefault(name, []).append(index)
        ready = [index for index, count in enumerate(waiting) if not count]  # a heap: file order where possible
        order = []
        while ready:
            node = live[heapq.heappop(ready)]
            order.append(node)
            for out in filter(None, node.output):
                for reader in readers.get(out, ()):
                    waiting[reader] -= 1
                    if not waiting[reader]:
                        heapq.heappush(ready, reader)
        if len(order) < len(live):
            raise UserError(f"{self.source}: the graph is cyclic: {_cycle(live, order, producer)}; "
                            "an ONNX graph must be acyclic")
        return order

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
                self.env[info.name] = POISON
                continue
            dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
            dtype = DTYPES.get(tensor.elem_type)
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
                self.env[info.name] = POISON
                continue
            batches.append((info.name, dims[0]))
            hint = info.name if not info.name[:1].isdigit() else f"input_{info.name}"
            value = self.builder.add_input(hint, tuple(dims[1:]), dtype)
            self.inputs[info.name] = value.node
            self.env[info.name] = Dyn(value)
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
                if node.op_type in NONDETERMINISTIC or node.domain not in ("", "ai.onnx"):
                    rest.append(node)
                    continue
                if any(a.type in (5, 10) for a in node.attribute):  # graph attributes: If/Loop/Scan
                    rest.append(node)
                    continue
                try:
                    values = self._evaluate(node)
                except DamagedTensor:
                    raise
                except Exception as error:  # noqa: BLE001 - the reference implementation raises anything
                    self.problems.append(f"{node.op_type} '{node_label(node)}': its constant could not be computed "
                                         f"({str(error).strip().splitlines()[0] if str(error).strip() else error})")
                    for out in node.output:
                        self.env[out] = POISON
                    continue
                for out, value in zip(node.output, values):
                    if out:
                        self.consts[out] = np.asarray(value)
                continue
            rest.append(node)
        return rest

    def _evaluate(self, node) -> list:
        a = node_attributes(node)
        args = [self.consts[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Identity":
            return [args[0]]
        if op == "Constant" and "value" in a:
            return [stored_array(a["value"], f"the value of Constant {quoted(node_label(node))}")]
        if op == "Constant" and "sparse_value" in a:
            return [sparse_array(a["sparse_value"], f"the value of Constant {quoted(node_label(node))}")]
        if op == "ConstantOfShape":
            fill = (stored_array(a["value"], f"the value of ConstantOfShape {quoted(node_label(node))}")
                    if "value" in a else np.zeros(1, np.float32))
            shape = tuple(int(d) for d in np.asarray(args[0]).reshape(-1))
            _check_folded_size(element_count(shape, f"the shape of ConstantOfShape {quoted(node_label(node))}"),
                               fill.dtype.itemsize)
            return [np.full(shape, fill.reshape(-1)[0], dtype=fill.dtype)]
        if op == "Unsqueeze" and "axes" in a:  # before opset 13 (the reference evaluator only knows the new form)
            out = args[0]
            for axis in sorted(ax + out.ndim + len(a["axes"]) if ax < 0 else ax for ax in a["axes"]):
                out = np.expand_dims(out, axis)
            return [out]
        if op == "Squeeze" and "axes" in a:
            return [np.squeeze(args[0], axis=tuple(a["axes"]))]
        count = _folded_count(op, args)
        if count is not None:
            _check_folded_size(count, args[0].dtype.itemsize)
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        feeds = {name: value for name, value in zip(node.input, args) if name}
        inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype), value.shape)
                  for name, value in feeds.items()]
        outputs = [helper.make_value_info(name, __import__("onnx").TypeProto()) for name in node.output if name]
        graph = helper.make_graph([node], "fold", inputs, outputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        return ReferenceEvaluator(model).run(None, feeds)


def _cycle(live, done, producer) -> str:
    """One cycle among the nodes left unsorted, as 'a -> b -> a'."""
    finished = {id(n) for n in done}
    node = next(n for n in live if id(n) not in finished)
    path: list = []
    while id(node) not in {id(n) for n in path}:
        path.append(node)
        node = next(producer[i] for i in node.input if i in producer and id(producer[i]) not in finished)
    start = next(index for index, n in enumerate(path) if n is node)
    loop = path[start:][::-1]  # the path follows producers: reversed, it follows the data
    return " -> ".join(f"{n.op_type} {quoted(node_label(n))}" for n in [*loop, loop[0]])


def _folded_count(op: str, args: list) -> int | None:
    """How many elements the ops that make large tensors from small ones would make, when known."""
    try:
        if op == "Expand":
            shape = np.broadcast_shapes(args[0].shape, tuple(int(d) for d in args[1].reshape(-1)))
            return element_count(shape, "the shape of Expand")
        if op == "Tile":
            return args[0].size * math.prod(max(int(r), 0) for r in args[1].reshape(-1))
        if op == "Range":
            start, limit, delta = (float(np.asarray(v).reshape(-1)[0]) for v in args[:3])
            return max(math.ceil((limit - start) / delta), 0) if delta else None
    except (ValueError, TypeError, IndexError, OverflowError, AttributeError):
        return None  # the evaluator explains a malformed node better
    return None


def _check_folded_size(count: int, itemsize: int) -> None:
    """Refuse to compute a constant larger than a check may allocate (a shape of [1e5, 1e5])."""
    size = count * itemsize
    if size > check_budget():
        raise ValueError(f"it would take {gigabytes(size)}")
