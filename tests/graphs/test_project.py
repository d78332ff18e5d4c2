"""Project files: round trip, defaults, and refusals that say what and where."""

import json
import os

import pytest

from graphs import Graph, load_project, save_project
from graphs.errors import ProjectFormatError
from graphs.project import Project, loads_project

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "examples")
ISSUE_EXAMPLE = {
    "format": "neurocanvas", "version": 1, "name": "digits-cnn",
    "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": [1, 8, 8]}, "position": [0, 0]},
        {"id": "conv1", "type": "Conv2d", "params": {"out_channels": 16, "kernel_size": 3, "padding": 1}},
        {"id": "act1", "type": "ReLU"}, {"id": "flat", "type": "Flatten"},
        {"id": "fc", "type": "Linear", "params": {"out_features": 10}},
        {"id": "y", "type": "Target", "params": {"shape": [], "dtype": "int64"}},
        {"id": "loss", "type": "CrossEntropyLoss"},
    ],
    "edges": [
        {"source": "x", "target": "conv1"}, {"source": "conv1", "target": "act1"},
        {"source": "act1", "target": "flat"}, {"source": "flat", "target": "fc"},
        {"source": "fc", "target": "loss", "target_port": "input"},
        {"source": "y", "target": "loss", "target_port": "target"},
    ],
    "training": {"dataset": {"name": "digits"}, "val_split": 0.2, "batch_size": 64, "epochs": 10, "seed": 0,
                 "device": "auto", "optimizer": {"type": "Adam", "lr": 0.001}},
    "gui": {"zoom": 1.5, "anything": ["kept", "as", "is"]},
}


def test_issue_example_loads_and_round_trips(tmp_path):
    project = loads_project(json.dumps(ISSUE_EXAMPLE))
    assert project.name == "digits-cnn"
    assert project.graph.node("fc").resolved_params()["bias"] is True  # torch default filled in
    assert project.graph.edge_into("loss", "target").source == "y"
    path = save_project(project, tmp_path / "p.json")
    again = load_project(path)
    assert again.graph.snapshot() == project.graph.snapshot()
    assert again.training == project.training
    assert again.gui == ISSUE_EXAMPLE["gui"]
    assert again.to_dict() == project.to_dict()


@pytest.mark.parametrize("name", sorted(os.listdir(EXAMPLES)))
def test_examples_round_trip(name, tmp_path):
    project = load_project(os.path.join(EXAMPLES, name))
    path = save_project(project, tmp_path / name)
    assert load_project(path).graph.snapshot() == project.graph.snapshot()


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("old")
    project = Project(Graph())
    project.graph.add_node("Input", {"shape": [2]}, "x")
    save_project(project, path)
    assert json.loads(path.read_text())["nodes"][0]["id"] == "x"
    assert os.listdir(tmp_path) == ["p.json"]


def test_failed_save_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    path.write_text("precious")

    def no_space(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(ProjectFormatError, match="No space left"):
        save_project(Project(Graph()), path)
    assert path.read_text() == "precious"
    assert os.listdir(tmp_path) == ["p.json"]


def mutated(**changes):
    data = json.loads(json.dumps(ISSUE_EXAMPLE))
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize("text, message, where", [
    ('{"format": "neurocanvas",\n "version": 1,\n "nodes": [}', "not valid JSON", "line 3, column"),
    ("[1, 2]", "must be an object", "top level"),
    (mutated(format="keras"), "not a Neurocanvas project", "format"),
    (mutated(version=3), "newer Neurocanvas", "version"),
    (mutated(version="1"), "must be an integer", "version"),
    (mutated(nodes={"x": 1}), "must be a list", "nodes"),
    (mutated(nodes=[{"id": "x", "type": "Conv4d"}]), "unknown node type 'Conv4d'", "nodes[0] ('x')"),
    (mutated(nodes=[{"id": 5, "type": "ReLU"}]), "id must be a string", "nodes[0].id"),
    (mutated(nodes=[{"id": "c", "type": "Conv2d", "params": {"kernel_size": -3}}]), "at least 1",
     "nodes[0] ('c').params.kernel_size"),
    (mutated(nodes=[{"id": "a", "type": "ReLU"}, {"id": "a", "type": "ReLU"}]), "already exists", "nodes[1]"),
    (mutated(edges=[{"source": "x", "target": "nowhere"}]), "'nowhere' is not a node", "edges[0].target"),
    (mutated(nodes=[{"id": "x", "type": "ReLU", "position": [1]}]), "position", "position"),
])
def test_bad_files_are_refused_with_what_and_where(text, message, where, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ProjectFormatError) as caught:
        load_project(path)
    assert message in str(caught.value)
    assert where in str(caught.value)
    assert str(path) in str(caught.value)


def test_non_utf8_and_missing_files(tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(ProjectFormatError, match="not UTF-8"):
        load_project(path)
    with pytest.raises(ProjectFormatError, match="cannot read"):
        load_project(tmp_path / "missing.json")


def test_deeply_nested_json_is_refused(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(ProjectFormatError, match="nested too deeply|must be an object"):
        load_project(path)
