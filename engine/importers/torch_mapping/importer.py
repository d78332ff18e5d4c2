"""The PyTorch importer: it walks the torch.fx graph of a traced module, makes an Input node per
forward argument, maps each node the output depends on, and collects the outputs.

Submodule calls are mapped by `ModuleCalls` (`modules`), functions and tensor
methods by `FunctionCalls` (`functions`); a handler returns the node's value
or raises `Refuse` saying why it cannot be mapped.
"""

from __future__ import annotations

from collections import Counter

from torch import fx, nn

from engine.errors import UserError
from engine.importers.common import POISON, GraphBuilder, ImportRefused, ImportResult, Refuse, Value
from engine.importers.torch_mapping.functions import FUNCTIONS, METHODS, FunctionCalls
from engine.importers.torch_mapping.modules import IDENTITY_MODULES, MODULE_TYPES, ModuleCalls
from engine.importers.torch_mapping.values import LayerTuple, RecurrentSequence, RecurrentState
from graphs.errors import GraphError


class TorchImporter(ModuleCalls, FunctionCalls):
    def __init__(self, module: nn.Module, traced: fx.GraphModule, name: str):
        self.module = module
        self.traced = traced
        self.name = name
        self.builder = GraphBuilder()
        self.env: dict[fx.Node, object] = {}
        self.unmapped: dict[str, list[str]] = {}  # fx target -> the fx node names using it
        self.problems: list[str] = []
        self.rnn_used: dict[str, set] = {}
        self.module_calls = Counter(n.target for n in traced.graph.nodes if n.op == "call_module")
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
        live = self._live()
        for node in self.traced.graph.nodes:
            if node.op == "placeholder" or (node.op != "output" and node not in live):
                continue
            if node.op == "output":
                outputs = self._outputs(node)
                continue
            self._convert(node)
        if self.unmapped or self.problems:
            unmapped = {f"{target} at {', '.join(repr(n) for n in names)}": len(names)
                        for target, names in self.unmapped.items()}
            raise ImportRefused(type(self.module).__name__, unmapped, self.problems, what="fx target")
        return self.builder.finish(self.name, outputs, self.inputs)

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
            self.unmapped.setdefault(_describe(node, module), []).append(node.name)
            self.env[node] = POISON
            return
        if any(self.env.get(i, POISON) is POISON for i in inputs):
            self.env[node] = POISON
            return
        try:
            self.env[node] = handler(node, module)
        except Refuse as refusal:
            self.problems.append(f"'{node.name}' ({_describe(node, module)}){refusal}")
            self.env[node] = POISON
        except GraphError as error:
            self.problems.append(f"'{node.name}' ({_describe(node, module)}) does not fit its input: {error.message}")
            self.env[node] = POISON
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:  # unexpected arguments
            self.problems.append(f"'{node.name}' ({_describe(node, module)}) could not be read "
                                 f"({type(error).__name__}: {error})")
            self.env[node] = POISON

    def _handler(self, node, module):
        if node.op == "call_module":
            if type(module) in IDENTITY_MODULES:
                return lambda n, m: self.tensor(n.args[0])
            return self._module if type(module) in MODULE_TYPES else None
        if node.op == "call_function":
            return FUNCTIONS.get(node.target) and (lambda n, m: FUNCTIONS[n.target](self, n))
        if node.op == "call_method":
            return METHODS.get(node.target) and (lambda n, m: METHODS[n.target](self, n))
        if node.op == "get_attr":
            return None
        return None

    def tensor(self, arg, what="its input") -> Value:
        value = self.env.get(arg) if isinstance(arg, fx.Node) else arg
        if isinstance(value, RecurrentSequence):
            self.rnn_used.setdefault(value.rnn, set()).add("sequence")
            return value.value
        if isinstance(value, Value):
            return value
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
            if value.node in outputs.values():
                self.problems.append(f"{label} repeats another output")
                continue
            outputs[f"output_{index}"] = value.node
        for node_id in self.builder.settle_recurrent(self.rnn_used, "last"):
            self.problems.append(f"'{node_id}': both the whole sequence and the last step of one recurrent "
                                 "layer are used; a Neurocanvas LSTM/GRU outputs one of them")
        if self.problems or self.unmapped:
            return outputs
        for label in self.builder.prune_to_outputs(outputs):
            self.problems.append(f"{label.replace('_', ' ')} ('{outputs[label]}') is also used inside the model; "
                                 "a Neurocanvas model outputs only values no other node reads")
        return outputs


def _describe(node: fx.Node, module: nn.Module | None = None) -> str:
    if node.op == "call_module":
        kind = type(module)
        qualified = f"nn.{kind.__name__}" if kind.__module__.startswith("torch.nn") else \
            f"{kind.__module__}.{kind.__name__}"
        return f"call_module '{node.target}' ({qualified})"
    if node.op == "call_function":
        target = node.target
        owner = getattr(target, "__module__", None) or ""
        owner = {"_operator": "operator", "torch._C._nn": "F", "torch.nn.functional": "F",
                 "torch._C._VariableFunctions": "torch", "builtins": ""}.get(owner, owner)
        label = getattr(target, "__name__", str(target))
        return f"call_function {owner + '.' if owner else ''}{label}"
    if node.op == "call_method":
        return f"call_method Tensor.{node.target}"
    return f"{node.op} {node.target}"
