"""Optional layers in a unit: a bool unit param switches inner one-in-one-out nodes on and off per instance
(torchvision's `downsample`); skipped, their input goes straight to their consumers. Bad entries are refused,
naming the unit and the node."""

import json

import pytest

from graphs.errors import ProjectFormatError
from graphs.project import Project, loads_project
from graphs.units import expand
from graphs.validate import validate
from tests.graphs.optional_cases import optional_resnet


def test_a_switched_off_layer_is_skipped_and_its_input_passed_on():
    flat = expand(optional_resnet()).graph
    ids = set(flat.node_ids())
    assert {"layer2.0.downsample_0", "layer2.0.downsample_1"} <= ids
    assert not any("downsample" in node_id for node_id in ids - {"layer2.0.downsample_0", "layer2.0.downsample_1"})
    wires = {(e.source, e.target, e.target_port) for e in flat.edges()}
    assert ("stem", "layer1.0.add", "in1") in wires  # layer1.0: the block's input is the skip
    assert ("layer1.1.relu2", "layer2.0.downsample_0", "in") in wires
    assert ("layer2.0.downsample_1", "layer2.0.add", "in1") in wires
    assert ("layer2.0.relu2", "layer2.1.add", "in1") in wires
    assert validate(optional_resnet()) == []


def test_optional_layers_round_trip_in_the_file():
    project = Project(optional_resnet(), name="optional")
    data = project.to_dict()
    assert data["units"][0]["optional"] == {"downsample_0": "downsample", "downsample_1": "downsample"}
    loaded = loads_project(json.dumps(data))
    assert loaded.graph.units["BasicBlock"].optional == {"downsample_0": "downsample", "downsample_1": "downsample"}
    assert loaded.to_json() == project.to_json()
    assert loaded.graph.units["BasicBlock"].clone().optional == project.graph.units["BasicBlock"].optional


@pytest.mark.parametrize("optional, message", [
    ({"shortcut": "downsample"}, "unit 'BasicBlock' has no node 'shortcut' to make optional"),
    ({"downsample_0": "planes"}, "is switched by 'planes', which is not a bool param of the unit; its bool "
                                 "params: downsample"),
    ({"downsample_0": "nothing"}, "switched by 'nothing', which is not a bool param"),
    ({"add": "downsample"}, "optional node 'add' of unit 'BasicBlock' must have one input and one output"),
    ({"y": "downsample"}, "optional node 'y' of unit 'BasicBlock' must have one input and one output"),
])
def test_a_bad_optional_entry_is_refused_naming_the_unit_and_node(optional, message):
    data = Project(optional_resnet(), name="optional").to_dict()
    data["units"][0]["optional"] = optional
    with pytest.raises(ProjectFormatError, match="BasicBlock") as raised:
        loads_project(json.dumps(data))
    assert message in str(raised.value) and "optional" in str(raised.value)


def test_a_bad_optional_entry_made_in_memory_is_an_error_on_the_instance():
    graph = optional_resnet()
    graph.units["BasicBlock"].optional["add"] = "downsample"
    errors = validate(graph)
    assert any(e.node == "layer1" and "optional node 'add'" in e.message for e in errors)
