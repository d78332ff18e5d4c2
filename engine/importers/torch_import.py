"""Import a user's `nn.Module` as a Neurocanvas graph with its weights, by tracing it with torch.fx.

`import_module(module, input_shapes)` traces the module symbolically and maps
each traced operation to a catalogue node:
- submodules of catalogue types (nn.Linear, Conv1d/2d, ConvTranspose2d,
  Embedding, pools, norms, dropouts, LSTM/GRU, MultiheadAttention,
  TransformerEncoderLayer, activations, nn.Flatten) become nodes whose
  state_dict keys are renamed `<submodule path>.<param>` -> `<node_id>.<param>`;
- functions and methods: `+`/torch.add -> Add, `*`/torch.mul -> Multiply,
  torch.cat -> Concat, torch.flatten/x.flatten -> Flatten, x.view/x.reshape ->
  Reshape (`x.view(x.size(0), -1)` works: the batch size is followed
  symbolically), x.permute/x.transpose -> Permute, F.relu & co -> activations,
  F.max_pool2d & co -> pools, F.dropout -> Dropout; `lstm(x)[0]` and
  `out[:, -1]` pick the LSTM's output='sequence'/'last';
- anything else (another module type, a tensor method or function with no node,
  a parameter used directly, a constant operand, a submodule called twice) is
  refused with `ImportRefused`, which names every such part with its fx target.

The params of each node are read from the module and checked against what
Neurocanvas infers from the traced shapes (in_features, in_channels,
normalized_shape, input_size, ...): a module whose own sizes disagree with the
given input shape is refused, naming both numbers.
`import_torch_class("pkg.module:Class")` imports the module from the current
folder / PYTHONPATH and creates `Class()` with no arguments.
"""

from __future__ import annotations

import importlib
import math
import operator
import os
import sys
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import fx, nn

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
from engine.modules import constructor
from engine.shape_rules import TensorSpec
from graphs.catalogue import CATALOGUE
from graphs.errors import GraphError

__all__ = ["import_module", "import_torch_class", "import_torch_file", "load_module_class", "parse_shape",
           "verify_module_import"]


class _BatchSymbol:
    def __repr__(self) -> str:
        return "batch"


BATCH = _BatchSymbol()
_POISON = object()


class _Refuse(Exception):
    pass


@dataclass
class _Shape:
    """x.shape / x.size(): a tuple whose first entry is the batch."""

    dims: tuple


@dataclass
class _Tuple:
    """The tuple a recurrent layer or attention returns; only item 0 maps."""

    node: str
    kind: str  # "rnn" or "attention"
    spec: TensorSpec


@dataclass
class _Seq:
    """An LSTM/GRU's whole output sequence (a Value, marked so `[:, -1]` can pick output='last')."""

    value: Value
    rnn: str


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,8,8' -> (1, 8, 8); '' -> () ; UserError for anything else."""
    text = text.strip().strip("[]()")
    if not text:
        return ()
    try:
        dims = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise UserError(f"input shape '{text}' is not a list of sizes such as 1,8,8") from None
    if any(d < 1 for d in dims):
        raise UserError(f"input shape '{text}' must hold positive sizes")
    return dims


def load_module_class(spec: str, search_cwd: bool = True) -> nn.Module:
    """Create `Class()` from 'package.module:Class' (the module importable from the cwd or PYTHONPATH)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise UserError(f"'{spec}' is not of the form module:Class (e.g. mymodels:Net)")
    if search_cwd and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.split(".")[: len(error.name.split("."))] == error.name.split("."):
            raise UserError(f"cannot import module '{module_name}': no such module in the current folder or on "
                            "PYTHONPATH") from None
        raise UserError(f"importing module '{module_name}' failed: {error}") from None
    except Exception as error:  # the user's code raised while importing
        raise UserError(f"importing module '{module_name}' failed: {type(error).__name__}: {error}") from None
    target = module
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise UserError(f"module '{module_name}' has no '{attribute}'")
    if not (isinstance(target, type) and issubclass(target, nn.Module)):
        raise UserError(f"'{spec}' is not an nn.Module class")
    try:
        return target()
    except Exception as error:  # the user's constructor
        raise UserError(f"{attribute}() failed: {type(error).__name__}: {error}",
                        "Neurocanvas creates the model with no arguments; give every argument a default.") from None


def import_torch_class(spec: str, input_shapes=None, weights=None, name: str | None = None):
    """Import 'module:Class' (created with no arguments; weights from a safetensors file if given)."""
    module = load_module_class(spec)
    if weights is not None:
        from engine.weights import load_weights

        load_weights(module, weights)
    return import_module(module, input_shapes, name=name or spec.partition(":")[2])


def import_torch_file(spec: str, project_path, input_shapes=None, weights=None, weights_path=None,
                      verify: bool = True) -> ImportedFiles:
    """Import 'module:Class' and write PROJECT.json with PROJECT.safetensors beside it.

    With `verify` the graph is first run against the module on random inputs, and
    `ImportMismatch` is raised (nothing written) if the outputs differ.
    """
    module = load_module_class(spec)
    if weights is not None:
        from engine.weights import load_weights

        load_weights(module, weights)
    result = import_module(module, input_shapes, name=Path(project_path).stem)
    verification = verify_module_import(module, result) if verify else None
    if verification is not None and not verification.ok:
        raise ImportMismatch(spec, verification)
    project, weights_out = result.save(project_path, weights_path)
    return ImportedFiles(result, project, weights_out, verification)


def verify_module_import(module: nn.Module, result: ImportResult, batch: int = 2, seed: int = 0) -> Verification:
    """Run the module and the imported graph (both in eval mode) on the same random inputs."""
    from engine.compiler import example_inputs

    compiled = result.compiled
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        inputs = example_inputs(compiled, batch)
    by_node = dict(zip(compiled.inputs, inputs))
    shapes = {n.id: n.params["shape"] for n in result.project.graph.nodes() if n.type == "Input"}
    ordered = [by_node[node] if node in by_node else torch.zeros((batch, *shapes[node]))  # an unused argument
               for node in result.inputs.values()]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            expected = module(*ordered)
            got = compiled.model(*inputs)
    finally:
        module.train(was_training)
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    by_output = dict(zip(compiled.outputs, got))
    worst, largest = 0.0, 0.0
    for index, want in enumerate(expected):
        have = by_output[result.outputs[f"output_{index}"]]
        if have.shape != want.shape:
            return Verification(math.inf, 0.0, "the module")
        if want.numel():
            worst = max(worst, float((have.double() - want.double()).abs().max()))
            largest = max(largest, float(want.double().abs().max()))
    return Verification(worst, largest, "the module")


def import_module(module: nn.Module, input_shapes=None, name: str | None = None,
                  input_dtypes=None) -> ImportResult:
    """Trace `module` with torch.fx and map it to a Neurocanvas project with the module's weights.

    `input_shapes` gives one shape per forward argument, without the batch (a Linear first
    layer lets it be guessed). Raises `ImportRefused` naming every part that cannot be mapped.
    """
    name = name or type(module).__name__
    try:
        traced = fx.symbolic_trace(module)
    except Exception as error:  # TraceError for control flow, anything from the user's forward
        where = _user_frame(error)
        raise UserError(f"cannot trace {type(module).__name__} with torch.fx{where}: "
                        f"{str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}",
                        "Neurocanvas imports modules whose forward is a fixed sequence of layers "
                        "(no Python if/for on tensor values).") from None
    return _TorchImporter(module, traced, name).run(input_shapes, input_dtypes)


def _user_frame(error: Exception) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if f"{os.sep}torch{os.sep}" not in f.filename and "importers" not in f.filename]
    if not frames:
        return ""
    frame = frames[-1]
    code = f" (`{frame.line.strip()}`)" if frame.line else ""
    return f" at {Path(frame.filename).name}:{frame.lineno}{code}"


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


# ---- argument helpers -------------------------------------------------------------------------
def _bind(node: fx.Node, names: tuple, defaults: dict, skip: int = 0) -> dict:
    """fx args/kwargs -> {name: value} after the first `skip` positional args (the tensor inputs)."""
    values = dict(defaults)
    for name, value in zip(names, node.args[skip:]):
        values[name] = value
    for key, value in node.kwargs.items():
        values[key] = value
    return values


def _ints(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _tup(value):
    values = [int(v) for v in _ints(value)]
    return values[0] if len(set(values)) == 1 else values


class _TorchImporter:
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
            self.env[node] = _POISON
            return
        if any(self.env.get(i, _POISON) is _POISON for i in inputs):
            self.env[node] = _POISON
            return
        try:
            self.env[node] = handler(node, module)
        except _Refuse as refusal:
            self.problems.append(f"'{node.name}' ({_describe(node, module)}){refusal}")
            self.env[node] = _POISON
        except GraphError as error:
            self.problems.append(f"'{node.name}' ({_describe(node, module)}) does not fit its input: {error.message}")
            self.env[node] = _POISON
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:  # unexpected arguments
            self.problems.append(f"'{node.name}' ({_describe(node, module)}) could not be read "
                                 f"({type(error).__name__}: {error})")
            self.env[node] = _POISON

    def _handler(self, node, module):
        if node.op == "call_module":
            if type(module) in _IDENTITY_MODULES:
                return lambda n, m: self.tensor(n.args[0])
            return self._module if type(module) in _MODULE_TYPES else None
        if node.op == "call_function":
            return _FUNCTIONS.get(node.target) and (lambda n, m: _FUNCTIONS[n.target](self, n))
        if node.op == "call_method":
            return _METHODS.get(node.target) and (lambda n, m: _METHODS[n.target](self, n))
        if node.op == "get_attr":
            return None
        return None

    def tensor(self, arg, what="its input") -> Value:
        value = self.env.get(arg) if isinstance(arg, fx.Node) else arg
        if isinstance(value, _Seq):
            self.rnn_used.setdefault(value.rnn, set()).add("sequence")
            return value.value
        if isinstance(value, Value):
            return value
        if isinstance(value, _Tuple):
            raise _Refuse(f": {what} is the whole tuple a {value.kind} layer returns; use its item [0]")
        if isinstance(arg, (int, float)):
            raise _Refuse(f": {what} is the constant {arg}, and Neurocanvas has no constant node")
        raise _Refuse(f": {what} is not a tensor computed from the inputs")

    def add(self, type_name, params, inputs, node, weights=None) -> Value:
        return self.builder.add(type_name, params, inputs, node.name, weights)

    # ---- modules -----------------------------------------------------------------------
    def _module(self, node, module):
        if self.module_calls[node.target] > 1:
            raise _Refuse(f": the submodule is called {self.module_calls[node.target]} times (shared weights); "
                          "each Neurocanvas node has its own weights")
        type_name, params, extra_args = _MODULE_TYPES[type(module)](module)
        args = list(node.args)
        if type_name == "MultiheadAttention":
            if len(args) < 3 or not (args[0] is args[1] is args[2]):
                raise _Refuse(": only self-attention, attn(x, x, x), maps to MultiheadAttention")
            bad = {k: v for k, v in node.kwargs.items() if k not in ("need_weights", "average_attn_weights")
                   and v is not None}
            if len(args) > 3 or bad:
                raise _Refuse(f": masks and extra arguments ({', '.join(bad) or 'positional'}) are not imported")
            args = args[:1]
        elif len(args) != 1 or any(v is not None for v in node.kwargs.values()):
            raise _Refuse(": it is called with more than one input (e.g. an initial state or a mask)")
        x = self.tensor(args[0])
        weights = {k: v.detach().clone() for k, v in module.state_dict().items()}
        value = self.add(type_name, params, [x], node, weights)
        self._check_sizes(node, module, type_name, value.node, x, extra_args)
        if type_name in ("LSTM", "GRU"):
            return _Tuple(value.node, "rnn", value.spec)
        if type_name == "MultiheadAttention":
            return _Tuple(value.node, "attention", value.spec)
        return value

    def _check_sizes(self, node, module, type_name, node_id, x: Value, extra_args: dict) -> None:
        """Every size Neurocanvas infers from the traced input (in_features, in_channels, ...) must equal the
        module's own."""
        pending = self.builder.nodes[node_id]
        spec = CATALOGUE[type_name]
        resolved = spec.resolve_params(pending.params)
        _, kwargs = constructor(type_name, resolved, {port: x.spec for port in spec.input_ports(resolved)})
        wrong = []
        for key, theirs in extra_args.items():
            ours = kwargs.get(key)
            if _normal(ours, theirs) != _normal(theirs, ours):
                wrong.append(f"{key} is {_show(theirs)} in the module but {_show(ours)} from the traced input "
                             f"{list(x.spec.shape)}")
        if wrong:
            self.builder.nodes.pop(node_id)
            raise _Refuse(": " + "; ".join(wrong) + " (check --input-shape)")

    # ---- outputs ---------------------------------------------------------------------
    def _outputs(self, node) -> dict[str, str]:
        result = node.args[0]
        items = list(result) if isinstance(result, (tuple, list)) else [result]
        outputs: dict[str, str] = {}
        for index, item in enumerate(items):
            value = self.env.get(item, _POISON) if isinstance(item, fx.Node) else item
            if value is _POISON:
                continue
            label = f"output {index}" if len(items) > 1 else "the output"
            try:
                value = self.tensor(item, label)
            except _Refuse as refusal:
                self.problems.append(f"{label}{refusal}")
                continue
            if self.builder.nodes[value.node].type == "Input":
                self.problems.append(f"{label} is the input itself; nothing is computed")
                continue
            if value.node in outputs.values():
                self.problems.append(f"{label} repeats another output")
                continue
            outputs[f"output_{index}"] = value.node
        for node_id, kinds in self.rnn_used.items():
            if kinds == {"last"}:
                self.builder.set_params(node_id, output="last")
            elif len(kinds) > 1:
                self.problems.append(f"'{node_id}': both the whole sequence and the last step of one recurrent "
                                     "layer are used; a Neurocanvas LSTM/GRU outputs one of them")
        if self.problems or self.unmapped:
            return outputs
        self.builder.prune(set(outputs.values()))
        for label, node_id in outputs.items():
            if self.builder.consumers(node_id):
                self.problems.append(f"{label.replace('_', ' ')} ('{node_id}') is also used inside the model; "
                                     "a Neurocanvas model outputs only values no other node reads")
        return outputs

    # ---- functions and methods ------------------------------------------------------------
    def fn_combine(self, node, type_name):
        a, b = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
        if node.kwargs.get("alpha", 1) != 1:
            raise _Refuse(": alpha != 1 has no Neurocanvas node")
        if not isinstance(a, fx.Node) or not isinstance(b, fx.Node):
            word = "adds" if type_name == "Add" else "multiplies by"
            raise _Refuse(f": it {word} a constant ({a if not isinstance(a, fx.Node) else b}); Neurocanvas has no "
                          "constant node")
        values = [self.tensor(a), self.tensor(b)]
        return self.add(type_name, {"inputs": 2}, values, node)

    def fn_cat(self, node):
        args = _bind(node, ("tensors", "dim"), {"dim": 0})
        tensors = [self.tensor(t) for t in args["tensors"]]
        if len(tensors) == 1:
            return tensors[0]
        if len(tensors) > 16:
            raise _Refuse(f": {len(tensors)} tensors; Concat takes at most 16")
        return self.add("Concat", {"inputs": len(tensors), "dim": int(args["dim"])}, tensors, node)

    def fn_flatten(self, node, method=False):
        args = _bind(node, ("start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1}, skip=1)
        return self.add("Flatten", {"start_dim": int(args["start_dim"]), "end_dim": int(args["end_dim"])},
                        [self.tensor(node.args[0])], node)

    def fn_activation(self, node, type_name, names=(), defaults=None, keep=()):
        args = _bind(node, names, defaults or {}, skip=1)
        if type_name in ("Softmax", "LogSoftmax"):
            if args.get("dim") is None:
                raise _Refuse(": dim is not given (torch's implicit dim); give dim explicitly")
            if args.get("dtype") is not None:
                raise _Refuse(": dtype= is not imported")
        params = {k: args[k] for k in keep}
        for key in ("negative_slope", "alpha"):
            if key in params:
                params[key] = float(params[key])
        return self.add(type_name, params, [self.tensor(node.args[0])], node)

    def fn_dropout(self, node, type_name):
        args = _bind(node, ("p", "training", "inplace"), {"p": 0.5, "training": True}, skip=1)
        return self.add(type_name, {"p": float(args["p"])}, [self.tensor(node.args[0])], node)

    def fn_max_pool(self, node, n):
        args = _bind(node, ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
                     {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False},
                     skip=1)
        if args["return_indices"]:
            raise _Refuse(": return_indices=True is not imported")
        stride = args["stride"] if args["stride"] not in (None, [], ()) else args["kernel_size"]
        params = {"kernel_size": _tup(args["kernel_size"]), "stride": _tup(stride), "padding": _tup(args["padding"]),
                  "dilation": _tup(args["dilation"]), "ceil_mode": bool(args["ceil_mode"])}
        return self.add(f"MaxPool{n}d", params, [self.tensor(node.args[0])], node)

    def fn_avg_pool(self, node):
        args = _bind(node, ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
                     {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
                      "divisor_override": None}, skip=1)
        if args["divisor_override"] is not None:
            raise _Refuse(": divisor_override is not imported")
        stride = args["stride"] if args["stride"] not in (None, [], ()) else args["kernel_size"]
        params = {"kernel_size": _tup(args["kernel_size"]), "stride": _tup(stride), "padding": _tup(args["padding"]),
                  "ceil_mode": bool(args["ceil_mode"]), "count_include_pad": bool(args["count_include_pad"])}
        return self.add("AvgPool2d", params, [self.tensor(node.args[0])], node)

    def fn_adaptive_avg_pool(self, node):
        size = _bind(node, ("output_size",), {}, skip=1)["output_size"]
        if any(s is None for s in _ints(size)):
            raise _Refuse(": an output_size of None is not imported")
        return self.add("AdaptiveAvgPool2d", {"output_size": _tup(size)}, [self.tensor(node.args[0])], node)

    def fn_size(self, node):
        x = self.tensor(node.args[0])
        dims = (BATCH, *x.spec.shape)
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        if dim is None:
            return _Shape(dims)
        return dims[int(dim)]

    def fn_getattr(self, node):
        if node.args[1] != "shape":
            raise _Refuse(f": the attribute '{node.args[1]}' is not imported")
        return _Shape((BATCH, *self.tensor(node.args[0]).spec.shape))

    def fn_getitem(self, node):
        source, index = node.args
        value = self.env.get(source)
        if isinstance(value, _Shape):
            picked = value.dims[index]
            return _Shape(tuple(picked)) if isinstance(index, slice) else picked
        if isinstance(value, _Tuple):
            if index != 0:
                raise _Refuse(f": item {index} of the {value.kind} output (its states or attention weights) has no "
                              "Neurocanvas equivalent; only item [0] maps")
            if value.kind == "rnn":
                return _Seq(Value(value.node, value.spec), value.node)
            return Value(value.node, value.spec)
        if isinstance(value, _Seq):
            items = index if isinstance(index, tuple) else (index,)
            full = slice(None)
            if (len(items) in (2, 3) and items[0] == full and items[1] == -1
                    and all(i == full for i in items[2:])):
                self.rnn_used.setdefault(value.rnn, set()).add("last")
                hidden = value.value.spec.shape[-1]
                return Value(value.value.node, TensorSpec((hidden,)))
            raise _Refuse(f": indexing {index!r} has no Neurocanvas node (only seq[:, -1] on an LSTM/GRU output maps)")
        raise _Refuse(": indexing a tensor has no Neurocanvas node")

    def fn_reshape(self, node):
        x = self.tensor(node.args[0])
        raw = list(node.args[1:])
        if "shape" in node.kwargs:
            raw = [node.kwargs["shape"]]
        if len(raw) == 1 and isinstance(raw[0], (list, tuple)):
            raw = list(raw[0])
        entries = []
        for item in raw:
            value = self.env.get(item) if isinstance(item, fx.Node) else item
            if isinstance(value, _Shape):
                entries.extend(value.dims)
            elif value is BATCH or isinstance(value, int):
                entries.append(value)
            else:
                raise _Refuse(": its target shape is computed in a way the importer cannot follow")
        if not entries:
            raise _Refuse(": it reshapes to a scalar, dropping the batch")
        first, rest = entries[0], entries[1:]
        if any(e is BATCH for e in rest) or any(e is not BATCH and (e < -1 or e == 0) for e in rest):
            raise _Refuse(f": shape {entries} moves or drops the batch; Neurocanvas keeps it first")
        per_sample = math.prod(x.spec.shape)
        known = math.prod(e for e in rest if e != -1)
        if not (first is BATCH or (first == -1 and -1 not in rest and known == per_sample)):
            raise _Refuse(f": shape {entries} does not keep the batch as its first dimension (write "
                          "x.view(x.size(0), ...) or x.flatten(1))")
        resolved = [per_sample // known if e == -1 else e for e in rest]
        if math.prod(resolved) != per_sample:
            raise _Refuse(f": cannot reshape [batch, {', '.join(map(str, x.spec.shape))}] to {entries}")
        return self.add("Reshape", {"shape": rest}, [x], node)

    def fn_permute(self, node):
        x = self.tensor(node.args[0])
        dims = list(node.args[1:]) or list(node.kwargs.get("dims", ()))
        if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
            dims = list(dims[0])
        rank = len(x.spec.shape) + 1
        dims = [int(d) % rank for d in dims]
        return self.add("Permute", {"dims": dims}, [x], node)

    def fn_transpose(self, node):
        x = self.tensor(node.args[0])
        args = _bind(node, ("dim0", "dim1"), {}, skip=1)
        rank = len(x.spec.shape) + 1
        a, b = int(args["dim0"]) % rank, int(args["dim1"]) % rank
        dims = list(range(rank))
        dims[a], dims[b] = dims[b], dims[a]
        return self.add("Permute", {"dims": dims}, [x], node)

    def fn_squeeze_like(self, node, unsqueeze: bool):
        x = self.tensor(node.args[0])
        args = _bind(node, ("dim",), {"dim": None}, skip=1)
        dims = list(x.spec.shape)
        rank = len(dims) + 1
        if args["dim"] is None:
            if unsqueeze:
                raise _Refuse(": unsqueeze needs a dim")
            target = [d for d in dims if d != 1]
        else:
            dim = int(args["dim"])
            dim = dim % (rank + 1) if unsqueeze else dim % rank
            if dim == 0:
                raise _Refuse(": it changes the batch dimension")
            target = list(dims)
            if unsqueeze:
                target.insert(dim - 1, 1)
            elif target[dim - 1] == 1:
                target.pop(dim - 1)
        if target == dims:
            return x
        return self.add("Reshape", {"shape": target}, [x], node)

    def fn_identity(self, node):
        return self.tensor(node.args[0])


# ---- module parameters -----------------------------------------------------------------------
def _refuse_if(condition: bool, message: str) -> None:
    if condition:
        raise _Refuse(message)


def _conv_padding(module) -> object:
    if isinstance(module.padding, str):
        if module.padding == "valid":
            return 0
        pads = []
        for k, d in zip(module.kernel_size, module.dilation):
            total = d * (k - 1)
            _refuse_if(total % 2 == 1, ": padding='same' pads unevenly here; Neurocanvas pads both sides equally")
            pads.append(total // 2)
        return _tup(pads)
    return _tup(module.padding)


def _conv(module):
    params = {"out_channels": module.out_channels, "kernel_size": _tup(module.kernel_size),
              "stride": _tup(module.stride), "padding": _conv_padding(module), "dilation": _tup(module.dilation),
              "groups": module.groups, "bias": module.bias is not None}
    name = type(module).__name__
    if name == "ConvTranspose2d":
        params["output_padding"] = _tup(module.output_padding)
        _refuse_if(module.padding_mode != "zeros", ": padding_mode other than 'zeros' is not imported")
    else:
        params["padding_mode"] = module.padding_mode
    return name, params, {"in_channels": module.in_channels}


def _pool(module):
    name = type(module).__name__
    _refuse_if(getattr(module, "return_indices", False), ": return_indices=True is not imported")
    _refuse_if(getattr(module, "divisor_override", None) is not None, ": divisor_override is not imported")
    params = {"kernel_size": _tup(module.kernel_size),
              "stride": _tup(module.stride if module.stride not in (None, (), []) else module.kernel_size),
              "padding": _tup(module.padding), "ceil_mode": bool(module.ceil_mode)}
    if name.startswith("Max"):
        params["dilation"] = _tup(module.dilation)
    else:
        params["count_include_pad"] = bool(module.count_include_pad)
    return name, params, {}


def _batchnorm(module):
    _refuse_if(module.momentum is None, ": momentum=None (a cumulative average) is not imported")
    return type(module).__name__, {"eps": float(module.eps), "momentum": float(module.momentum),
                                   "affine": module.affine, "track_running_stats": module.track_running_stats}, \
        {"num_features": module.num_features}


def _layernorm(module):
    return "LayerNorm", {"normalized_dims": len(module.normalized_shape), "eps": float(module.eps),
                         "elementwise_affine": module.elementwise_affine,
                         "bias": getattr(module, "bias", None) is not None or not module.elementwise_affine}, \
        {"normalized_shape": tuple(module.normalized_shape)}


def _recurrent(module):
    _refuse_if(not module.batch_first, ": batch_first=False; Neurocanvas's LSTM/GRU take [batch, T, features] "
                                       "(batch_first=True)")
    _refuse_if(getattr(module, "proj_size", 0), ": proj_size is not imported")
    params = {"hidden_size": module.hidden_size, "num_layers": module.num_layers, "bias": module.bias,
              "dropout": float(module.dropout), "bidirectional": module.bidirectional, "output": "sequence"}
    return type(module).__name__, params, {"input_size": module.input_size}


def _attention(module):
    _refuse_if(not module.batch_first, ": batch_first=False; Neurocanvas's attention takes [batch, T, E]")
    _refuse_if(not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn,
               ": kdim/vdim, add_bias_kv and add_zero_attn are not imported")
    return "MultiheadAttention", {"num_heads": module.num_heads, "dropout": float(module.dropout),
                                  "bias": module.in_proj_bias is not None}, {"embed_dim": module.embed_dim}


def _encoder_layer(module):
    _refuse_if(not module.self_attn.batch_first, ": batch_first=False; Neurocanvas's encoder layer takes [batch, T, E]")
    activation = module.activation
    if activation in (F.relu,) or isinstance(activation, nn.ReLU):
        act = "relu"
    elif activation in (F.gelu,) or (isinstance(activation, nn.GELU) and activation.approximate == "none"):
        act = "gelu"
    else:
        raise _Refuse(f": activation {activation} is not relu or gelu")
    params = {"nhead": module.self_attn.num_heads, "dim_feedforward": module.linear1.out_features,
              "dropout": float(module.dropout.p), "activation": act, "layer_norm_eps": float(module.norm1.eps),
              "norm_first": module.norm_first, "bias": module.linear1.bias is not None}
    return "TransformerEncoderLayer", params, {"d_model": module.self_attn.embed_dim}


def _embedding(module):
    _refuse_if(module.max_norm is not None, ": max_norm is not imported")
    _refuse_if(module.scale_grad_by_freq or module.sparse, ": scale_grad_by_freq / sparse are not imported")
    return "Embedding", {"num_embeddings": module.num_embeddings, "embedding_dim": module.embedding_dim,
                         "padding_idx": module.padding_idx}, {}


def _simple(type_name, *attributes):
    def read(module):
        params = {}
        for attribute in attributes:
            value = getattr(module, attribute)
            if attribute == "dim" and value is None:
                raise _Refuse(": dim is None (torch's implicit dim); give dim explicitly")
            params[attribute] = float(value) if isinstance(value, float) else value
        return type_name, params, {}
    return read


_MODULE_TYPES = {
    nn.Linear: lambda m: ("Linear", {"out_features": m.out_features, "bias": m.bias is not None},
                          {"in_features": m.in_features}),
    nn.Conv1d: _conv, nn.Conv2d: _conv, nn.ConvTranspose2d: _conv,
    nn.Embedding: _embedding,
    nn.MaxPool1d: _pool, nn.MaxPool2d: _pool, nn.AvgPool2d: _pool,
    nn.AdaptiveAvgPool2d: lambda m: ("AdaptiveAvgPool2d", {"output_size": _tup(m.output_size)}, {}),
    nn.BatchNorm1d: _batchnorm, nn.BatchNorm2d: _batchnorm, nn.LayerNorm: _layernorm,
    nn.GroupNorm: lambda m: ("GroupNorm", {"num_groups": m.num_groups, "eps": float(m.eps), "affine": m.affine},
                             {"num_channels": m.num_channels}),
    nn.Dropout: _simple("Dropout", "p"), nn.Dropout2d: _simple("Dropout2d", "p"),
    nn.LSTM: _recurrent, nn.GRU: _recurrent,
    nn.MultiheadAttention: _attention, nn.TransformerEncoderLayer: _encoder_layer,
    nn.Flatten: _simple("Flatten", "start_dim", "end_dim"),
    nn.ReLU: _simple("ReLU"), nn.LeakyReLU: _simple("LeakyReLU", "negative_slope"), nn.ELU: _simple("ELU", "alpha"),
    nn.GELU: _simple("GELU", "approximate"), nn.SiLU: _simple("SiLU"), nn.Sigmoid: _simple("Sigmoid"),
    nn.Tanh: _simple("Tanh"), nn.Softmax: _simple("Softmax", "dim"), nn.LogSoftmax: _simple("LogSoftmax", "dim"),
}
_IDENTITY_MODULES = {nn.Identity}


def _normal(value, other):
    """Compare 3 with (3, 3) and [3, 3] alike."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    if isinstance(other, (list, tuple)) and isinstance(value, int):
        return (value,) * len(other)
    if isinstance(value, float):
        return round(value, 7)
    return value


def _show(value) -> str:
    return str(list(value)) if isinstance(value, tuple) else str(value)


def _act(type_name, names=(), defaults=None, keep=()):
    return lambda self, node: self.fn_activation(node, type_name, names, defaults, keep)


_SOFTMAX = (("dim", "_stacklevel", "dtype"), {"dim": None, "dtype": None}, ("dim",))
_FUNCTIONS = {
    operator.add: lambda self, n: self.fn_combine(n, "Add"), torch.add: lambda self, n: self.fn_combine(n, "Add"),
    operator.mul: lambda self, n: self.fn_combine(n, "Multiply"),
    torch.mul: lambda self, n: self.fn_combine(n, "Multiply"),
    torch.cat: _TorchImporter.fn_cat, torch.concat: _TorchImporter.fn_cat,
    torch.flatten: _TorchImporter.fn_flatten,
    torch.reshape: _TorchImporter.fn_reshape, torch.permute: _TorchImporter.fn_permute,
    torch.transpose: _TorchImporter.fn_transpose,
    F.relu: _act("ReLU"), torch.relu: _act("ReLU"),
    F.leaky_relu: _act("LeakyReLU", ("negative_slope", "inplace"), {"negative_slope": 0.01}, ("negative_slope",)),
    F.elu: _act("ELU", ("alpha", "inplace"), {"alpha": 1.0}, ("alpha",)),
    F.gelu: _act("GELU", ("approximate",), {"approximate": "none"}, ("approximate",)),
    F.silu: _act("SiLU"), torch.sigmoid: _act("Sigmoid"), F.sigmoid: _act("Sigmoid"),
    torch.tanh: _act("Tanh"), F.tanh: _act("Tanh"),
    F.softmax: _act("Softmax", *_SOFTMAX), F.log_softmax: _act("LogSoftmax", *_SOFTMAX),
    torch.softmax: _act("Softmax", ("dim", "dtype"), {"dim": None, "dtype": None}, ("dim",)),
    torch.log_softmax: _act("LogSoftmax", ("dim", "dtype"), {"dim": None, "dtype": None}, ("dim",)),
    F.dropout: lambda self, n: self.fn_dropout(n, "Dropout"), F.dropout2d: lambda self, n: self.fn_dropout(n, "Dropout2d"),
    F.max_pool1d: lambda self, n: self.fn_max_pool(n, 1), F.max_pool2d: lambda self, n: self.fn_max_pool(n, 2),
    F.avg_pool2d: _TorchImporter.fn_avg_pool, F.adaptive_avg_pool2d: _TorchImporter.fn_adaptive_avg_pool,
    operator.getitem: _TorchImporter.fn_getitem, getattr: _TorchImporter.fn_getattr,
}
_METHODS = {
    "add": lambda self, n: self.fn_combine(n, "Add"), "mul": lambda self, n: self.fn_combine(n, "Multiply"),
    "flatten": _TorchImporter.fn_flatten, "view": _TorchImporter.fn_reshape, "reshape": _TorchImporter.fn_reshape,
    "permute": _TorchImporter.fn_permute, "transpose": _TorchImporter.fn_transpose,
    "relu": _act("ReLU"), "sigmoid": _act("Sigmoid"), "tanh": _act("Tanh"),
    "softmax": _act("Softmax", ("dim", "dtype"), {"dim": None, "dtype": None}, ("dim",)),
    "log_softmax": _act("LogSoftmax", ("dim", "dtype"), {"dim": None, "dtype": None}, ("dim",)),
    "size": _TorchImporter.fn_size, "contiguous": _TorchImporter.fn_identity,
    "squeeze": lambda self, n: self.fn_squeeze_like(n, False),
    "unsqueeze": lambda self, n: self.fn_squeeze_like(n, True),
}

# what the importer maps, for the docs and the report
SUPPORTED_MODULES = sorted(f"nn.{t.__name__}" for t in [*_MODULE_TYPES, *_IDENTITY_MODULES])
