"""`check PROJECT [--json]`: exit codes, the JSON contract and the table."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_is_valid(path, capsys):
    assert main.main(["check", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True and report["errors"] == []
    assert set(report) == {"valid", "errors", "nodes", "total_params"}
    assert report["total_params"] == sum(n["params"] for n in report["nodes"].values()) > 0


def test_json_of_the_digits_cnn(capsys):
    main.main(["check", str(ROOT / "resources/examples/digits_cnn.json"), "--json"])
    nodes = json.loads(capsys.readouterr().out)["nodes"]
    assert nodes["conv1"] == {"type": "Conv2d", "output_shapes": {"out": [16, 8, 8]}, "params": 160, "macs": 9216}
    assert nodes["fc"]["output_shapes"] == {"out": [10]}
    assert nodes["fc"]["params"] == 1024 * 10 + 10


def bad_project(tmp_path, **change):
    data = json.loads((ROOT / "resources/examples/digits_cnn.json").read_text())
    data.update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path


def test_shape_error_names_the_node(tmp_path, capsys):
    data = json.loads((ROOT / "resources/examples/digits_cnn.json").read_text())
    data["edges"] = [e for e in data["edges"] if e["target"] != "flat" and e["source"] != "act1"]
    data["edges"] += [{"source": "act1", "target": "flat"}]
    data["nodes"][0]["params"]["shape"] = [64]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert main.main(["check", str(path), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert [{k: v for k, v in e.items() if k != "fixes"} for e in report["errors"]] == [{"node": "conv1", "port": "in",
                                 "message": "Conv2d 'conv1' expects input [C, H, W], got [64]; remove the Flatten "
                                            "before it, or use Linear"}]
    assert report["nodes"]["conv1"]["output_shapes"] == {}


def test_structural_error_in_text_mode(tmp_path, capsys):
    data = json.loads((ROOT / "resources/examples/digits_cnn.json").read_text())
    data["edges"] = [e for e in data["edges"] if e.get("target_port") != "target"]
    path = tmp_path / "open.json"
    path.write_text(json.dumps(data))
    assert main.main(["check", str(path)]) == 2
    out = capsys.readouterr().out
    assert "node 'loss': CrossEntropyLoss 'loss' has no target (a Target node)" in out
    assert "conv1" in out and "[16, 8, 8]" in out


def test_unreadable_file_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "neurocanvas", "version": 1,\n  "nodes": [oops]}')
    assert main.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 2, column" in err and "broken.json" in err


def test_missing_file_and_no_traceback_in_a_real_process(tmp_path):
    run = subprocess.run([sys.executable, "main.py", "check", str(tmp_path / "nope.json")], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "cannot read the file" in run.stderr


def test_table_mode_shows_totals(capsys):
    assert main.main(["check", str(ROOT / "resources/examples/residual_cnn.json")]) == 0
    out = capsys.readouterr().out
    assert "total" in out and "24,138" in out and out.strip().endswith("valid")


def test_json_of_an_unreadable_file_is_one_object(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "neurocanvas",\n  "nodes": [oops]}')
    assert main.main(["check", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    report = json.loads(out)  # one object and nothing else
    assert report == {"valid": False, "errors": [{"node": None, "port": None, "message": err.split("error: ", 1)[1]
                                                  .rstrip("\n"), "fixes": []}], "nodes": {}, "total_params": 0}
    assert "line 2, column" in report["errors"][0]["message"]
    assert main.main(["check", str(tmp_path / "missing.json"), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["valid"] is False


# ---- shapes left to the data: check and train agree -------------------------------------------

def check_and_train(project_path, tmp_path, capsys) -> tuple[int, dict, int, str]:
    """(check's exit, its JSON, train's exit, train's stderr) for the same project file."""
    check_code = main.main(["check", str(project_path), "--json"])
    report = json.loads(capsys.readouterr().out)
    train_code = main.main(["train", str(project_path), "--epochs", "1", "--out", str(tmp_path / "run"), "--quiet",
                            "--threads", "1"])
    return check_code, report, train_code, capsys.readouterr().err


@pytest.mark.parametrize("dataset, target_shape", [({"name": "moons"}, []), ({"name": "sine"}, [1])])
def test_a_node_without_a_shape_takes_the_datasets_in_check_as_in_train(write_project, tmp_path, capsys, dataset,
                                                                       target_shape):
    options = {"classes": None, "loss": "MSELoss"} if dataset["name"] == "sine" else {}
    project = write_project(dataset, **options)  # Input and Target leave their shapes out
    check_code, report, train_code, err = check_and_train(project.path, tmp_path, capsys)
    assert (check_code, train_code, err) == (0, 0, "")
    trained = json.loads((tmp_path / "run" / "project.json").read_text())
    shapes = {n["id"]: n["params"]["shape"] for n in trained["nodes"] if n["type"] in ("Input", "Target")}
    assert shapes == {"x": [2] if dataset["name"] == "moons" else [1], "y": target_shape}
    assert {node: report["nodes"][node]["output_shapes"]["out"] for node in shapes} == shapes
    main.main(["check", str(project.path)])
    assert f"shapes of 'x', 'y' from dataset '{dataset['name']}'" in capsys.readouterr().out


def test_data_that_cannot_be_loaded_fails_check_and_train_alike(write_project, tmp_path, capsys):
    project = write_project({"name": "csv", "path": "gone.csv"})
    check_code, report, train_code, err = check_and_train(project.path, tmp_path, capsys)
    assert (check_code, train_code) == (2, 2) and "data file 'gone.csv' not found" in err
    assert [(e["node"], e["port"]) for e in report["errors"]] == [("x", None), ("y", None)]
    assert report["errors"][1]["message"].startswith("Target 'y' takes its shape from dataset 'csv', which can't "
                                                     "be loaded: data file 'gone.csv' not found")


def test_shapes_from_the_default_dataset_give_the_same_error_in_check_and_train(write_project, tmp_path, capsys):
    """Without a dataset a project trains on the default (digits): an MLP made for moons then fails on the
    loss node, and check says so exactly as train does."""
    project = write_project({"name": "moons"})
    data = json.loads(project.path.read_text())
    del data["training"]["dataset"]
    project.path.write_text(json.dumps(data))
    check_code, report, train_code, err = check_and_train(project.path, tmp_path, capsys)
    assert (check_code, train_code) == (2, 2)
    [error] = report["errors"]
    assert error["node"] == "loss" and "target of class indices must have shape" in error["message"]
    assert err == f"neurocanvas train: error: the graph is not valid: node 'loss': {error['message']}\n"


def test_check_loads_no_data_when_every_shape_is_given():
    """check stays quick: neither torch nor scikit-learn is imported for a project with all its shapes."""
    code = ("import sys, main; code = main.main(['check', 'resources/examples/digits_cnn.json', '--json']); "
            "print(code, 'torch' in sys.modules, 'sklearn' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.stdout.splitlines()[-1] == "0 False False", run.stderr


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(tmp_path):
    from graphs import Graph
    from graphs.project import Project, save_project

    graph = Graph()
    graph.add_node("Input", {"shape": [8]}, "x")
    previous = "x"
    for i in range(3000):  # a summary far larger than a pipe's buffer
        graph.add_node("ReLU", {}, f"relu{i}")
        graph.connect(previous, f"relu{i}")
        previous = f"relu{i}"
    project = tmp_path / "long.json"
    save_project(Project(graph=graph, name="long"), project)
    writer = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "check", str(project)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    writer.stdout.read(10)
    writer.stdout.close()  # like `| head -c 10`
    stderr = writer.stderr.read().decode()
    assert writer.wait(timeout=120) == 141
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
