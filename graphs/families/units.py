"""The node types that give a project its structure rather than compute: a unit's ports
(`UnitInput`, `UnitOutput`) and `Repeat` (N copies of a unit in sequence).

They are kept apart from `graphs.catalogue.CATALOGUE` (the layers, each with an op, a shape rule
and an explanation that the tests hold): they never reach the engine, which compiles the graph
`graphs.units.expand` gives, where every instance is replaced by its layers. A unit's own name is
a node type too; its `NodeType` is made from its definition by `graphs.units.UnitRegistry`.
"""

from __future__ import annotations

from graphs.node_type import NodeType, int_param
from graphs.params import ParamSpec

CATEGORY = "Units"
UNIT_INPUT = "UnitInput"
UNIT_OUTPUT = "UnitOutput"
REPEAT = "Repeat"
MAX_COPIES = 4096

UNIT_PARAM = ParamSpec("unit", "str", "", doc="the unit repeated (a unit of this project)")
COUNT_PARAM = int_param("count", 2, 1, MAX_COPIES, "how many copies, in sequence")
OVERRIDES_PARAM = ParamSpec("overrides", "overrides", {},
                            doc='per-copy param changes, e.g. {"0": {"stride": 2}} for a first copy that differs')

TYPES = [
    NodeType(UNIT_INPUT, CATEGORY, inputs=(), outputs=("out",),
             doc="An input port of the unit it sits in; the port is named after this node's id."),
    NodeType(UNIT_OUTPUT, CATEGORY, inputs=("in",), outputs=(),
             doc="An output port of the unit it sits in; the port is named after this node's id."),
    NodeType(REPEAT, CATEGORY, (UNIT_PARAM, COUNT_PARAM, OVERRIDES_PARAM),
             doc="`count` copies of a one-input, one-output unit in sequence; `overrides` changes single copies.",
             key_params=("unit", "count")),
]
STRUCTURE: dict[str, NodeType] = {t.name: t for t in TYPES}
