"""The PyTorch importer: it walks the torch.fx graph of a traced module, makes an Input node per
forward argument, maps each node the output depends on, and collects the outputs.

Submodule calls are mapped by `ModuleCalls` (`modules`), functions and tensor
methods by `FunctionCalls` (`functions`); a handler returns the node's value
or raises `Refuse` saying why it cannot be mapped. A part with no node is
named as the user wrote it (`self.drop_path`, a custom module `DropPath`; a
function and its source line) and the refusal lists every one of them at once.
"""

from __future__ import annotations

from collections import Counter

from torch import fx, nn

from engine.errors import UserError
from engine.importers.common import POISON, GraphBuilder, ImportRefused, ImportResult, Refuse, Value
from engine.importers.torch_mapping.functions import FUNCTIONS, METHODS, FunctionCalls
from engine.importers.torch_mapping.hierarchy import placements
from engine.importers.torch_mapping.modules import IDENTITY_MODULES, MODULE_TYPES, ModuleCalls
from engine.importers.torch_mapping.positions import POSITION_FUNCTIONS, fuse_positions
from engine.importers.torch_mapping.sampling import NOTE, SAMPLE_FUNCTIONS, fuse_reparameterisation
from engine.importers.torch_mapping.tensor_calls import (
    TENSOR_FUNCTIONS,
    TENSOR_METHODS,
    StoredTensor,
    TensorCalls,
)
from engine.importers.torch_mapping.tracing import source_line
from engine.importers.torch_mapping.unmapped import UnmappedParts, function_name
from engine.importers.torch_mapping.values import LayerTuple, RecurrentSequence, RecurrentState
from engine.importers.unit_grouping import with_units
from graphs.errors import GraphError

_FUNCTIONS, _METHODS = {**FUNCTIONS, **TENSOR_FUNCTIONS, **SAMPLE_FUNCTIONS, **POSITION_FUNCTIONS}, {**METHODS, **TENSOR_METHODS}


class TorchImporter(ModuleCalls, TensorCalls, FunctionCalls):
    def __init__(self, module: nn.Module, traced: fx.GraphModule, name: str,
                 untraceable: dict[str, str] | None = None, units: bool = True):
        self.module = module
        self.units = units  # group the module hierarchy into units (`engine.importers.unit_grouping`)
        self.traced = traced
        self.name = name
        self.untraceable = dict(untraceable or {})  # custom module path -> where its forward cannot be traced
        self.builder = GraphBuilder()
        self.env: dict[fx.Node, object] = {}
        self.unmapped = UnmappedParts(self.untraceable)
        self.problems: list[str] = []
        self.rnn_used: dict[str, set] = {}
        self.module_calls = Counter(n.target for n in traced.graph.nodes if n.op == "call_module")
        self.weight_owner: dict[str, str] = {}  # a called submodule with weights -> the node holding them
        self.inputs: dict[str, str] = {}

    def run(self, input_shapes, input_dtypes) -> ImportResult:
        placeholders = [n for n in self.traced.graph.nodes if n.op == "placeholder"]
        shapes = self._input_shapes(placeholders, input_shapes)
        dtypes = list(input_dtypes or [])
        for index, node in enumerate(placeholders):
            dtype = dtypes[index] if index < len(dtypes) else self._guess_dtype(node)
            value = self.builder.add_input(node.name, shapes[index], dtype)
            self.env[node] = value
            self.inputs[node.name] = value.node
        outputs = {}
        notes = [NOTE.format(where=name) for name in fuse_reparameterisation(self.traced.graph)]
        fuse_positions(self.traced.graph)
        live = self._live()
        for node in self.traced.graph.nodes:
            if node.op == "placeholder" or (node.op != "output" and node not in live):
                continue
            if node.op == "output":
                outputs = self._outputs(node)
                continue
            self._convert(node)
        if self.unmapped or self.problems:
            raise ImportRefused(type(self.module).__name__, {}, self.unmapped.sentences() + self.problems)
        result = self.builder.finish(self.name, outputs, self.inputs, notes)
        if not self.units:
            return result
        return with_units(result, *placements(self.module, self.traced, self.builder))

    def _live(self) -> set:
        """The fx nodes the output depends on (`seq, _ = lstm(x)` leaves an unused item)."""
        output = next(n for n in self.traced.graph.nodes if n.op == "output")
        live, stack = set(), list(output.all_input_nodes)
        while stack:
            node = stack.pop()
            if node not in live:
                live.add(node)
                stack.extend(node.all_input_nodes)
        return live

    # ---- inputs ------------------------------------------------------------------------
    def _input_shapes(self, placeholders, given):
        if given is not None:
            given = [tuple(s) for s in given]
            if len(given) != len(placeholders):
                names = ", ".join(p.name for p in placeholders)
                raise UserError(f"{type(self.module).__name__}.forward takes {len(placeholders)} input(s) ({names}), "
                                f"but {len(given)} input shape(s) were given")
            return given
        shapes = []
        for node in placeholders:
            first = next(iter(node.users), None)
            module = self.traced.get_submodule(first.target) if first is not None and first.op == "call_module" \
                else None
            if isinstance(module, nn.Linear):
                shapes.append((module.in_features,))
            else:
                raise UserError(f"give the shape of input '{node.name}' (without the batch), e.g. "
                                "--input-shape 1,28,28; it can only be guessed when a Linear layer reads it first")
        return shapes

    def _guess_dtype(self, node) -> str:
        for user in node.users:
            if user.op == "call_module" and isinstance(self.traced.get_submodule(user.target), nn.Embedding):
                return "int64"
        return "float32"

    # ---- dispatch ----------------------------------------------------------------------
    def _convert(self, node: fx.Node) -> None:
        module = self.traced.get_submodule(node.target) if node.op == "call_module" else None
        handler = self._handler(node, module)
        inputs = node.all_input_nodes
        if handler is None:
            self.unmapped.add(node, module)
            self.env[node] = POISON
            return
        if any(self.env.get(i, POISON) is POISON for i in inputs):
            self.env[node] = POISON
            return
        try:
            self.env[node] = handler(node, module)
        except Refuse as refusal:
            self._problem(node, module, str(refusal))
        except GraphError as error:
            self._problem(node, module, f" does not fit its input: {error.message}")
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:  # unexpected arguments
            self._problem(node, module, f" could not be read ({type(error).__name__}: {error})")

    def _problem(self, node: fx.Node, module: nn.Module | None, why: str) -> None:
        """A part that has a node but cannot be mapped as it is used: why, and the user's line that uses it."""
        line = source_line(node).strip()
        self.problems.append(f"'{node.name}' ({_describe(node, module)}){why}{f' [{line}]' if line else ''}")
        self.env[node] = POISON

    def _handler(self, node, module):
        if node.op == "call_module":
            if type(module) in IDENTITY_MODULES:
                return lambda n, m: self.tensor(n.args[0])
            return self._module if type(module) in MODULE_TYPES else None
        if node.op == "call_function":
            return _FUNCTIONS.get(node.target) and (lambda n, m: _FUNCTIONS[n.target](self, n))
        if node.op == "call_method":
            return _METHODS.get(node.target) and (lambda n, m: _METHODS[n.target](self, n))
        if node.op == "get_attr":
            return lambda n, m: self.fn_get_attr(n)
        return None

    def tensor(self, arg, what="its input") -> Value:
        value = self.env.get(arg) if isinstance(arg, fx.Node) else arg
        if isinstance(value, RecurrentSequence):
            self.rnn_used.setdefault(value.rnn, set()).add("sequence")
            return value.value
        if isinstance(value, Value):
            return value
        if isinstance(value, StoredTensor):
            return self.stored_parameter(value, value.name)
        if isinstance(value, LayerTuple):
            raise Refuse(f": {what} is the whole tuple a {value.kind} layer returns; use its item [0]")
        if isinstance(value, RecurrentState) and value.batch_first:
            return Value(value.node, value.spec, value.ports[0])
        if isinstance(value, RecurrentState):
            raise Refuse(f": {what} is the final state of recurrent layer '{value.node}', in torch's [layers, batch, "
                         "hidden] layout; it maps only as another recurrent layer's initial state")
        if isinstance(arg, (int, float)):
            raise Refuse(f": {what} is the constant {arg}, and Neurocanvas has no constant node")
        raise Refuse(f": {what} is not a tensor computed from the inputs")

    def add(self, type_name, params, inputs, node, weights=None) -> Value:
        return self.builder.add(type_name, params, inputs, node.name, weights)

    # ---- outputs ---------------------------------------------------------------------
    def _outputs(self, node) -> dict[str, str]:
        result = node.args[0]
        items = list(result) if isinstance(result, (tuple, list)) else [result]
        outputs: dict[str, str] = {}
        seen = {}
        for index, item in enumerate(items):
            value = self.env.get(item, POISON) if isinstance(item, fx.Node) else item
            if value is POISON:
                continue
            label = f"output {index}" if len(items) > 1 else "the output"
            try:
                value = self.tensor(item, label)
            except Refuse as refusal:
                self.problems.append(f"{label}{refusal}")
                continue
            if self.builder.nodes[value.node].type == "Input":
                self.problems.append(f"{label} is the input itself; nothing is computed")
                continue
            if (value.node, value.port) in seen:
                self.problems.append(f"{label} repeats another output")
                continue
            seen[(value.node, value.port)] = f"output_{index}"  # a Split's pieces: one node, several outputs
            outputs[f"output_{index}"] = value.node
        for node_id in self.builder.settle_recurrent(self.rnn_used, "last"):
            self.problems.append(f"'{node_id}': both the whole sequence and the last step of one recurrent "
                                 "layer are used; a Neurocanvas LSTM/GRU outputs one of them")
        if self.problems or self.unmapped:
            return outputs
        for label in self.builder.prune_to_outputs(outputs):
            self.problems.append(f"{label.replace('_', ' ')} ('{outputs[label]}') is also used inside the model; "
                                 "a Neurocanvas model outputs only values no other node reads")
        ports = {label: port for (_, port), label in seen.items()}  # a Split's pieces, as CompiledGraph names them
        return {label: node if ports[label] == "out" else f"{node}_{ports[label]}" for label, node in outputs.items()}


def _describe(node: fx.Node, module: nn.Module | None = None) -> str:
    if node.op == "call_module":
        kind = type(module)
        qualified = f"nn.{kind.__name__}" if kind.__module__.startswith("torch.nn") else \
            f"{kind.__module__}.{kind.__name__}"
        return f"call_module '{node.target}' ({qualified})"
    if node.op == "call_function":
        return f"call_function {function_name(node.target)}"
    if node.op == "call_method":
        return f"call_method Tensor.{node.target}"
    return f"{node.op} {node.target}"
