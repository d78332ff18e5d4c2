"""Models too large for memory: refused from the inferred parameter counts, before anything is allocated,
with the size and the layer named (not "the graph is not valid")."""

import json

import pytest

import engine.memory_budget
import main
from engine.compiler import compile_graph
from engine.memory_budget import TooLarge, gigabytes
from graphs import Graph
from graphs.project import Project, save_project
from tests.address_space import address_space_limit


def wide_linear(features: int, out_features: int) -> Graph:
    graph = Graph()
    graph.add_node("Input", {"shape": [features]}, "x")
    graph.add_node("Linear", {"out_features": out_features}, "fc")
    graph.connect("x", "fc")
    return graph


@pytest.fixture
def eight_gigabytes(monkeypatch):
    """A computer with 8 GB available, whatever this one has."""
    monkeypatch.setattr(engine.memory_budget, "available_bytes", lambda: 8 * 10**9)


def test_gigabytes_are_written_with_one_decimal():
    assert gigabytes(17.18e9) == "17.2 GB" and gigabytes(1.2e6) == "0.0012 GB"


def test_a_4_billion_parameter_linear_is_refused_before_allocating(eight_gigabytes):
    graph = wide_linear(65536, 65536)  # 4.3e9 weights: 17.2 GB of float32
    with address_space_limit(), pytest.raises(TooLarge) as refusal:  # an attempt would fail otherwise
        compile_graph(graph)
    message = str(refusal.value)
    assert message.startswith("Linear 'fc' needs 17.2 GB for its 4,295,032,832 parameters; "
                              "this computer has 8.0 GB of memory available.")
    assert "not valid" not in message


def test_an_allocation_that_fails_anyway_is_worded_as_out_of_memory(monkeypatch):
    monkeypatch.setattr(engine.memory_budget, "available_bytes", lambda: None)  # size unknown: no pre-check
    with address_space_limit(), pytest.raises(TooLarge, match=r"^Linear 'fc' needs 17\.2 GB for its "
                                                              r"4,295,032,832 parameters; there is not that "
                                                              r"much memory free\. "):
        compile_graph(wide_linear(65536, 65536))


@pytest.mark.parametrize("command", [["train"], ["export", "--onnx", "out.onnx"]])
def test_train_and_export_exit_2_with_the_size(command, tmp_path, monkeypatch, capsys, eight_gigabytes):
    project = tmp_path / "wide.json"
    save_project(Project(graph=wide_linear(65536, 65536), name="wide"), project)
    monkeypatch.chdir(tmp_path)
    argv = [command[0], str(project), *command[1:]]
    assert main.main(argv) == 2
    err = capsys.readouterr().err
    assert "Linear 'fc' needs 17.2 GB" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.json"]


def test_check_refuses_the_same_model_on_its_largest_layer(tmp_path, capsys, eight_gigabytes):
    project = tmp_path / "wide.json"
    save_project(Project(graph=wide_linear(65536, 65536), name="wide"), project)
    assert main.main(["check", str(project), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert not report["valid"] and [e["node"] for e in report["errors"]] == ["fc"]
    assert report["errors"][0]["message"].startswith("Linear 'fc' needs 17.2 GB")
    assert report["nodes"]["fc"]["params"] == 65536 * 65536 + 65536  # the summary is still there


def test_check_passes_a_model_that_fits(tmp_path, capsys, eight_gigabytes):
    project = tmp_path / "narrow.json"
    save_project(Project(graph=wide_linear(64, 10), name="narrow"), project)
    assert main.main(["check", str(project)]) == 0
