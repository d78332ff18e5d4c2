"""ONNX RNN, LSTM and GRU as Neurocanvas recurrent layers, with their gates reordered to torch's.

ONNX recurrent outputs are time-major ([T, directions, batch, hidden]); they
become views of the layer's batch-first output, and picking the last step
makes the layer's output='last'. The final states Y_h and Y_c ([directions, batch,
hidden]) are views of the node's h_n and c_n ports, and one passed on as another
layer's initial_h / initial_c becomes a wire to its h0 / c0 (an encoder's state
starting a decoder). torch writes a stack of layers as one operator per layer, its
state as the Concat of theirs and each next layer's initial state as a Slice of
that: the Slice of layer k's rows is layer k's state. A mixin of `OnnxImporter`.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.importers.common import Refuse, Value
from engine.importers.onnx_mapping.values import Dyn, Filled, Part, dims_text, node_label
from engine.shape_rules import TensorSpec

STATE_STACK = object()  # what a stack's joined final state is bound to: no tensor, only rows to pick


class RecurrentOps:
    def _last_step(self, node, x: Dyn, indices, axis):
        """Picking the last time step of an LSTM/GRU sequence becomes that layer's output='last'."""
        axes = x.axes_list()
        axis = axis + len(axes) if axis < 0 else axis
        steps = x.value.spec.shape[0] if x.value.spec.shape else 0
        index = np.asarray(indices)
        if (x.kind != "rnn_seq" or axes[axis] != 1 or index.size != 1 or any(isinstance(ax, Part) for ax in axes)
                or int(index.reshape(-1)[0]) not in (-1, steps - 1)):
            raise Refuse(": Neurocanvas has no gather node (only the last step of an LSTM/GRU sequence maps, "
                         "as that layer's output='last')")
        hidden = x.value.spec.shape[1]
        last = Value(x.value.node, TensorSpec((hidden,)), x.value.port)
        remap = {0: 0, 2: 1, None: None}
        kept = [remap[ax] for i, ax in enumerate(axes) if i != axis or index.ndim]
        if index.ndim:  # [k] keeps the axis, as size 1
            kept = [remap[ax] if i != axis else None for i, ax in enumerate(axes)]
        return Dyn(last, tuple(kept), node_label(node), "rnn_last", x.rnn)

    def _op_LSTM(self, node, ins, a):
        return self._recurrent(node, ins, a, "LSTM", 4, [0, 2, 3, 1], ("Sigmoid", "Tanh", "Tanh"))

    def _op_GRU(self, node, ins, a):
        if int(a.get("linear_before_reset", 0)) != 1:
            raise Refuse(": linear_before_reset=0 computes a different GRU from torch's")
        return self._recurrent(node, ins, a, "GRU", 3, [1, 0, 2], ("Sigmoid", "Tanh"))

    def _state_stack(self, node, axis: int):
        """The Concat of a stack's final states: kept as the list of layer states, for Slices to pick from."""
        layers = [self.final_states.get(name) for name in node.input]
        users = [n.op_type for n in self.graph.node if node.output[0] in n.input]
        if axis != 0 or None in layers or node.output[0] in {o.name for o in self.graph.output} or \
                set(users) - {"Slice"} or len({(v.port, v.spec) for v in layers}) != 1:
            raise Refuse(": it joins recurrent layers' final states other than as the state of a stack whose "
                         "layers start the next stack's; import the model from PyTorch, which maps more")
        self.state_stacks[node.output[0]] = layers
        return [STATE_STACK]  # its only readers are the Slices that pick one layer (`_state_slice`)

    def _state_slice(self, node, ins):
        """One layer's rows of a stack's state: that layer's final state."""
        layers = self.state_stacks[node.input[0]]
        bounds = [np.asarray(self._const(v, "its bounds")).reshape(-1).tolist() for v in ins[1:4]]
        steps = np.asarray(self._const(ins[4], "steps")).reshape(-1).tolist() if len(ins) > 4 and \
            ins[4] is not None else [1]
        rows = layers[0].spec.shape[0]  # directions
        (start,), (end,), (axis,) = bounds if all(len(b) == 1 for b in bounds) else ([-1], [-1], [-1])
        if axis != 0 or steps != [1] or start % rows or end - start != rows or not 0 <= start // rows < len(layers):
            raise Refuse(": it takes rows of a stack's final state other than one layer's")
        state = layers[start // rows]
        self.final_states[node.output[0]] = state
        return [Dyn(state, (1, 0, 2), node_label(node))]

    def _op_RNN(self, node, ins, a):
        given = a.get("activations", ["Tanh"])
        nonlinearity = {"Tanh": "tanh", "Relu": "relu"}.get(given[0])
        if nonlinearity is None:
            raise Refuse(f": its activation {given[0]} differs from torch's RNN (Tanh or Relu)")
        return self._recurrent(node, ins, a, "RNN", 1, [0], (given[0],), {"nonlinearity": nonlinearity})

    def _recurrent(self, node, ins, a, type_name, gates, order, activations, extra=None):
        direction = a.get("direction", "forward")
        directions = {"forward": 1, "bidirectional": 2}.get(direction)
        if directions is None:
            raise Refuse(f": direction '{direction}' has no torch equivalent (forward or bidirectional only)")
        given = a.get("activations", activations)  # one list per direction
        if any(act != activations[i % len(activations)] for i, act in enumerate(given)) \
                or a.get("activation_alpha") or a.get("activation_beta"):
            raise Refuse(f": its activations {a.get('activations')} differ from torch's {type_name}")
        if "clip" in a or int(a.get("input_forget", 0)):
            raise Refuse(": clip / input_forget have no torch equivalent")
        if len(ins) > 4 and ins[4] is not None:
            raise Refuse(": sequence_lens (variable-length batches) cannot be imported")
        states = []
        for index, what in ((5, "initial_h"), (6, "initial_c")):
            name = node.input[index] if len(node.input) > index else ""
            if name in self.final_states:
                states.append(self.final_states[name])
            elif len(ins) > index and ins[index] is not None:
                value = ins[index]
                zero = (isinstance(value, Filled) and value.value == 0) or (
                    isinstance(value, np.ndarray) and not np.any(value))
                if not zero:
                    raise Refuse(f": its {what} is neither zero nor another recurrent layer's final state (Y_h, "
                                 "Y_c), which are all a Neurocanvas recurrent layer starts from")
        if type_name == "LSTM" and len(states) == 1:
            raise Refuse(": only one of its initial_h and initial_c is another layer's final state; a Neurocanvas "
                         "LSTM takes both from one (or starts from zeros)")
        if len(ins) > 7 and ins[7] is not None and np.any(self._const(ins[7], "its peepholes P")):
            raise Refuse(": LSTM peepholes have no torch equivalent")
        w = self._const(ins[1], "its weight W").astype(np.float32)
        r = self._const(ins[2], "its recurrence weight R").astype(np.float32)
        hidden = int(a.get("hidden_size", r.shape[-1]))
        layout = int(a.get("layout", 0))
        x = ins[0]
        if not isinstance(x, Dyn):
            raise Refuse(": its input is not a computed tensor")
        axes = x.axes_list()
        if len(axes) != 3:
            raise Refuse(f": it needs a 3-D input, got {dims_text(x.dims())}")
        if layout == 0:  # [T, batch, F]: the Neurocanvas tensor is batch first
            if axes[1] != 0:
                raise Refuse(": its input runs the sequence along the model input's first dimension, which "
                             "Neurocanvas takes as the batch")
            x = x.view([axes[1], axes[0], axes[2]], x.origin)
        seq = self._dyn(x, "its input")

        def reorder(matrix):
            blocks = np.split(matrix, gates, axis=0)
            return torch.as_tensor(np.concatenate([blocks[i] for i in order], axis=0))

        if w.shape[0] != directions or w.shape[-1] != seq.value.spec.shape[-1]:
            raise Refuse(f": its weight W {list(w.shape)} does not fit the input {dims_text(seq.dims())}")
        weights = {}
        bias = self._const(ins[3], "its bias B").astype(np.float32) if len(ins) > 3 and ins[3] is not None else None
        for d, suffix in enumerate(("", "_reverse")[:directions]):
            weights[f"weight_ih_l0{suffix}"] = reorder(w[d])
            weights[f"weight_hh_l0{suffix}"] = reorder(r[d])
            if bias is not None:
                weights[f"bias_ih_l0{suffix}"] = reorder(bias[d, :gates * hidden])
                weights[f"bias_hh_l0{suffix}"] = reorder(bias[d, gates * hidden:])
        params = {"hidden_size": hidden, "num_layers": 1, "bias": bias is not None,
                  "bidirectional": directions == 2, "output": "sequence", **(extra or {})}
        out = self._add(type_name, params, [seq.value, *states], node, weights)
        node_id = out.value.node
        steps = seq.value.spec.shape[0]
        sequence = Value(node_id, TensorSpec((steps, hidden * directions)))
        split = (None, 2) if directions == 1 else (Part(2, 0, 2), Part(2, 1, 2))  # [.., directions, hidden]
        y_axes = (1, split[0], 0, split[1]) if layout == 0 else (0, 1, *split)
        outputs = [Dyn(sequence, y_axes, node_label(node), "rnn_seq", node_id)]
        if directions == 1:  # Y_h is the last step; for two directions the backward state ends at step 0
            h_axes = (None, 0, 1) if layout == 0 else (0, None, 1)
            last = Value(node_id, TensorSpec((hidden,)))
            outputs.append(Dyn(last, h_axes, node_label(node), "rnn_last", node_id))
        state_axes = (1, 0, 2) if layout == 0 else (0, 1, 2)  # [directions, batch, hidden] over [batch, D, H]
        for index, port in ((1, "h_n"), (2, "c_n")) if type_name == "LSTM" else ((1, "h_n"),):
            if len(node.output) > index and node.output[index]:
                state = Value(node_id, TensorSpec((directions, hidden)), port)
                self.final_states[node.output[index]] = state
                if len(outputs) == index:  # Y_h of one direction is already the last step
                    outputs.append(Dyn(state, state_axes, node_label(node)))
        return outputs
