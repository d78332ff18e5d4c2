"""The fast paths of opening a large model keep the document's rules: params resolved once and kept only
while they are the node's params, the read-only accessors used only where they are read, and a load error
still naming the file, the entry and the field."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from engine.shapes import ShapeInference
from graphs.document import Graph
from graphs.errors import ProjectFormatError
from graphs.live_validation import LiveValidation
from graphs.project import load_project, loads_project, project_from_dict
from graphs.validate import validate

ROOT = Path(__file__).resolve().parents[2]
READ_ONLY = ("live_nodes", "live_node", "resolved_of", "kept_resolution")


def small_graph() -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": [8]}, "x")
    g.add_node("Linear", {"out_features": 4}, "fc")
    g.add_node("Conv1d", {"out_channels": 2, "kernel_size": 3}, "conv")
    g.add_node("Add", {"inputs": 3}, "add")
    g.connect("x", "fc")
    g.connect("fc", "add", target_port="in0")
    return g


def test_kept_resolution_equals_a_fresh_one_and_follows_every_change():
    g = small_graph()
    for node in g.live_nodes():
        assert g.resolved_of(node) == node.resolved_params()
    assert g.kept_resolution("fc", g.node("fc").params)["out_features"] == 4
    g.set_param("fc", "out_features", 6)
    assert g.resolved_of(g.live_node("fc"))["out_features"] == 6
    g.set_param("add", "inputs", 2)
    assert g.live_node("add").input_ports() == ["in0", "in1"]
    assert g.kept_resolution("fc", {"out_features": 4}) is None  # not the node's params: nothing kept
    g.remove_node("conv")
    assert g.kept_resolution("conv", {"out_channels": 2, "kernel_size": 3}) is None
    g.add_node("ReLU", {}, "conv")
    assert g.resolved_of(g.live_node("conv")) == {}


def test_params_replaced_without_set_params_are_resolved_afresh():
    g = small_graph()  # graphs.units.expand replaces a node's params directly when a unit param made them bad
    g.live_node("fc").params = {"out_features": 9}
    assert g.resolved_of(g.live_node("fc"))["out_features"] == 9
    copy = g.copy()
    assert copy.resolved_of(copy.live_node("fc"))["out_features"] == 9
    assert copy.resolved_of(copy.live_node("conv")) == g.node("conv").resolved_params()


def test_reads_for_callers_are_still_copies_after_inference_and_validation():
    g = small_graph()
    inference = ShapeInference(g)
    before = g.snapshot()
    result = inference.result()
    live = LiveValidation(g)
    structural = sorted(map(str, validate(g)))
    assert len(structural) == 3 and sorted(map(str, live.errors())) == structural
    assert sorted(map(str, result.errors[:3])) == structural
    node = g.node("fc")
    node.params["out_features"] = 99
    node.position = (5.0, 5.0)
    for node in g.nodes():
        node.params.clear()
    assert g.snapshot() == before
    assert inference.result().info["fc"].outputs["out"].shape == (4,)


def test_the_read_only_accessors_are_used_only_by_graphs_and_shape_inference():
    users = set()
    for folder in ("graphs", "engine", "gui", "bench", "main.py"):
        for path in ([ROOT / folder] if folder.endswith(".py") else (ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in READ_ONLY:
                    users.add(path.relative_to(ROOT).as_posix())
    assert users and all(user.startswith("graphs/") or user == "engine/shapes.py" for user in users), users


def test_no_read_only_node_is_changed_by_a_check():
    """Loading, validation and inference read the document's own nodes: none of them may change one."""
    g = small_graph()
    g.add_node("Linear", {"out_features": 4, "shares": "fc"}, "twin")
    nodes = {node.id: (node, dict(node.params), node.position, node.type) for node in g.live_nodes()}
    ShapeInference(g).result()
    validate(g)
    LiveValidation(g).errors()
    for node_id, (node, params, position, type_name) in nodes.items():
        assert g.live_node(node_id) is node
        assert (node.params, node.position, node.type) == (params, position, type_name)


def project(nodes, edges=()):
    return {"format": "neurocanvas", "version": 1, "nodes": nodes, "edges": list(edges)}


GOOD = [{"id": "x", "type": "Input", "params": {"shape": [4]}}, {"id": "fc", "type": "Linear"}]


@pytest.mark.parametrize("nodes, edges, where, message", [
    ([GOOD[0], 7], [], "nodes[1]", "a node must be an object, got int"),
    ([GOOD[0], {"type": "ReLU"}], [], "nodes[1].id", "a node's id must be a string, got null"),
    ([GOOD[0], {"id": "r", "type": 3}], [], "nodes[1] ('r').type", "a node's type must be a string, got int"),
    ([GOOD[0], {"id": "r", "type": "ReLU", "params": []}], [], "nodes[1] ('r').params", "params must be an object"),
    ([GOOD[0], {"id": "r", "type": "ReLU", "position": [1, True]}], [], "nodes[1] ('r').position",
     "position must be [x, y]"),
    ([GOOD[0], {"id": "r", "type": "ReLU", "position": [1e12, 0]}], [], "nodes[1] ('r').position",
     "position must be [x, y]"),
    ([GOOD[0], {"id": "fc", "type": "Linear", "params": {"out_features": -1}}], [],
     "nodes[1] ('fc').params.out_features", "param 'out_features' must be at least"),
    ([GOOD[0], {"id": "fc", "type": "Nope"}], [], "nodes[1] ('fc')", "Nope"),
    (GOOD, ["x"], "edges[0]", "an edge must be an object"),
    (GOOD, [{"source": "x"}], "edges[0].target", "target must be a string, got null"),
    (GOOD, [{"source": "x", "target": "fc", "target_port": 1}], "edges[0].target_port", "must be a string"),
    (GOOD, [{"source": "x", "target": "fc"}, {"source": "ghost", "target": "fc"}], "edges[1].source",
     "source 'ghost' is not a node of this project"),
])
def test_load_errors_name_the_file_the_entry_and_the_field(nodes, edges, where, message, tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(project(nodes, edges)))
    with pytest.raises(ProjectFormatError) as caught:
        load_project(path)
    assert caught.value.where == where
    assert message in caught.value.message
    assert str(path) in str(caught.value)


def test_a_good_file_loads_as_the_document_it_was_saved_from():
    g = small_graph()
    g.move_node("fc", (12.5, -3.0))
    g.set_training_options("fc", trainable=False, lr_mult=0.5)
    from graphs.project import Project

    text = Project(g).to_json()
    loaded = loads_project(text)
    assert loaded.graph.snapshot() == g.snapshot()
    assert project_from_dict(json.loads(text)).graph.edges() == g.edges()
