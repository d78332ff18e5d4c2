"""Python export of a model with units: a class per unit, a Repeat as an `nn.Sequential` of them, and
the model class that instantiates them, as a person writes PyTorch.

Each unit's class is written from the unit's inner graph: `__init__` builds its layers (and the
instances of the units it uses) with the constructor calls the compiler made (`engine.modules`),
and `forward` is printed by `forward_code` from a small fx graph of the unit's own nodes, in which
an inner instance is one call (`self.block(x)`). A value that differs between a unit's instances
(a unit param such as `out_channels`, or an input size the engine infers such as `in_channels`)
becomes an argument of the class's constructor, named after the unit param or the torch argument
it sets; a value the same in every instance is written in place. Instances whose layers or
forward come out different (a reshape to a size that is a unit param) get a class each: `Block`,
`Block_2`. Submodules keep the inner node ids as attribute names, so the `state_dict` keys
(`layer1.0.conv1.weight`) are the compiled model's. An optional layer of a unit (one switched by a bool
unit param, see docs/units.md) is written as torchvision writes its `downsample`: the switch is an
argument of the constructor, `self.downsample_0 = nn.Conv2d(...) if downsample else None`, and forward
reads `downsample_0 = x if self.downsample_0 is None else self.downsample_0(x)`, so the instances with
the layer and those without share one class.
"""

from __future__ import annotations

import keyword
import operator
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field

from torch import fx, nn

from engine.compiler import CompiledGraph, _FxEmitter, _Names
from engine.export.forward_code import RESERVED_NAMES, forward_source, literal
from engine.modules import constructor
from engine.ops import OPS
from engine.ops.tensors import parameter_init
from graphs.document import Graph
from graphs.unit_registry import is_ref
from graphs.units import REPEAT, UNIT_INPUT, UNIT_OUTPUT
from graphs.validate import topological_order


@dataclass
class _Entry:
    """One line of an `__init__`: `self.<attr> = <head>(<arguments>)`; `values` holds each argument's
    value as Python and whether it is the default (which is then left out)."""

    attr: str
    head: str
    names: tuple[str, ...] = ()
    values: tuple[tuple[str, bool], ...] = ()
    items: list[_Record] = field(default_factory=list)  # an instance, or a Repeat's copies
    whole: bool = False  # `head` is the whole value (a Parameter's)
    switch: str = ""  # the bool unit param that makes this layer, for an optional layer


@dataclass
class _Record:
    """One instance of a unit (or the model): what its class needs, before the class is chosen."""

    unit: str  # "" for the model
    doc: str
    inputs: list[str]
    entries: list[_Entry]
    forward: list[str]
    refs: dict[tuple[str, str], str] = field(default_factory=dict)  # (attr, argument) -> the unit param it reads
    cls: str = ""
    arguments: list[tuple[str, str]] = field(default_factory=list)  # (name, value) its constructor is given
    switches: dict[str, bool] = field(default_factory=dict)  # switch -> on, for its optional layers
    optional_attrs: tuple[str, ...] = ()  # its optional layers written as None-able submodules


def unit_code(compiled: CompiledGraph, graph: Graph, class_name: str, taken: set[str]):
    """(the unit classes' source blocks, innermost first; the model's `__init__` lines; its `forward` lines)."""
    writer = _Writer(compiled, graph)
    model = writer.record(graph, "", "")
    classes = writer.classes({class_name, *taken})
    return classes, [_init_line(entry, {}) for entry in model.entries], model.forward


class _Writer:
    def __init__(self, compiled: CompiledGraph, graph: Graph):
        self.compiled, self.graph = compiled, graph
        self.flat = compiled.graph  # the expansion, with the layers' concrete params
        self.records: list[_Record] = []  # every unit instance, inner before outer
        self.model_outputs = self._model_outputs()

    def _model_outputs(self) -> list[tuple[str, str]]:
        """The compiled model's outputs as (model node, port): an instance's port where a unit makes one."""
        by_flat = {flat: key for key, flat in self.compiled.expanded.outputs.items()}
        return [by_flat.get(source, source) for source in self.compiled.output_sources]

    # ---- one instance -------------------------------------------------------------
    def record(self, scope: Graph, prefix: str, unit: str) -> _Record:
        definition = scope.unit
        if unit:
            inputs, outputs = definition.inputs(), definition.outputs()
            sources = [self._source(scope, port, "in") for port in outputs]
        else:
            inputs = [node_id for node_id in self.compiled.inputs]
            sources = self.model_outputs
        needed = _ancestors(scope, {node for node, _ in sources})
        g, names = fx.Graph(), _Names(scope.node_ids())
        values: dict[tuple[str, str], fx.Node] = {}
        for port in inputs:
            values[(port, "out")] = g.create_node("placeholder", port, name=port)
        first_input = values[(inputs[0], "out")] if inputs else None
        entries, refs, attributes = [], {}, {}
        optional = self._optional(scope, prefix) if unit else {}
        switches = {}
        for node_id in topological_order(scope):
            node = scope.node(node_id)
            if node_id not in needed or node.type in ("Input", UNIT_INPUT, UNIT_OUTPUT) or node.spec.is_data:
                continue
            args = [values[self._source(scope, node_id, port)] if scope.edge_into(node_id, port) else None
                    for port in node.input_ports()]
            op = OPS.get(node.type) or node.spec.op  # a custom layer's op is its type's own (engine.custom_layers)
            if node_id in optional:
                switch, on = optional[node_id]
                switches[switch] = on
                values[(node_id, node.output_ports()[0])] = g.create_node("call_module", node_id, tuple(args),
                                                                          name=node_id)
                if on:
                    added = self._layer(node, prefix, self.flat.node(prefix + node_id).resolved_params(), refs) \
                        if op is not None else [self._instance(node, prefix)]
                    entries += [_replace_entry(entry, switch) for entry in added]
                continue
            if prefix + node_id not in self.flat._nodes and op is not None:  # an optional layer switched off
                values[(node_id, node.output_ports()[0])] = args[0]
                continue
            if op is not None:
                params = self.flat.node(prefix + node_id).resolved_params()
                owner = node.shares or node_id
                out = op.forward(_FxEmitter(g, names, node_id, attributes, first_input, owner), params,
                                             args)
                values.update(out.items() if isinstance(out, dict) else {(node_id, "out"): out})
                if owner == node_id:
                    entries += self._layer(node, prefix, params, refs)
                continue
            call = g.create_node("call_module", node_id, tuple(args), name=node_id)
            ports = node.output_ports()
            for index, port in enumerate(ports):
                values[(node_id, port)] = call if len(ports) == 1 else \
                    g.create_node("call_function", operator.getitem, (call, index), name=names.helper(node_id, port))
            entries.append(self._instance(node, prefix))
            refs.update({(node_id, name): value["ref"] for name, value in node.params.items() if is_ref(value)})
        result = [values[source] for source in sources]
        g.output(result[0] if len(result) == 1 else tuple(result))
        forward = _optional_calls(forward_source(g, set(scope.node_ids())), optional)
        record = _Record(unit, definition.doc if unit else "", inputs, entries, forward, refs, switches=switches,
                         optional_attrs=tuple(optional))
        if unit:
            self.records.append(record)
        return record

    def _optional(self, scope: Graph, prefix: str) -> dict[str, tuple[str, bool]]:
        """The unit's optional layers written as `None`-able submodules: id -> (switch, on here). A layer
        without a module of its own (a function) stays out: its instances get a class each."""
        found = {}
        for node_id, switch in scope.unit.optional.items():
            node = scope.node(node_id)
            if node.type not in OPS or OPS[node.type].module is not None:
                found[node_id] = (switch, prefix + node_id in self.flat._nodes or
                                  any(flat.startswith(f"{prefix}{node_id}.") for flat in self.flat._nodes))
        return found

    def _source(self, scope: Graph, node_id: str, port: str) -> tuple[str, str]:
        edge = scope.edge_into(node_id, port)
        return (edge.source, edge.source_port)

    def _layer(self, node, prefix: str, params: dict, refs: dict) -> list[_Entry]:
        flat_id = prefix + node.id
        if node.type == "Parameter":
            init, kwargs = parameter_init(params)
            arguments = [f"torch.empty({', '.join(str(d) for d in (1, *params['shape']))})",
                         *(f"{key}={literal(value)}" for key, value in kwargs.items())]
            return [_Entry(node.id, f"nn.Parameter(nn.init.{init}({', '.join(arguments)}))", whole=True)]
        if node.spec.op is not None:  # a custom layer: its class, imported at the top of the file
            from engine.custom_layers.export import init_arguments

            class_name, arguments = init_arguments(self.flat.node(flat_id), self.compiled.shapes.inputs[flat_id])
            arguments = [(name, value, False) for name, value in arguments]
            head = class_name
        elif OPS[node.type].module is None:
            return []
        else:
            from engine.export.python_code import constructor_arguments

            class_name, kwargs = constructor(node.type, params, self.compiled.shapes.inputs[flat_id])
            arguments = constructor_arguments(class_name, kwargs)
            head = f"nn.{class_name}"
        for name, _, _ in arguments:
            if is_ref(node.params.get(name)):
                refs[(node.id, name)] = node.params[name]["ref"]
        return [_Entry(node.id, head, tuple(a[0] for a in arguments),
                       tuple((a[1], a[2]) for a in arguments))]

    def _instance(self, node, prefix: str) -> _Entry:
        if node.type == REPEAT:
            resolved = node.resolved_params()
            unit = resolved["unit"]
            inner = self.graph.unit_graph(unit)
            copies = [self.record(inner, f"{prefix}{node.id}.{i}.", unit) for i in range(resolved["count"])]
            return _Entry(node.id, "nn.Sequential", items=copies)
        return _Entry(node.id, "", items=[self.record(self.graph.unit_graph(node.type), f"{prefix}{node.id}.",
                                                      node.type)])

    # ---- classes ------------------------------------------------------------------
    def classes(self, taken: set[str]) -> list[str]:
        """Choose each instance's class and arguments (inner units first) and write the classes."""
        blocks = []
        by_unit: dict[str, list[_Record]] = {}
        for record in self.records:
            by_unit.setdefault(record.unit, []).append(record)
        for unit, records in by_unit.items():  # inner units come first: their records were made first
            variants: dict[tuple, list[_Record]] = {}
            for record in records:
                variants.setdefault(_skeleton(record), []).append(record)
            for number, group in enumerate(variants.values(), start=1):
                name = _free(unit if number == 1 else f"{unit}_{number}", taken)
                taken.add(name)
                blocks.append(_class_source(name, group))
        return blocks


def _skeleton(record: _Record) -> tuple:
    """What must be equal for two instances to share a class: every line but its argument values (an
    optional layer's line is the same whether the instance makes it or not)."""
    entries = tuple((e.attr, e.head, e.names, tuple(map(_call_head, e.items))) for e in record.entries
                    if not e.switch)
    return entries, tuple(record.forward), tuple(sorted(record.switches))


def _replace_entry(entry: _Entry, switch: str) -> _Entry:
    entry.switch = switch
    return entry


def _optional_calls(forward: list[str], optional: dict) -> list[str]:
    """`y = self.layer(x)` of an optional layer as `y = x if self.layer is None else self.layer(x)`."""
    if not optional:
        return forward
    pattern = re.compile(rf"^(\s*)(\w+) = self\.({'|'.join(map(re.escape, optional))})\((.+)\)$")
    return [pattern.sub(r"\1\2 = \4 if self.\3 is None else self.\3(\4)", line) for line in forward]


def _class_entries(records: list[_Record]) -> list[_Entry]:
    """The `__init__` lines of a class: the first record's, with each optional layer taken from the first
    record that makes it, in the order of the record that makes the most."""
    fullest = max(records, key=lambda record: len(record.entries))
    made = {entry.attr: entry for record in records for entry in reversed(record.entries) if entry.switch}
    order = [entry.attr for entry in fullest.entries]
    firsts = {entry.attr: entry for entry in records[0].entries}
    return [firsts.get(attr) or made[attr] for attr in order] + \
        [entry for attr, entry in made.items() if attr not in order]


def _call_head(record: _Record) -> tuple:
    return record.cls, tuple(name for name, _ in record.arguments)


def _class_source(name: str, records: list[_Record]) -> str:
    """The class shared by `records` (instances of one unit with one skeleton); sets their `cls` and
    `arguments`."""
    keys = list(dict.fromkeys(key for record in records for key, _, _ in _slots(record)))
    slots: dict[tuple, list] = {}  # (attr, argument[, copy]) -> the value in each instance, None: not made
    for record in records:
        values = {key: value for key, value, _ in _slots(record)}
        for key in keys:
            slots.setdefault(key, []).append(values.get(key))
    varying = {key: values for key, values in slots.items() if None not in values and len(set(values)) > 1}
    patterns: dict[tuple, list[tuple]] = {}
    for key, values in varying.items():
        patterns.setdefault(tuple(values), []).append(key)
    param_of: dict[tuple, str] = {}
    switches = sorted(records[0].switches)
    taken = set(RESERVED_NAMES) | set(keyword.kwlist) | set(switches)
    params = [*switches]
    for keys_of in patterns.values():
        param = _free(_param_name(keys_of, records[0].refs), taken)
        taken.add(param)
        params.append(param)
        for key in keys_of:
            param_of[key] = param
    _link_optional(records, slots, param_of, params, taken)
    for record_index, record in enumerate(records):
        record.cls = name
        record.arguments = [(switch, str(record.switches[switch])) for switch in switches]
        for param in params[len(switches):]:
            held = [slots[key] for key, p in param_of.items() if p == param]
            value = next((values[record_index] for values in held if values[record_index] is not None), None)
            record.arguments.append((param, value if value is not None else
                                     next(v for values in held for v in values if v is not None)))
    first = records[0]
    init = [_init_line(entry, param_of) for entry in _class_entries(records)]
    init += [f"self.{attr} = None" for attr in _never_made(records)]
    lines = [f"class {name}(nn.Module):", *_docstring(first.doc or f"Unit {first.unit}."), "",
             f"    def __init__({', '.join(['self', *params])}):", "        super().__init__()",
             *(f"        {line}" for line in init), "", *(f"    {line}" for line in first.forward)]
    return "\n".join(lines)


def _link_optional(records: list[_Record], slots: dict, param_of: dict, params: list[str], taken: set) -> None:
    """The arguments of the optional layers, which some instances do not make: each reads the class param
    that holds its values in every instance that makes it (the unit param the layer references, else one
    named like the argument, else the one param that does), else a param of its own where its values
    differ there, else it is written as a value."""
    refs = {key: param for record in records for key, param in record.refs.items()}
    values_of = {param: next(values for key, values in slots.items() if param_of.get(key) == param)
                 for param in params if param in param_of.values()}
    for key, values in slots.items():
        if None not in values or key in param_of:
            continue
        makers = [i for i, value in enumerate(values) if value is not None]
        fitting = [p for p, held in values_of.items() if all(held[i] == values[i] for i in makers)]
        found = next((c for c in (refs.get(key[:2]), key[1], fitting[0] if len(fitting) == 1 else None)
                      if c in fitting), None)
        if found is None and len({values[i] for i in makers}) > 1:
            found = _free(_param_name([key], refs), taken)
            taken.add(found)
            params.append(found)
            values_of[found] = values
        if found is not None:
            param_of[key] = found


def _never_made(records: list[_Record]) -> list[str]:
    """The optional layers that no instance of the class makes (written as None, for forward's check)."""
    made = {entry.attr for record in records for entry in record.entries}
    return [attr for attr in records[0].optional_attrs if attr not in made]


def _docstring(doc: str) -> list[str]:
    """The class docstring, wrapped to the project's line length, with no quotes or escapes to break it."""
    from engine.export.python_code import LINE_LENGTH

    text = " ".join(re.sub(r"[^\w .,:;()+\-'/=\[\]]", "_", word) for word in doc.split())
    return [f"    {line}" for line in textwrap.wrap(f'"""{text}"""', LINE_LENGTH - 4)]


def _slots(record: _Record):
    """(key, value, is default) for every argument value in the record's `__init__`."""
    for entry in record.entries:
        for argument, (value, default) in zip(entry.names, entry.values):
            yield (entry.attr, argument), value, default
        for index, item in enumerate(entry.items):
            for argument, value in item.arguments:
                yield (entry.attr, argument, index), value, False


def _param_name(keys: list[tuple], refs: dict) -> str:
    """A constructor argument's name: the unit param a layer's argument reads, else the torch argument's
    name the values set most often, else `<attr>_<argument>`."""
    for key in keys:
        if key[:2] in refs:
            return refs[key[:2]]
    names = Counter(key[1] for key in keys)
    return names.most_common(1)[0][0] if names else f"{keys[0][0]}_{keys[0][1]}"


def _init_line(entry: _Entry, param_of: dict, indent: int = 8) -> str:
    from engine.export.python_code import _wrapped_call

    if entry.switch:
        from engine.export.python_code import LINE_LENGTH

        plain = _Entry(entry.attr, entry.head, entry.names, entry.values, entry.items, entry.whole)
        line = f"{_init_line(plain, param_of)} if {entry.switch} else None"
        if len(line) + 8 <= LINE_LENGTH and "\n" not in line:
            return line
        call = _init_line(plain, param_of, indent=12).removeprefix(f"self.{entry.attr} = ")
        return f"self.{entry.attr} = (\n            {call}\n            if {entry.switch} else None\n        )"
    if entry.whole:
        return f"self.{entry.attr} = {entry.head}"
    if entry.items:
        calls = [_call(item, param_of, entry.attr, index) for index, item in enumerate(entry.items)]
        if entry.head == "nn.Sequential":
            return _wrapped_call(f"self.{entry.attr} = nn.Sequential", calls, indent=8)
        return f"self.{entry.attr} = {calls[0]}"
    arguments = []
    for argument, (value, default) in zip(entry.names, entry.values):
        param = param_of.get((entry.attr, argument))
        if param is not None:
            arguments.append(f"{argument}={param}")
        elif not default:
            arguments.append(f"{argument}={value}")
    if indent != 8:  # a call standing on a line of its own, inside parentheses
        return f"self.{entry.attr} = " + _wrapped_call(entry.head, arguments, indent=indent)
    return _wrapped_call(f"self.{entry.attr} = {entry.head}", arguments, indent=8)


def _call(record: _Record, param_of: dict, attr: str, index: int) -> str:
    """`Block(out_channels=8)`: a unit instance's construction, its values or the enclosing class's params."""
    arguments = []
    for argument, value in record.arguments:
        arguments.append(f"{argument}={param_of.get((attr, argument, index), value)}")
    return f"{record.cls}({', '.join(arguments)})"


def _free(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}_{number}"
    return candidate


def _ancestors(graph: Graph, sinks: set[str]) -> set[str]:
    seen, stack = set(sinks), list(sinks)
    while stack:
        for edge in graph.in_edges(stack.pop()):
            if edge.source not in seen:
                seen.add(edge.source)
                stack.append(edge.source)
    return seen



def structured_model(compiled: CompiledGraph) -> nn.Module | None:
    """The model as the Python export writes it (a module per unit instance, each with its own forward) with
    the compiled model's weights, on the CPU in eval mode; None for a graph without units (see
    `CompiledGraph.source`). The ONNX export traces it, so the file's names are nested
    (`/layer1/layer1.0/conv1/Conv`)."""
    graph = compiled.source
    if graph is None:
        return None
    from engine.custom_layers.export import importable
    from engine.export.python_code import DEFAULT_CLASS_NAME, python_source

    namespace = {"__name__": "neurocanvas_units_model"}
    with importable(graph):  # the source imports the custom layers' classes from their copies' module names
        exec(compile(python_source(compiled, graph), "<neurocanvas units model>", "exec"), namespace)
        model = namespace[DEFAULT_CLASS_NAME]()
    model.load_state_dict(compiled.model.state_dict())
    return model.cpu().eval()
