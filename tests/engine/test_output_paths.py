"""No writing command overwrites its own inputs: the shared guard, staged writing, and a fuzz over the
output paths of every writing command (export, import-onnx, import-torch, launch-script)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import main
from engine.errors import UserError
from engine.output_paths import StagedOutputs, check_outputs, same_file
from tests.reliability.tally import examples

# ---- the guard ---------------------------------------------------------------------------------------


def test_same_file_sees_through_spellings_symlinks_and_hard_links(tmp_path):
    (tmp_path / "a").write_text("a")
    (tmp_path / "link").symlink_to("a")
    (tmp_path / "hard").hardlink_to(tmp_path / "a")
    (tmp_path / "sub").mkdir()
    for other in ("link", "hard", "sub/../a", "./a"):
        assert same_file(tmp_path / other, tmp_path / "a"), other
    assert same_file(tmp_path / "new", tmp_path / "sub/../new")  # neither exists yet
    assert not same_file(tmp_path / "a", tmp_path / "new") and not same_file(tmp_path / "sub", tmp_path / "a")


def test_check_outputs_names_both_paths(tmp_path):
    (tmp_path / "p.json").write_text("{}")
    with pytest.raises(UserError, match=r"the ONNX file \S+/sub/../p.json is the same file as the project \S+p.json"):
        check_outputs({"the project": tmp_path / "p.json"}, {"the ONNX file": tmp_path / "sub/../p.json"})
    (tmp_path / "out.json").hardlink_to(tmp_path / "p.json")
    with pytest.raises(UserError, match="is the same file as the project"):
        check_outputs({"the project": tmp_path / "p.json"}, {"the ONNX file": tmp_path / "out.json"})
    with pytest.raises(UserError, match="the code .*x.py and its weights .*x.py are the same file"):
        check_outputs({}, {"the code": tmp_path / "x.py", "its weights": tmp_path / "x.py"})
    with pytest.raises(UserError, match="is a folder"):
        check_outputs({}, {"the code": tmp_path})
    check_outputs({"the project": tmp_path / "p.json", "no weights": None}, {"the code": tmp_path / "new.py"})


def test_staged_outputs_appear_together_or_not_at_all(tmp_path):
    (tmp_path / "old").write_text("old")
    (tmp_path / "old").chmod(0o640)
    with StagedOutputs() as staged:
        staged.temporary(tmp_path / "new").write_text("new")
        staged.temporary(tmp_path / "old").write_text("replaced")
        assert not (tmp_path / "new").exists() and (tmp_path / "old").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "old"]
    assert (tmp_path / "old").read_text() == "replaced" and (tmp_path / "old").stat().st_mode & 0o777 == 0o640

    with pytest.raises(UserError, match=f"^{tmp_path / 'fresh'} is broken$"):  # names the file, not its temporary
        with StagedOutputs() as staged:
            staged.make_folder(tmp_path / "a" / "b")
            written = staged.temporary(tmp_path / "a" / "b" / "x")
            written.write_text("x")
            staged.temporary(tmp_path / "old").write_text("lost")
            raise UserError(f"{staged.temporary(tmp_path / 'fresh')} is broken")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "old"]  # the folders it made went too
    assert (tmp_path / "old").read_text() == "replaced"


def test_staging_writes_through_a_symlink_and_refuses_a_missing_folder(tmp_path):
    (tmp_path / "target").write_text("old")
    (tmp_path / "link").symlink_to("target")
    with StagedOutputs() as staged:
        staged.temporary(tmp_path / "link").write_text("new")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "target").read_text() == "new"
    with pytest.raises(UserError, match="the folder .*missing does not exist"):
        with StagedOutputs() as staged:
            staged.temporary(tmp_path / "missing" / "x")


# ---- every writing command, fuzzed ------------------------------------------------------------------
TINY_MODULE = """from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x)
"""
PROJECT = {"format": "neurocanvas", "version": 1, "name": "tiny",
           "nodes": [{"id": "x", "type": "Input", "params": {"shape": [3]}},
                     {"id": "fc", "type": "Linear", "params": {"out_features": 2}}],
           "edges": [{"source": "x", "target": "fc"}],
           "training": {"dataset": {"name": "csv", "path": "d/p.json"}, "device": "cpu"}}
# what each name in the sandbox is: links count as the file they point to; any other name is a new file
SAME = {"p.json": "project", "link.json": "project", "hard.json": "project", "w.safetensors": "weights",
        "wlink.safetensors": "weights", "m.onnx": "model", "tiny.py": "module", "d/p.json": "data",
        "dlink/p.json": "data", "./p.json": "project"}
NAMES = [*SAME, "new.json", "new.onnx", "new.py", "new.safetensors", "p.safetensors", "w.py", "m.json", "x",
         "missing/new.json", "d"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, bytes]:
    """The sandbox's files: a project whose model is the module Tiny, weights that fit both, its ONNX export."""
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "p.json").write_text(json.dumps(PROJECT))
    assert main.main(["export", str(folder / "p.json"), "--safetensors", str(folder / "w.safetensors")]) == 0
    assert main.main(["export", str(folder / "p.json"), "--weights", str(folder / "w.safetensors"),
                      "--onnx", str(folder / "m.onnx")]) == 0
    return {"p.json": (folder / "p.json").read_bytes(), "w.safetensors": (folder / "w.safetensors").read_bytes(),
            "m.onnx": (folder / "m.onnx").read_bytes(), "tiny.py": TINY_MODULE.encode(), "d/p.json": b"a,b\n1,2\n"}


def sandbox(folder: Path, inputs: dict[str, bytes]) -> None:
    for name, data in inputs.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "link.json").symlink_to("p.json")
    (folder / "hard.json").hardlink_to(folder / "p.json")
    (folder / "wlink.safetensors").symlink_to("w.safetensors")
    (folder / "dlink").symlink_to("d")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


def identity(name: str) -> str:
    return SAME.get(name, os.path.normpath(name.replace("dlink/", "d/")))


def sibling(name: str, suffix: str = ".safetensors") -> str:
    return str(Path(name).with_suffix(suffix))


def expected_exit(reads: set[str], writes: list[str], refused: bool = False) -> int:
    """2 when an output is an input or two outputs are one file (or for another reason the command refuses)."""
    kinds = [identity(name) for name in writes]
    clash = any(kind in reads for kind in kinds) or len(set(kinds)) < len(kinds)
    return 2 if clash or refused else 0


def export_case(draw):
    target = draw(st.sampled_from(["--onnx", "--python", "--safetensors"]))
    out = draw(st.sampled_from(NAMES))
    weights = draw(st.sampled_from([None, "w.safetensors", "wlink.safetensors"]))
    argv = ["export", "p.json", *(["--weights", weights] if weights else []), target, out]
    writes = [out]
    if target == "--python" and not (weights and identity(sibling(out)) == "weights"):
        writes.append(sibling(out))  # beside the code, unless it is the trained weights being exported
    reads = {"project", *(["weights"] if weights else [])}
    return argv, writes, expected_exit(reads, writes, refused=out.startswith("missing/") or out == "d")


def import_case(draw):
    command = draw(st.sampled_from(["import-onnx", "import-torch"]))
    project = draw(st.sampled_from(NAMES))
    weights_out = draw(st.none() | st.sampled_from(NAMES))
    old_flag = draw(st.booleans())
    flag = {("import-onnx", True): "--weights", ("import-torch", True): "--output-weights"}.get(
        (command, old_flag), "--weights-out")
    argv = [command, "m.onnx" if command == "import-onnx" else "tiny:Tiny", project,
            *([flag, weights_out] if weights_out else [])]
    reads = {"model"}
    if command == "import-torch":
        weights_in = draw(st.sampled_from([None, "w.safetensors"]))
        argv += ["--input-shape", "3", *(["--weights", weights_in] if weights_in else [])]
        reads = {"module", *(["weights"] if weights_in else [])}
    writes = [project, weights_out or sibling(project)]
    refused = not project.endswith(".json") or any(w.startswith("missing/") or w == "d" for w in writes)
    return argv, writes, expected_exit(reads, writes, refused)


def launch_case(draw):
    out = draw(st.sampled_from([".", "d", "dlink", "fresh", "fresh/deeper"]))
    writes = [f"{out}/launch.sh", *([] if out == "." else [f"{out}/p.json"])]  # into its own folder: no copy
    return ["launch-script", "p.json", "--out", out], writes, expected_exit({"project", "data"}, writes)


CASES = {"export": export_case, "import": import_case, "launch-script": launch_case}


@pytest.mark.parametrize("command", CASES)
def test_no_writing_command_overwrites_its_inputs_or_leaves_a_stray_file(inputs, command, capsys):
    @hypothesis_settings(max_examples=examples(12))
    @given(st.data())
    def check(data):
        argv, writes, expected = CASES[command](data.draw)
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            sandbox(root, inputs)
            before = snapshot(root)
            path, cwd = list(sys.path), os.getcwd()
            os.chdir(root)
            try:
                code = main.main(argv)
            finally:
                os.chdir(cwd)
                sys.path[:] = path
            err = capsys.readouterr().err
            assert code == expected, (argv, err)
            after = snapshot(root)
            written = {identity(name) for name in writes}
            for name, data_before in before.items():  # every file the command does not write is untouched
                if identity(name) not in written:
                    assert after.get(name) == data_before, (argv, name)
            if code == 0:
                assert {identity(name) for name in set(after) - set(before)} <= written, argv
            else:
                assert after == before, (argv, err)  # a refused or failed command leaves nothing behind
            assert not [name for name in after if name.endswith(".tmp")]

    check()
