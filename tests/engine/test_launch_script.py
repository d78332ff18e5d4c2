"""The launch script for distributed training: its contents, the project copy, the command it runs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import main
from engine.data import SOURCES
from engine.data_paths import FILE_SOURCES, make_data_path_absolute
from engine.errors import UserError
from engine.launch_script import default_out_dir, write_launch_script
from graphs.project import load_project
from tests.engine.conftest import project_data

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def csv_project(write_project, tmp_path):
    (tmp_path / "data.csv").write_text("age,label\n1,a\n2,b\n3,a\n4,b\n")
    return write_project({"name": "csv", "path": "data.csv"}, name="my project.json")


def fake_torchrun(folder):
    """A stand-in for torchrun that prints the arguments it was given, one a line."""
    path = folder / "torchrun"
    path.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    path.chmod(0o755)
    return path


def launch(script, tmp_path, *args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in ("NNODES", "RDZV_ENDPOINT", "NODE_RANK")}
    environment.update(TORCHRUN=str(fake_torchrun(tmp_path)), **env)
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, env=environment, timeout=60)


def test_writes_an_executable_script_and_the_project_beside_it(csv_project, tmp_path):
    script = write_launch_script(csv_project.path, tmp_path / "launch", nproc_per_node=4, nnodes=2,
                                 rdzv_endpoint="node01:29400", epochs=7)
    assert script == tmp_path / "launch" / "launch.sh"
    assert script.stat().st_mode & stat.S_IXUSR
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    for words in ("--nnodes", "--node_rank", "--rdzv_backend=c10d", "--rdzv_endpoint", "--rdzv_id",
                  "NPROC_PER_NODE=4; fi", "NNODES=2; fi", "node01:29400"):
        assert words in text
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    copy = load_project(tmp_path / "launch" / "my project.json")
    assert copy.to_dict()["nodes"] == csv_project.to_dict()["nodes"]
    data = str((tmp_path / "data.csv").resolve())
    assert copy.training["dataset"]["path"] == data and f"the project reads {data}" in text
    assert load_project(csv_project.path).training["dataset"]["path"] == "data.csv"  # the original is untouched


def test_one_node_runs_standalone(csv_project, tmp_path):
    script = write_launch_script(csv_project.path, tmp_path / "launch", nproc_per_node=2, epochs=3, device="cpu")
    run = launch(script, tmp_path, "--out", "runs/a b")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "--standalone", "--nnodes=1", "--nproc_per_node=2", str(main.__file__), "train",
        str(tmp_path / "launch" / "my project.json"), "--epochs", "3", "--device", "cpu", "--out", "runs/a b"]


def test_several_nodes_meet_at_the_rendezvous(csv_project, tmp_path):
    script = write_launch_script(csv_project.path, tmp_path / "launch", nproc_per_node=8)
    run = launch(script, tmp_path, NNODES="2", RDZV_ENDPOINT="10.0.0.1:29400", NODE_RANK="1", RDZV_ID="job7")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[:6] == ["--nnodes=2", "--rdzv_backend=c10d", "--rdzv_endpoint=10.0.0.1:29400",
                                           "--rdzv_id=job7", "--node_rank=1", "--nproc_per_node=8"]
    missing = launch(script, tmp_path, NNODES="2")
    assert missing.returncode == 2 and "set RDZV_ENDPOINT=HOST:PORT" in missing.stderr


def test_writing_into_the_project_folder_keeps_the_project(csv_project, tmp_path):
    before = csv_project.path.read_bytes()
    write_launch_script(csv_project.path, tmp_path)
    assert csv_project.path.read_bytes() == before and (tmp_path / "launch.sh").exists()


@pytest.mark.parametrize("options, message", [
    ({"nproc_per_node": 0}, "nproc_per_node must be"), ({"nnodes": 1.5}, "nnodes must be"),
    ({"rdzv_endpoint": "node01"}, "HOST:PORT"), ({"epochs": 0}, "epochs must be"),
])
def test_bad_values_are_refused(csv_project, tmp_path, options, message):
    with pytest.raises(UserError, match=message):
        write_launch_script(csv_project.path, tmp_path / "launch", **options)


def test_an_unreadable_project_is_a_user_error(tmp_path):
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(UserError, match="broken.json"):
        write_launch_script(tmp_path / "broken.json", tmp_path / "launch")


def test_the_command_line(moons_project, tmp_path, capsys):
    code = main.main(["launch-script", str(moons_project.path), "--nproc-per-node", "2"])
    out = capsys.readouterr().out
    script = default_out_dir(moons_project.path) / "launch.sh"
    assert code == 0 and script.exists() and f"bash {script}" in out
    assert main.main(["launch-script", str(tmp_path / "missing.json")]) == 2
    assert "launch-script: error:" in capsys.readouterr().err


def test_file_sources_are_the_data_sources_that_read_a_path(tmp_path):
    assert set(FILE_SOURCES) == {name for name, accepted in SOURCES.items() if "path" in accepted}
    dataset = {"name": "csv", "path": "data/x.csv"}
    assert make_data_path_absolute(dataset, tmp_path) == str((tmp_path / "data" / "x.csv").resolve()) == dataset["path"]
    assert make_data_path_absolute({"name": "digits"}, tmp_path) is None


def test_the_launch_module_does_not_import_torch():
    code = "import sys, engine.launch_script, engine.cli.launch_script; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT).stdout.strip() == "False"


@pytest.mark.parametrize("device, training_device, message", [
    ("tpu", "cpu", "--device 'tpu' is not a device distributed training can use; use 'auto', 'cpu', 'cuda' or 'cuda:N'"),
    ("mps", "cpu", "--device is 'mps': distributed training runs on CUDA GPUs or the CPU"),
    (None, "tpu", "the project's training.device 'tpu' is not a device distributed training can use"),
    (None, "mps", "the project's training.device is 'mps'"),
])
def test_a_device_the_trainer_would_refuse_is_refused_before_writing(write_project, tmp_path, capsys, device,
                                                                     training_device, message):
    project = write_project({"name": "moons"}, device=training_device)
    argv = ["launch-script", str(project.path), "--out", str(tmp_path / "launch")]
    assert main.main(argv + (["--device", device] if device else [])) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "launch").exists()


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:3", " CUDA "])
def test_devices_a_distributed_run_takes(moons_project, tmp_path, device):
    write_launch_script(moons_project.path, tmp_path / "launch", device=device)


def test_torchrun_runs_in_the_interpreter_that_wrote_the_script(csv_project, tmp_path):
    script = write_launch_script(csv_project.path, tmp_path / "launch")
    assert f"PYTHON={os.path.abspath(sys.executable)}; fi" in script.read_text()  # not resolved: a venv stays a venv
    python = tmp_path / "python"
    python.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    python.chmod(0o755)
    environment = {k: v for k, v in os.environ.items() if k not in ("TORCHRUN", "NNODES", "RDZV_ENDPOINT")}
    run = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60,
                         env={**environment, "PYTHON": str(python)})
    assert run.stdout.splitlines()[:3] == ["-m", "torch.distributed.run", "--standalone"], run.stderr


def test_the_script_runs_from_a_folder_whose_name_ends_in_a_line_break(csv_project, tmp_path):
    script = write_launch_script(csv_project.path, tmp_path / "odd\n")
    run = launch(script, tmp_path)
    assert run.returncode == 0 and run.stdout.endswith(f"\ntrain\n{tmp_path}/odd\n/my project.json\n")


def test_outputs_that_are_inputs_are_refused(write_project, tmp_path):
    project = write_project({"name": "csv", "path": "launch/data.csv"}, name="launch.sh")
    before = project.path.read_bytes()
    with pytest.raises(UserError, match="the launch script .*launch.sh is the same file as the project"):
        write_launch_script(project.path, tmp_path)
    other = write_project({"name": "csv", "path": "launch/data.csv"}, name="data.csv")
    (tmp_path / "launch").mkdir()
    (tmp_path / "launch" / "data.csv").write_text("x,y\n")
    with pytest.raises(UserError, match="the project's copy .*data.csv is the same file as its data file"):
        write_launch_script(other.path, tmp_path / "launch")
    assert project.path.read_bytes() == before and (tmp_path / "launch" / "data.csv").read_text() == "x,y\n"


def test_a_failed_write_leaves_no_folder_or_file_behind(csv_project, tmp_path, monkeypatch):
    import engine.launch_script

    def full_disk(project, path):
        raise engine.launch_script.ProjectFormatError("cannot save: No space left on device", str(path))

    monkeypatch.setattr(engine.launch_script, "save_project", full_disk)
    with pytest.raises(UserError, match="No space left"):
        write_launch_script(csv_project.path, tmp_path / "new" / "launch")
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(UserError):
        write_launch_script(csv_project.path, tmp_path / "kept")
    assert list((tmp_path / "kept").iterdir()) == []  # the folder it did not create stays


def test_a_data_path_that_cannot_be_made_absolute_is_a_user_error(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({**project_data({"name": "csv", "path": "a\u0000b.csv"})}))
    with pytest.raises(UserError, match=r"training.dataset.path 'a\\x00b.csv' is not a valid file path here"):
        write_launch_script(tmp_path / "p.json", tmp_path / "launch")
    (tmp_path / "p.json").write_text(json.dumps({**project_data({"name": "csv", "path": "~no such user\n/x.csv"})}))
    with pytest.raises(UserError, match="is not a valid file path here"):
        write_launch_script(tmp_path / "p.json", tmp_path / "launch")
    assert not (tmp_path / "launch").exists()


def test_the_command_line_prints_a_file_name_escaped(write_project, capsys):
    project = write_project({"name": "moons"}, name="red\x1b[31m name\n.json")
    assert main.main(["launch-script", str(project.path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and out.count("\n") == 2
    assert "red\\x1b[31m name\\n-launch/launch.sh'" in out  # shell-quoted, then escaped
