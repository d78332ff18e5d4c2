"""Compile a graph into an `nn.Module` with a real, readable `forward` (torch.fx).

validate -> topological order -> shapes -> modules -> fx graph. The model's
`forward` takes the Input nodes' tensors (in document order) and returns the
model outputs: the tensors feeding the losses' ports (all but those fed by a Target), or the sinks
when there is no loss. Submodules are named after node ids, so `state_dict` keys read
`conv1.weight`. Losses are compiled separately (`CompiledGraph.losses`), each
knowing which model outputs and which Targets feed its ports. Every error names a node.
"""

from __future__ import annotations

import builtins
import operator
from dataclasses import dataclass, field

import torch
from torch import fx, nn

from engine.inplace import SPEC, make_activations_inplace, make_adds_inplace
from engine.loss_terms import apply_loss
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
    output_index: int  # the model output on its first port fed by the model (`input` for most losses)
    target: str | None  # the first Target feeding it; None when it takes model outputs only
    weight: float = 1.0  # its `loss_weight`
    # per input port, in order: ("output", model output index), ("target", Target id) or None (left open)
    arguments: tuple = ()


@dataclass
class CompiledGraph:
    model: fx.GraphModule
    inputs: list[str]  # Input node ids, in forward's argument order
    outputs: list[str]  # fx/ONNX names of the model outputs (the node id, `{id}_{port}` for other ports)
    output_sources: list[tuple[str, str]]  # (node id, port) of each output
    losses: list[LossSpec] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    shapes: InferenceResult | None = None
    graph: Graph | None = None  # the graph compiled (its shapes filled): the expansion of a graph with units
    expanded: object = None  # a graph with units: its `graphs.units.Expanded`
    source: Graph | None = None  # a graph with units: the graph itself (the exporters write its units)

    def compute_loss(self, outputs, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        """The weighted sum of the losses given the model outputs (tensor or tuple) and the targets by node id."""
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        total = None
        for spec in self.losses:
            tensors = [None if arg is None else outputs[arg[1]] if arg[0] == "output" else targets[arg[1]]
                       for arg in spec.arguments]
            value = apply_loss(spec.module, tensors, spec.node_id)
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

    def module(self, args, kwargs=None, helper=None):
        return self.g.create_node("call_module", self.module_target, tuple(args), kwargs or {},
                                  name=self._name(helper))

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
    its parameters cannot fit in memory (checked from the inferred shapes, before allocating). A graph
    with units is compiled as its expansion, each unit a submodule (`engine.unit_compile`)."""
    if graph.uses_units():
        from engine.unit_compile import compile_units

        return compile_units(graph, shapes)
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
    starved = [GraphError(f"{nodes[n].type} '{n}' takes no model output: wire the model's output to one of its "
                          "ports", node=n) for n in losses
               if all(nodes[src].type == "Target" for (dst, _), (src, _) in sources.items() if dst == n)]
    if starved:
        raise CompileError(starved)
    if losses:
        output_sources = list(dict.fromkeys(
            sources[(loss, port)] for loss in losses for port in nodes[loss].input_ports()
            if (loss, port) in sources and nodes[sources[(loss, port)][0]].type != "Target"))
    else:
        fed = {e.source for e in graph.edges()}
        output_sources = [(n, port) for n in order if n not in fed and not nodes[n].spec.is_data
                          for port in _sink_ports(nodes[n].output_ports())]
    if not output_sources:
        raise CompileError([GraphError("the graph has no output: connect a layer after the Input")])

    needed = _ancestors(graph, {node for node, _ in output_sources})
    g = fx.Graph()
    names = _Names(nodes)
    modules: dict[str, nn.Module | nn.Parameter | bool] = {}  # the GraphModule's attributes
    values: dict[tuple[str, str], fx.Node] = {}
    inputs = [n for n in graph.node_ids() if nodes[n].type == "Input" and n in needed]
    if not inputs:  # outputs computed from no Input (a Parameter's) still take the batch size from the first one
        inputs = [n for n in graph.node_ids() if nodes[n].type == "Input"][:1]
    for node_id in inputs:
        values[(node_id, "out")] = g.create_node("placeholder", node_id, name=node_id)
    for node_id in order:
        node = nodes[node_id]
        if node_id not in needed or node.spec.is_data:
            continue
        params = node.resolved_params()
        args = [values[sources[(node_id, port)]] if (node_id, port) in sources else None  # None: open, optional
                for port in node.input_ports()]
        op = node.spec.op or OPS[node.type]  # a custom layer's op (engine.custom_layers) is its type's own
        owner = node.shares or node_id  # a sharing node calls its owner's module: one set of weights
        try:
            if hasattr(op, "build") and owner not in modules:  # a custom layer: its class
                modules[owner] = op.build(nodes[owner].resolved_params(), shapes.inputs[owner])
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
                      else {(node_id, "out"): out})  # a dict: a node with several outputs, port -> value
        for port, spec in shapes.info[node_id].outputs.items():  # what engine.inplace checks shapes by
            if isinstance(values.get((node_id, port)), fx.Node):
                values[(node_id, port)].meta.setdefault(SPEC, spec)
    outputs = [values[src] for src in output_sources]
    g.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    _drop_unused_steps(g)
    model = fx.GraphModule(modules, g, class_name="NeurocanvasModel")
    model.graph.lint()
    make_adds_inplace(model)
    make_activations_inplace(model)

    loss_specs = [_loss_spec(nodes[loss], nodes, sources, output_sources, shapes) for loss in losses]
    targets = list(dict.fromkeys(arg[1] for spec in loss_specs for arg in spec.arguments
                                 if arg and arg[0] == "target"))
    output_names = [node if port == "out" else f"{node}_{port}" for node, port in output_sources]
    return CompiledGraph(model, inputs, output_names, output_sources, loss_specs, targets, shapes, graph)


def _drop_unused_steps(g: fx.Graph) -> None:
    """Remove the helper steps nothing uses: a recurrent node's final state when no wire takes it. Every
    node's own result is used (only the model outputs' ancestors are compiled), and helpers are pure."""
    for node in reversed(list(g.nodes)):
        if node.op in ("call_function", "call_method") and not node.users:
            g.erase_node(node)


def _loss_spec(node, nodes: dict, sources: dict, output_sources: list, shapes: InferenceResult) -> LossSpec:
    """What feeds each port of one loss: a model output, a Target (labels), or nothing (an open optional port)."""
    arguments = []
    for port in node.input_ports():
        source = sources.get((node.id, port))
        if source is None:
            arguments.append(None)
        elif nodes[source[0]].type == "Target":
            arguments.append(("target", source[0]))
        else:
            arguments.append(("output", output_sources.index(source)))
    fed_by_model = [arg[1] for arg in arguments if arg and arg[0] == "output"]
    labels = [arg[1] for arg in arguments if arg and arg[0] == "target"]
    params = node.resolved_params()
    return LossSpec(node.id, build_module(node.type, params, shapes.inputs[node.id]), fed_by_model[0],
                    labels[0] if labels else None, params["loss_weight"], tuple(arguments))


def _sink_ports(ports: list[str]) -> list[str]:
    """What a node that feeds nothing gives the model: its main output `out` when it has one (a recurrent
    layer's final states are extras), else every piece (a Split's out0, out1, ...)."""
    return ["out"] if "out" in ports else ports


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
        elif _cast_to_indices(compiled, node_id):  # float codes a ToDtype turns into indices: valid ones
            tensors.append(torch.randint(0, _index_bound(compiled, node_id), shape, device=device).float())
        else:
            tensors.append(torch.randn(shape, device=device))
    return tuple(tensors)


def _cast_to_indices(compiled: CompiledGraph, input_id: str) -> bool:
    """Whether a ToDtype(int64) lies downstream of the input (a CSV's codes column on its way to an Embedding)."""
    graph, seen, todo = compiled.graph, set(), [input_id]
    while graph is not None and todo:
        node_id = todo.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        node = graph.node(node_id)
        if node.type == "ToDtype" and node.resolved_params()["dtype"] == "int64":
            return True
        todo.extend(edge.target for edge in graph.out_edges(node_id))
    return False


def _index_bound(compiled: CompiledGraph, input_id: str) -> int:
    """The smallest num_embeddings among Embeddings, so random indices are valid for all."""
    bounds = [m.num_embeddings for m in compiled.model.modules() if isinstance(m, nn.Embedding)]
    return min(bounds) if bounds else 2
