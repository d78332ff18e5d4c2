"""Compile a graph into an `nn.Module` with a real, readable `forward` (torch.fx).

validate -> topological order -> shapes -> modules -> fx graph. The model's
`forward` takes the Input nodes' tensors (in document order) and returns the
model outputs: the tensors feeding the losses' `input` ports, or the sinks when
there is no loss. Submodules are named after node ids, so `state_dict` keys read
`conv1.weight`. Losses are compiled separately (`CompiledGraph.losses`), each
knowing which model output and which Target feed it. Every error names a node.
"""

from __future__ import annotations

import builtins
import operator
from dataclasses import dataclass, field

import torch
from torch import fx, nn

from engine.memory_budget import FLOAT_BYTES, TooLarge, is_out_of_memory, parameter_problem, too_large_message
from engine.modules import build_module
from engine.ops import OPS
from engine.shapes import InferenceResult, infer
from graphs.document import Graph
from graphs.errors import GraphError
from graphs.validate import topological_order


class CompileError(Exception):
    """The graph cannot be compiled; `errors` holds every GraphError (each names its node)."""

    def __init__(self, errors: list[GraphError]):
        self.errors = errors
        lines = [f"node '{e.node}': {e.message}" if e.node else e.message for e in errors]
        super().__init__("; ".join(lines))


@dataclass
class LossSpec:
    node_id: str
    module: nn.Module
    output_index: int  # which model output feeds the loss's input port
    target: str  # the Target node id feeding the target port
    weight: float = 1.0


@dataclass
class CompiledGraph:
    model: fx.GraphModule
    inputs: list[str]  # Input node ids, in forward's argument order
    outputs: list[str]  # fx/ONNX names of the model outputs (the producing node ids)
    output_sources: list[tuple[str, str]]  # (node id, port) of each output
    losses: list[LossSpec] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    shapes: InferenceResult | None = None
    graph: Graph | None = None  # the graph compiled (its shapes filled)

    def compute_loss(self, outputs, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum of the losses given the model outputs (tensor or tuple) and the targets by node id."""
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        total = None
        for spec in self.losses:
            value = spec.module(outputs[spec.output_index], targets[spec.target])
            if spec.weight != 1.0:
                value = value * spec.weight
            total = value if total is None else total + value
        return total


class _Names:
    """fx node names. A catalogue node's op is named exactly after its node id (explicitly: fx
    would snake_case `Conv1` from a module target); the compiler's helper ops (partial sums,
    `size`, `getitem`) are named `{node id}_{what}`, made distinct from every node id, so a
    helper never takes the name of a node compiled after it."""

    def __init__(self, node_ids):
        self.taken = set(node_ids)

    def helper(self, node_id: str, what: str) -> str:
        name = f"{node_id}_{what}"
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name


class _FxEmitter:
    """The `engine.ops.Emitter` for one node: adds its fx nodes, the result named after the node id and
    helper steps `{node id}_{helper}`; functions named in the op table are resolved here."""

    def __init__(self, g: fx.Graph, names: _Names, node_id: str, attributes: dict, first_input: fx.Node | None,
                 module_target: str | None = None):
        self.g, self.names, self.node_id = g, names, node_id
        self.attributes, self.first_input = attributes, first_input  # the GraphModule's root: modules, tensors
        self.module_target = module_target or node_id  # another node's id when this one shares its weights

    def _name(self, helper: str | None) -> str:
        return self.node_id if helper is None else self.names.helper(self.node_id, helper)

    def module(self, args, kwargs=None):
        return self.g.create_node("call_module", self.module_target, tuple(args), kwargs or {}, name=self.node_id)

    def function(self, target: str, args, kwargs=None, helper=None):
        return self.g.create_node("call_function", _resolve(target), tuple(args), kwargs or {},
                                  name=self._name(helper))

    def method(self, name: str, args, kwargs=None, helper=None):
        return self.g.create_node("call_method", name, tuple(args), kwargs or {}, name=self._name(helper))

    def item(self, value, index, helper: str):
        return self.function("operator.getitem", (value, index), helper=helper)

    def parameter(self, shape, init, init_kwargs):
        if self.module_target not in self.attributes:  # a sharing Parameter node reads its owner's tensor
            self.attributes[self.module_target] = nn.Parameter(getattr(nn.init, init)(torch.empty(shape), **init_kwargs))
        return self.g.create_node("get_attr", self.module_target, name=self.names.helper(self.node_id, "weight"))

    def batch_size(self):
        if self.first_input is None:
            raise GraphError(f"'{self.node_id}' takes the batch size from the model's first Input, and the model "
                             "has none: add an Input", node=self.node_id)
        return self.method("size", (self.first_input, 0), helper="batch")

    def training(self):
        self.attributes["training"] = True
        return self.g.create_node("get_attr", "training", name=self.names.helper(self.node_id, "training"))


_NAMESPACES = {"builtins": builtins, "operator": operator, "torch": torch, "torch.nn.functional": torch.nn.functional}


def _resolve(target: str):
    """`torch.cat` -> torch.cat: only names in the namespaces the exported Python can write."""
    namespace, _, name = target.rpartition(".")
    return getattr(_NAMESPACES[namespace], name)


def compile_graph(graph: Graph, shapes: InferenceResult | None = None) -> CompiledGraph:
    """Compile `graph`; raise CompileError naming every problem node, `TooLarge` (a UserError) when
    its parameters cannot fit in memory (checked from the inferred shapes, before allocating)."""
    shapes = shapes or infer(graph)
    if shapes.errors:
        raise CompileError(shapes.errors)
    too_large = parameter_problem(graph, shapes)
    if too_large:
        raise TooLarge(too_large.message)
    nodes = {n.id: n for n in graph.nodes()}
    order = topological_order(graph)
    losses = [n for n in order if nodes[n].spec.is_loss]
    sources = {(e.target, e.target_port): (e.source, e.source_port) for e in graph.edges()}
    if losses:
        output_sources = list(dict.fromkeys(sources[(loss, "input")] for loss in losses))
    else:
        fed = {e.source for e in graph.edges()}
        output_sources = [(n, port) for n in order if n not in fed and not nodes[n].spec.is_data
                          for port in nodes[n].output_ports()]
    if not output_sources:
        raise CompileError([GraphError("the graph has no output: connect a layer after the Input")])

    needed = _ancestors(graph, {node for node, _ in output_sources})
    g = fx.Graph()
    names = _Names(nodes)
    modules: dict[str, nn.Module | nn.Parameter | bool] = {}  # the GraphModule's attributes
    values: dict[tuple[str, str], fx.Node] = {}
    inputs = [n for n in graph.node_ids() if nodes[n].type == "Input" and n in needed]
    for node_id in inputs:
        values[(node_id, "out")] = g.create_node("placeholder", node_id, name=node_id)
    for node_id in order:
        node = nodes[node_id]
        if node_id not in needed or node.spec.is_data:
            continue
        params = node.resolved_params()
        args = [values[sources[(node_id, port)]] for port in node.input_ports()]
        op = OPS[node.type]
        owner = node.shares or node_id  # a sharing node calls its owner's module: one set of weights
        try:
            if op.module is not None and owner not in modules:
                modules[owner] = build_module(node.type, nodes[owner].resolved_params(), shapes.inputs[owner])
            first_input = values[(inputs[0], "out")] if inputs else None
            out = op.forward(_FxEmitter(g, names, node_id, modules, first_input, owner), params, args)
        except GraphError:
            raise
        except Exception as error:  # a torch constructor refusing a value the schema allowed, or the allocator
            if is_out_of_memory(error):
                raise TooLarge(too_large_message(node.type, node_id, shapes.info[node_id].params,
                                                 shapes.total_params * FLOAT_BYTES, None)) from None
            raise CompileError([GraphError(f"{node.type} '{node_id}': {error}", node=node_id)]) from error
        values.update({(node_id, port): value for port, value in out.items()} if isinstance(out, dict)
                      else {(node_id, "out"): out})
    outputs = [values[src] for src in output_sources]
    g.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    model = fx.GraphModule(modules, g, class_name="NeurocanvasModel")
    model.graph.lint()

    loss_specs = []
    for loss in losses:
        node = nodes[loss]
        params = node.resolved_params()
        loss_specs.append(LossSpec(loss, build_module(node.type, params, shapes.inputs[loss]),
                                   output_sources.index(sources[(loss, "input")]), sources[(loss, "target")][0]))
    targets = list(dict.fromkeys(spec.target for spec in loss_specs))
    output_names = [node if port == "out" else f"{node}_{port}" for node, port in output_sources]
    return CompiledGraph(model, inputs, output_names, output_sources, loss_specs, targets, shapes, graph)


def _ancestors(graph: Graph, sinks: set[str]) -> set[str]:
    parents: dict[str, set[str]] = {}
    for e in graph.edges():
        parents.setdefault(e.target, set()).add(e.source)
    seen, stack = set(sinks), list(sinks)
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def example_inputs(compiled: CompiledGraph, batch: int = 2, device="cpu",
                   shapes: dict[str, tuple[int, ...]] | None = None) -> tuple[torch.Tensor, ...]:
    """Random tensors for each model input (int inputs as small valid indices), of the Input nodes' shapes
    or of `shapes` (input id -> shape without the batch; see `engine.check_sizes`)."""
    tensors = []
    for node_id in compiled.inputs:
        spec = compiled.shapes.info[node_id].outputs["out"]
        shape = (batch, *(spec.shape if shapes is None else shapes[node_id]))
        if spec.dtype == "int64":
            high = _index_bound(compiled, node_id)
            tensors.append(torch.randint(0, high, shape, device=device))
        else:
            tensors.append(torch.randn(shape, device=device))
    return tuple(tensors)


def _index_bound(compiled: CompiledGraph, input_id: str) -> int:
    """The smallest num_embeddings among Embeddings, so random indices are valid for all."""
    bounds = [m.num_embeddings for m in compiled.model.modules() if isinstance(m, nn.Embedding)]
    return min(bounds) if bounds else 2
