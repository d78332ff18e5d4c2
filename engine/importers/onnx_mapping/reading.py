"""Reading an ONNX model: its initializers, its inputs (each an Input node with the batch first),
the nodes the outputs depend on, and every node that computes only on constants, evaluated once.

A mixin of `OnnxImporter`: it fills `consts` (tensor name -> numpy array),
`env` (name -> value for computed tensors) and `problems`.
"""

from __future__ import annotations

import numpy as np

from engine.importers.common import POISON
from engine.importers.onnx_mapping.values import DTYPES, NONDETERMINISTIC, Dyn, node_attributes, node_label


class ModelReading:
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
