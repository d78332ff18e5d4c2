"""`UnitDefinition`: one unit of a project, a subgraph with ports and params, and its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.document import Graph
from graphs.errors import GraphError, quoted
from graphs.families.units import UNIT_INPUT, UNIT_OUTPUT


@dataclass
class UnitDefinition:
    """A unit: its `name` (a Python class name, the type of its instances), a `doc`, its `params`
    (name -> default: int, float, bool, str or a list of ints) and its inner `graph`, whose
    UnitInput and UnitOutput nodes are the ports (a port is named after the node's id; ports are in
    node order). Inner nodes' params may reference unit params: {"ref": "out_channels"}.
    `optional` switches inner layers on and off per instance: inner node id -> the name of a bool unit
    param; where that param is false the layer is skipped, its input passed straight on to its
    consumers (a ResNet block's `downsample`). Only a node with one input and one output can be optional
    (see `optional_problems`).

    Make the definition first, then fill its graph (its nodes' references are checked against
    `params`); give it `Graph(units=document.units)` when it uses other units of the document. Once
    registered (`document.add_unit`), edit the inner graph through its own methods only."""

    name: str
    graph: Graph = field(default_factory=Graph)
    params: dict = field(default_factory=dict)
    doc: str = ""
    optional: dict = field(default_factory=dict)  # inner node id -> bool unit param that switches it on

    def __post_init__(self):
        self.graph.unit = self

    def inputs(self) -> list[str]:
        """The input ports: the UnitInput node ids, in node order."""
        return self.graph.node_ids_of_type(UNIT_INPUT)

    def outputs(self) -> list[str]:
        """The output ports: the UnitOutput node ids, in node order."""
        return self.graph.node_ids_of_type(UNIT_OUTPUT)

    def clone(self, units=None) -> UnitDefinition:
        """An independent copy (its inner graph copied, bound to registry `units` when given)."""
        return UnitDefinition(self.name, self.graph.copy(units=units), _copy_params(self.params), self.doc,
                              dict(self.optional))

    def as_dict(self) -> dict:
        data = {"name": self.name}
        if self.doc:
            data["doc"] = self.doc
        if self.params:
            data["params"] = _copy_params(self.params)
        if self.optional:
            data["optional"] = dict(self.optional)
        data["nodes"] = [node.as_dict() for node in self.graph.nodes()]
        data["edges"] = [edge.as_dict() for edge in self.graph.edges()]
        return data

    def snapshot(self) -> tuple:
        return (_copy_params(self.params), self.doc, self.graph.snapshot(), dict(self.optional))

    def optional_problems(self) -> list[tuple[str, str]]:
        """(inner node id, why) for each entry of `optional` that cannot be: a node the unit lacks, one
        without exactly one input and one output, or a switch that is not a bool param of the unit."""
        problems = []
        for node_id, param in self.optional.items():
            if not isinstance(node_id, str) or not self.graph.has_node(node_id):
                problems.append((node_id, f"unit '{self.name}' has no node {quoted(node_id)} to make optional"))
                continue
            if not isinstance(param, str) or not isinstance(self.params.get(param), bool):
                known = [name for name, value in self.params.items() if isinstance(value, bool)]
                problems.append((node_id, f"optional node '{node_id}' of unit '{self.name}' is switched by "
                                          f"{quoted(param)}, which is not a bool param of the unit"
                                          f"{'; its bool params: ' + ', '.join(known) if known else ''}"))
                continue
            node = self.graph.node(node_id)
            try:
                ports = (len(node.input_ports()), len(node.output_ports()))
            except GraphError:
                ports = None
            if node.type in (UNIT_INPUT, UNIT_OUTPUT) or ports != (1, 1):
                problems.append((node_id, f"optional node '{node_id}' of unit '{self.name}' must have one input "
                                          "and one output, so that skipping it passes its input on"))
        return problems


def _copy_params(params: dict) -> dict:
    return {name: (list(value) if isinstance(value, list) else value) for name, value in params.items()}
