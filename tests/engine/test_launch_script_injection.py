"""No byte of a project can become shell code in launch.sh: fuzzed names, file names and data paths.

Each generated script must pass `bash -n`, then runs in a sandbox where PATH holds no program,
PYTHON is a stub that logs its arguments, and every command bash cannot find is logged too. Only
the stub may run, once, with exactly the intended arguments, and no file may appear anywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from engine.errors import UserError
from engine.launch_script import MAIN, default_out_dir, rdzv_id_for, write_launch_script
from tests.engine.conftest import project_data
from tests.reliability.tally import examples

NUL = "\x00"
HOSTILE = ["\n", "\r", "'", '"', "$(", ")", "`", ";", "&", "|", "\\", "$", "{", "}", "*", "~", "-", " ", "#",
           "\u2028", "\x1b", "é", "\U0001f600", "!", "<", ">", "\t"]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=3)), max_size=12) \
    .map("".join).filter(lambda text: NUL not in text)
file_stem = st.lists(st.one_of(
    st.sampled_from([c for c in HOSTILE if c != "\\"]),
    st.characters(blacklist_characters="/" + NUL, blacklist_categories=("Cs",)),
    st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF),  # a byte of a name that is not UTF-8
), min_size=1, max_size=20).map("".join).filter(lambda stem: stem not in (".", ".."))
# a stand-in for python: logs its arguments (NUL-separated, after their count) and exits 0
STUB = '#!/bin/bash\nprintf "%s\\0" "$#" "$@" >> "$CALLS"\n'
NOT_FOUND = '() { printf "%s\\0" "$(( $# + 1 ))" "NOT FOUND" "$@" >> "$CALLS"; return 127; }'


def calls(log: Path) -> list[list[str]]:
    """The logged calls, each argument decoded as the system decodes file names (so equal bytes compare equal)."""
    fields = [os.fsdecode(field) for field in log.read_bytes().split(b"\0")[:-1]] if log.exists() else []
    out = []
    while fields:
        count = int(fields.pop(0))
        out.append(fields[:count])
        del fields[:count]
    return out


def expandable(path: str) -> bool:
    """Whether `~user` at the start of `path` names a user this machine knows (or there is none)."""
    try:
        Path(path).expanduser()
    except RuntimeError:
        return False
    return True


def files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def run_in_sandbox(script: Path, root: Path) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """Run `bash script` with nothing on PATH and PYTHON pointing at the logging stub."""
    stubs, sandbox = root / "stubs", root / "sandbox"
    (stubs / "empty").mkdir(parents=True)
    sandbox.mkdir()
    python = stubs / "python"
    python.write_text(STUB)
    python.chmod(0o755)
    environment = {"PATH": str(stubs / "empty"), "PYTHON": str(python), "CALLS": str(stubs / "calls"),
                   "HOME": str(sandbox), "BASH_FUNC_command_not_found_handle%%": NOT_FOUND}
    before = files_under(root)
    run = subprocess.run(["/bin/bash", str(script)], cwd=sandbox, env=environment, capture_output=True, timeout=30)
    assert files_under(root) - before <= {stubs / "calls"}, "the script created files"
    return run, calls(stubs / "calls")


@hypothesis_settings(max_examples=examples(40))
@given(name=hostile_text, stem=file_stem, suffix=st.sampled_from([".json", ""]), data=hostile_text,
       nproc=st.integers(1, 16), epochs=st.none() | st.integers(1, 99), device=st.sampled_from([None, "cpu", "cuda:1"]),
       host=st.none() | hostile_text.filter(lambda text: text.strip() and not any(c.isspace() for c in text)))
def test_no_project_text_becomes_shell_code(name, stem, suffix, data, nproc, epochs, device, host):
    assume(stem + suffix != "launch.sh")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        project = root / "in" / (stem + suffix)
        project.parent.mkdir()
        document = project_data({"name": "csv", "path": data}, classes=2)
        document["name"] = name
        project.write_text(json.dumps(document))
        endpoint = None if host is None else f"{host}:29400"
        if not expandable(data):
            with pytest.raises(UserError, match="training.dataset.path .* is not a valid file path here"):
                write_launch_script(project, None, nproc, epochs=epochs, device=device, rdzv_endpoint=endpoint)
            return
        script = write_launch_script(project, None, nproc, epochs=epochs, device=device, rdzv_endpoint=endpoint)
        out = default_out_dir(project)
        assert script == out / "launch.sh"
        assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0

        run, logged = run_in_sandbox(script, root)
        assert run.returncode == 0, run.stderr
        where = (["--standalone", "--nnodes=1"] if endpoint is None else
                 ["--nnodes=1", "--rdzv_backend=c10d", f"--rdzv_endpoint={endpoint}",
                  f"--rdzv_id={rdzv_id_for(project.name)}"])
        options = [*(["--epochs", str(epochs)] if epochs else []), *(["--device", device] if device else [])]
        expected = ["-m", "torch.distributed.run", *where, f"--nproc_per_node={nproc}", str(MAIN), "train",
                    f"{out}/{project.name}", *options]
        assert logged == [[os.fsdecode(os.fsencode(a)) for a in expected]]  # the stub, once: nothing else ran


def test_the_examples_from_the_issue_run_nothing(write_project, tmp_path):
    """A newline in the data path, and in the project file's name, used to end a comment in launch.sh."""
    for file_name in ("plain.json", "x\ntouch PWNED\n.json"):
        project = write_project({"name": "csv", "path": "x\ntouch PWNED\n.csv"}, name=file_name)
        out = tmp_path / f"launch-{len(file_name)}"
        script = write_launch_script(project.path, out)
        assert "x\\ntouch PWNED\\n.csv\n# (written as an absolute path)" in script.read_text()  # shown escaped
        run, logged = run_in_sandbox(script, tmp_path / f"run-{len(file_name)}")
        assert run.returncode == 0 and [call[:2] for call in logged] == [["-m", "torch.distributed.run"]]
        assert logged[0][-1] == f"{out}/{file_name}"
        assert not list(tmp_path.rglob("PWNED"))
