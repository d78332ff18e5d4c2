"""`UnitDefinition`: one unit of a project, a subgraph with ports and params, and its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.document import Graph
from graphs.families.units import UNIT_INPUT, UNIT_OUTPUT


@dataclass
class UnitDefinition:
    """A unit: its `name` (a Python class name, the type of its instances), a `doc`, its `params`
    (name -> default: int, float, bool, str or a list of ints) and its inner `graph`, whose
    UnitInput and UnitOutput nodes are the ports (a port is named after the node's id; ports are in
    node order). Inner nodes' params may reference unit params: {"ref": "out_channels"}.

    Make the definition first, then fill its graph (its nodes' references are checked against
    `params`); give it `Graph(units=document.units)` when it uses other units of the document. Once
    registered (`document.add_unit`), edit the inner graph through its own methods only."""

    name: str
    graph: Graph = field(default_factory=Graph)
    params: dict = field(default_factory=dict)
    doc: str = ""

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
        return UnitDefinition(self.name, self.graph.copy(units=units), _copy_params(self.params), self.doc)

    def as_dict(self) -> dict:
        data = {"name": self.name}
        if self.doc:
            data["doc"] = self.doc
        if self.params:
            data["params"] = _copy_params(self.params)
        data["nodes"] = [node.as_dict() for node in self.graph.nodes()]
        data["edges"] = [edge.as_dict() for edge in self.graph.edges()]
        return data

    def snapshot(self) -> tuple:
        return (_copy_params(self.params), self.doc, self.graph.snapshot())


def _copy_params(params: dict) -> dict:
    return {name: (list(value) if isinstance(value, list) else value) for name, value in params.items()}
