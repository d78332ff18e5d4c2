"""`python main.py check FILE` on hostile files: exit 0 or 2, never a traceback; a file that
cannot be read gives exit 2 and exactly one line on stderr.

Hypothesis drives the command in-process (fast, many files); a fixed set of the nastiest
cases (huge, endless, deep, binary, a device, a pipe, a folder) runs as real processes.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import given, note, settings

import main
from engine.shapes import infer
from graphs.errors import ProjectFormatError
from graphs.project import loads_project
from tests.reliability.guards import one_line, time_limit
from tests.reliability.hostile import hostile_files, nested_text
from tests.reliability.tally import count, examples

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads((ROOT / "resources" / "examples" / "digits_cnn.json").read_text())
PREFIX = "neurocanvas check: error: "


def strict_stream() -> io.TextIOWrapper:
    """A UTF-8 text stream that fails on unencodable text, as a pipe or a terminal does."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)


def check_in_process(path: Path) -> tuple[int, str, str]:
    out, err = strict_stream(), strict_stream()
    with redirect_stdout(out), redirect_stderr(err), time_limit(5.0, "check"):
        code = main.main(["check", str(path)])
    return code, out.buffer.getvalue().decode("utf-8"), err.buffer.getvalue().decode("utf-8")


def expected_code(raw: bytes) -> int | None:
    """0 or 2 when the file loads (valid graph or not), None when it should be refused."""
    try:
        project = loads_project(raw)
    except ProjectFormatError:
        return None
    return 0 if infer(project.graph).valid else 2


@pytest.fixture(scope="module")
def hostile_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli") / "hostile.json"


@settings(max_examples=examples(150))
@given(raw=hostile_files())
def test_check_never_shows_a_traceback(raw, hostile_path):
    note(repr(raw[:2000]))
    hostile_path.write_bytes(raw)
    code, out, err = check_in_process(hostile_path)
    expected = expected_code(raw)
    if expected is None:
        assert code == 2 and out == ""
        assert one_line(err).startswith(PREFIX + str(hostile_path))
        count("check command (in-process)", "refused: exit 2, one line")
    else:
        assert code == expected and err == ""
        count("check command (in-process)", f"loaded: exit {code}, summary printed")


def _project(**changes) -> bytes:
    data = json.loads(json.dumps(EXAMPLE))
    data.update(changes)
    return json.dumps(data).encode()


# name -> file content (bytes), or a callable that makes the path itself
REFUSED = {
    "empty": b"",
    "truncated": _project()[:100],
    "not utf-8": _project().replace(b"digits", b"digits\xff"),
    "utf-16": _project().decode().encode("utf-16"),
    "a 5000-digit number": _project().replace(b'"version": 1', b'"version": 1' + b"0" * 5000),
    "nested 100000 deep": ("[" * 100000 + "]" * 100000).encode(),
    "deep junk in gui": _project().replace(b'"name": "digits-cnn"',
                                           b'"gui": ' + nested_text(900).encode() + b', "name": "x"'),
    "newer version": _project(version=3),
    "wrong types": _project(nodes={"x": 1}),
    "duplicate ids": _project(nodes=EXAMPLE["nodes"] + EXAMPLE["nodes"][:1]),
    "edge to a missing node": _project(edges=[{"source": "x", "target": "ghost\nline"}]),
    "unknown type": _project(nodes=[{"id": "x", "type": "Conv3d" * 10000}]),
    "huge kernel": _project(nodes=[{"id": "c", "type": "Conv2d", "params": {"kernel_size": 10**30}}]),
    "a float beyond the float range": _project(nodes=[{"id": "d", "type": "Dropout", "params": {"p": 10**400}}]),
    "reserved id": _project(nodes=[{"id": "forward", "type": "ReLU"}]),
}


def _big(path: Path) -> Path:
    with open(path, "wb") as handle:  # 50 MB without holding it in memory
        handle.write(_project()[:-1] + b', "gui": {"junk": "')
        handle.truncate(50 * 1024 * 1024)
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


SPECIAL = {
    "50 MB file": _big,
    "a folder": lambda path: path.mkdir() or path,
    "a missing file": lambda path: path,
    "a named pipe with no writer": _fifo,
    "the endless device /dev/zero": lambda _path: Path("/dev/zero"),
}


def run_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "check", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", sorted(REFUSED) + sorted(SPECIAL))
def test_check_refuses_with_one_line_in_a_real_process(name, tmp_path):
    path = tmp_path / "project.json"
    if name in REFUSED:
        path.write_bytes(REFUSED[name])
    else:
        path = SPECIAL[name](path)
    done = run_check(path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    line = one_line(done.stderr)
    assert line.startswith(PREFIX) and len(line) < 400, line
    count("check command (real process)", "refused: exit 2, one line")


def test_sizes_beyond_torch_are_a_problem_on_a_node(tmp_path):
    """Each layer multiplies the size by 2**62: inference stops at the first one torch could not hold."""
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [1, 2, 2]}}]
    nodes += [{"id": f"t{i}", "type": "ConvTranspose2d", "params": {"out_channels": 1, "kernel_size": 1,
                                                                     "stride": 2 ** 62}} for i in range(300)]
    edges = [{"source": "x", "target": "t0"}] + [{"source": f"t{i}", "target": f"t{i + 1}"} for i in range(299)]
    path = tmp_path / "project.json"
    path.write_bytes(_project(nodes=nodes, edges=edges))
    done = run_check(path)
    assert done.returncode == 2 and done.stderr == ""
    assert "node 't0': ConvTranspose2d 't0' would output more than 2**63 - 1 values" in done.stdout
    count("check command (real process)", "loaded: exit 2, summary printed")


def test_an_odd_name_is_printed_escaped(tmp_path):
    """A project whose name holds a lone surrogate and a newline still prints its summary."""
    path = tmp_path / "project.json"
    path.write_bytes(_project(name="\ud800 odd\nname"))
    done = run_check(path)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("\\ud800 odd")
    count("check command (real process)", "loaded: exit 0, summary printed")

