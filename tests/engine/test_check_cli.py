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
    assert report["errors"] == [{"node": "conv1", "port": "in",
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
