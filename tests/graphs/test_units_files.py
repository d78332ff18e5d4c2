"""Project files with units: version 2, round trips, version 1 unchanged, and bad units refused."""

import json

import pytest

from graphs.errors import ProjectFormatError
from graphs.project import Project, load_project, loads_project, save_project
from tests.graphs.unit_cases import resnet_graph


def project_dict(graph=None) -> dict:
    return Project(graph or resnet_graph(), name="units").to_dict()


def test_a_project_with_units_round_trips_as_version_2(tmp_path):
    project = Project(resnet_graph(), name="units")
    data = project.to_dict()
    assert data["version"] == 2 and [u["name"] for u in data["units"]] == ["BasicBlock"]
    assert {"ref": "planes"} in [n.get("params", {}).get("out_channels") for n in data["units"][0]["nodes"]]
    path = save_project(project, tmp_path / "model.json")
    loaded = load_project(path)
    assert loaded.graph.snapshot() == project.graph.snapshot()
    assert loaded.to_json() == project.to_json()
    assert loaded.graph.node("layer1").output_ports() == ["y"]


def test_a_project_without_units_stays_version_1_byte_for_byte():
    text = json.dumps({"format": "neurocanvas", "version": 1, "name": "m",
                       "nodes": [{"id": "x", "type": "Input", "params": {"shape": [3]}, "position": [0, 0]},
                                 {"id": "fc", "type": "Linear", "position": [1, 0]}],
                       "edges": [{"source": "x", "target": "fc"}]})
    project = loads_project(text)
    assert project.to_dict()["version"] == 1 and "units" not in project.to_dict()
    assert loads_project(project.to_json()).to_json() == project.to_json()


def test_a_unit_may_use_a_unit_defined_after_it():
    data = project_dict()
    data["units"].insert(0, {"name": "Stage", "nodes": [
        {"id": "x", "type": "UnitInput"}, {"id": "b", "type": "BasicBlock"}, {"id": "y", "type": "UnitOutput"}],
        "edges": [{"source": "x", "target": "b", "target_port": "x"},
                  {"source": "b", "source_port": "y", "target": "y"}]})
    loaded = loads_project(json.dumps(data))
    assert loaded.graph.units["Stage"].inputs() == ["x"]


@pytest.mark.parametrize("change, message, where", [
    (lambda d: d["units"][0]["nodes"].append({"id": "again", "type": "BasicBlock"}),
     "unit 'BasicBlock' cannot contain 'BasicBlock'", "units[0] ('BasicBlock').nodes[11]"),
    (lambda d: d["nodes"].append({"id": "b2", "type": "Bottleneck"}), "unknown node type or unit 'Bottleneck'",
     "nodes[9] ('b2')"),
    (lambda d: d["nodes"].append({"id": "r", "type": "Repeat", "params": {"unit": "Bottleneck"}}),
     "unit 'Bottleneck' is not defined", "nodes[9] ('r').params.unit"),
    (lambda d: d["edges"].append({"source": "stem", "target": "block", "target_port": "skip"}),
     "unit 'BasicBlock' has no such port", "edges"),
    (lambda d: d["units"][0]["nodes"][1]["params"].update(out_channels={"ref": "width"}),
     "refers to unit param 'width', which unit 'BasicBlock' does not have",
     "units[0] ('BasicBlock').nodes[1] ('conv1').params.out_channels"),
    (lambda d: d["units"][0].update(name="Conv2d"), "is the name of a catalogue node type", "units[0].name"),
    (lambda d: d["units"].append(dict(d["units"][0])), "defined twice", "units[1] ('BasicBlock')"),
    (lambda d: d["units"][0]["params"].update(planes=[1.5]), "a default must be", "units[0] ('BasicBlock').params"),
    (lambda d: d.update(version=3), "newer Neurocanvas", "version"),
])
def test_bad_units_are_refused_naming_the_unit(change, message, where):
    data = project_dict()
    change(data)
    with pytest.raises(ProjectFormatError) as caught:
        loads_project(json.dumps(data), "model.json")
    assert message in caught.value.message
    assert caught.value.where.startswith(where)


def test_a_recursive_pair_of_units_is_refused():
    data = project_dict()
    data["units"] = [
        {"name": "A", "nodes": [{"id": "b", "type": "B"}]},
        {"name": "B", "nodes": [{"id": "a", "type": "Repeat", "params": {"unit": "A"}}]},
    ]
    data["nodes"], data["edges"] = [{"id": "x", "type": "Input"}], []
    with pytest.raises(ProjectFormatError, match="unit 'B' cannot contain 'A'"):
        loads_project(json.dumps(data))


def test_a_failed_load_writes_nothing(tmp_path):
    data = project_dict()
    data["units"][0]["nodes"].append({"id": "again", "type": "BasicBlock"})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    with pytest.raises(ProjectFormatError):
        load_project(path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]
