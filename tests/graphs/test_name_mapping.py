"""The read-only registries by name (units, a project's own layer types) answer `in` and `get` as a dict does."""

from graphs.custom_types import CustomTypes
from graphs.document import Graph
from graphs.node_type import NodeType
from tests.graphs.optional_cases import optional_block


def test_units_answer_membership_and_get_like_a_dict():
    graph = Graph()
    graph.add_unit(optional_block(graph.units))
    units = graph.units
    assert "BasicBlock" in units and units.get("BasicBlock") is units["BasicBlock"] and list(units) == ["BasicBlock"]
    assert "Linear" not in units and [] not in units and units.get("Linear") is None and units.get([], 3) == 3
    assert len(units) == 1


def test_custom_types_answer_membership_and_get_like_a_dict():
    spec = NodeType(name="Mine", category="custom")
    custom = CustomTypes([spec])
    assert "Mine" in custom and custom.get("Mine") is spec and custom["Mine"] is spec and list(custom) == ["Mine"]
    assert "Other" not in custom and custom.get("Other", 1) == 1 and {} not in custom and len(custom) == 1
