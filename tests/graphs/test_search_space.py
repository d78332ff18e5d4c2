"""The project's search space: each bad entry refused with a message naming the target (and node)."""

from __future__ import annotations

import json

import pytest

from graphs.document import Graph
from graphs.project import DEFAULT_TRAINING, Project, loads_project
from graphs.search_space import (
    SearchSpaceError,
    apply_values,
    current_value,
    parse_search_space,
    search_space_problems,
)


@pytest.fixture
def graph():
    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, "x")
    graph.add_node("Linear", {"out_features": 8}, "fc1")
    graph.add_node("ReLU", {}, "act")
    return graph


TRAINING = {**DEFAULT_TRAINING, "schedule": {"type": "step", "step_size": 2}}


def parse(search, graph):
    return parse_search_space(search, graph, TRAINING)


def test_the_issue_example_parses(graph):
    dims = parse({"optimizer.lr": {"log_uniform": [1e-4, 1e-1]}, "nodes.fc1.out_features": {"choice": [32, 64, 128]},
                  "training.batch_size": {"choice": [32, 64]}, "training.epochs": {"int_uniform": [2, 8], "step": 2},
                  "schedule.gamma": {"uniform": [0.1, 0.9]}}, graph)
    assert [(d.target, d.kind) for d in dims] == [
        ("optimizer.lr", "log_uniform"), ("nodes.fc1.out_features", "choice"), ("training.batch_size", "choice"),
        ("training.epochs", "int_uniform"), ("schedule.gamma", "uniform")]
    assert dims[3].grid == [2, 4, 6, 8] and dims[0].grid is None


@pytest.mark.parametrize("search, node, words", [
    ({"nodes.fc9.out_features": {"choice": [1]}}, None, "there is no node 'fc9'"),
    ({"nodes.fc1.out_featurez": {"choice": [1]}}, "fc1", "Linear 'fc1' has no param 'out_featurez'"),
    ({"nodes.fc1.out_features": {"choice": []}}, "fc1", "an empty choice"),
    ({"optimizer.lr": {"log_uniform": [0, 0.1]}}, None, "a log range must stay above 0"),
    ({"optimizer.lr": {"log_uniform": [-1e-3, 0.1]}}, None, "a log range must stay above 0"),
    ({"optimizer.lr": {"uniform": [0.1, 0.01]}}, None, "empty or reversed"),
    ({"nodes.fc1.out_features": {"choice": [32, 0]}}, "fc1", "a value it can't take: param 'out_features' must be"),
    ({"nodes.fc1.out_features": {"int_uniform": [0, 10]}}, "fc1", "must be at least 1"),
    ({"nodes.fc1.bias": {"uniform": [0, 1]}}, "fc1", "can only be searched with"),
    ({"training.batch_size": {"choice": [32, 1.5]}}, None, "must be an integer"),
    ({"training.optimizer": {"choice": [1]}}, None, "can't be searched"),
    ({"weights.lr": {"choice": [1]}}, None, "not a searchable target"),
    ({"optimizer.lr": {"choice": [0.1], "uniform": [0, 1]}}, None, "exactly one of"),
    ({"optimizer.lr": [1e-3, 1e-2]}, None, "must be an object"),
    ({"optimizer.lr": {"uniform": [0.1]}}, None, "needs [low, high]"),
    ({"optimizer.lr": {"uniform": [0.0, float("nan")]}}, None, "finite number"),
    ({"training.epochs": {"int_uniform": [1, 5], "step": 0}}, None, "step must be above 0"),
    ({"optimizer.lr": {"log_uniform": [1e-3, 1e-1], "step": 0.01}}, None, "a log range takes no step"),
    ({"nodes.fc1.out_features": {"choice": [8, 8]}}, "fc1", "listed twice"),
])
def test_each_bad_entry_is_refused_with_its_target_and_node(graph, search, node, words):
    with pytest.raises(SearchSpaceError) as caught:
        parse(search, graph)
    assert words in str(caught.value)
    assert repr(next(iter(search))) in str(caught.value)
    assert caught.value.node == node


def test_problems_lists_every_bad_entry_and_keeps_the_good_ones_quiet(graph):
    problems = search_space_problems({"optimizer.lr": {"log_uniform": [0, 1]}, "training.batch_size": {"choice": [8]},
                                      "nodes.gone.units": {"choice": [1]}}, graph, TRAINING)
    assert [p.target for p in problems] == ["optimizer.lr", "nodes.gone.units"]


def test_apply_values_changes_copies_only(graph):
    training = {**TRAINING, "optimizer": {"type": "Adam", "lr": 0.001}}
    new_graph, new_training = apply_values(graph, training, {"optimizer.lr": 0.02, "nodes.fc1.out_features": 64,
                                                             "training.batch_size": 32})
    assert new_graph.node("fc1").params["out_features"] == 64 and graph.node("fc1").params["out_features"] == 8
    assert new_training["optimizer"] == {"type": "Adam", "lr": 0.02} and training["optimizer"]["lr"] == 0.001
    assert new_training["batch_size"] == 32
    assert current_value("nodes.fc1.out_features", new_graph, new_training) == 64
    assert current_value("optimizer.lr", new_graph, new_training) == 0.02


def test_search_is_saved_and_old_files_without_it_still_load(graph):
    project = Project(graph, search={"optimizer.lr": {"log_uniform": [1e-4, 0.1]}})
    again = loads_project(project.to_json())
    assert again.search == project.search
    old = project.to_dict()
    del old["search"]
    assert loads_project(json.dumps(old)).search == {}
    assert "search" not in Project(graph).to_dict()
