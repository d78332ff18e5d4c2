"""`train --out DIR` over existing work: a run never writes over a file it did not create.

Hypothesis picks where `--out` points in a folder that holds the project, a data file, an
earlier run and an empty folder (the project's own folder, the project file, the earlier run
or a file in it, a link to it, new nested folders, a folder under a file, ...), and how many times the same `--out`
is given. Every file that existed before must be unchanged afterwards; a run may only go into
a folder that was missing or empty, and any other is refused with exit 2 and a message.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import main
from tests.reliability.tally import count, examples
from tests.reliability.training import moons

RUN_FILES = {"project.json", "metrics.csv", "best.safetensors", "last.safetensors", "weights.safetensors", "run.json",
             "tensorboard", "report.json"}
REFUSAL = "a run never writes over files it did not create"

# --out as given on the command line, run from the project's folder
TARGETS = [".", "./", "project.json", "notes.txt", "empty", "earlier", "earlier/", "earlier/metrics.csv",
           "link-to-earlier", "sub", "sub/deeper", "new", "new/nested/run", "empty/../earlier", "{root}",
           "{root}/new-absolute", "project.json/run"]


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory) -> Path:
    """A finished run of the moons project, to copy in as someone's earlier work."""
    folder = tmp_path_factory.mktemp("earlier")
    project = moons(folder)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main.main(["train", str(project.path), "--epochs", "1", "--out", str(folder / "run"),
                          "--quiet"]) == 0
    return folder / "run"


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (links not followed) and its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def layout(root: Path, earlier_run: Path) -> None:
    moons(root)
    (root / "notes.txt").write_text("my notes\n")
    (root / "empty").mkdir()
    (root / "sub").mkdir()
    (root / "sub" / "keep.txt").write_text("keep me\n")
    shutil.copytree(earlier_run, root / "earlier")
    (root / "link-to-earlier").symlink_to(root / "earlier", target_is_directory=True)


def train(root: Path, out: str) -> tuple[int, str]:
    """`train project.json --out OUT` run in `root`: (exit status, stderr)."""
    err = io.StringIO()
    with contextlib.chdir(root), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main.main(["train", "project.json", "--epochs", "1", "--out", out, "--threads", "1"])
    return code, err.getvalue()


@settings(max_examples=examples(12), deadline=None)
@given(target=st.sampled_from(TARGETS), times=st.integers(1, 2))
def out_over_existing_work(earlier_run: Path, target: str, times: int):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        layout(root, earlier_run)
        out = target.format(root=root)
        destination = root / out
        was_free = (not destination.exists() or (destination.is_dir() and not any(destination.iterdir()))) and \
            not any(parent.is_file() for parent in destination.parents)  # not under a file
        before = snapshot(root)
        codes = []
        for _ in range(times):
            code, err = train(root, out)
            note(f"--out {out!r}: exit {code}, {err!r}")
            codes.append(code)
            assert code in (0, 2) and "Traceback" not in err
            if code == 2:
                assert REFUSAL in err or "it is a file" in err or "cannot create the run folder" in err, err
        after = snapshot(root)
        assert {name: after.get(name) for name in before} == before, "a file that existed before changed"
        assert codes[0] == (0 if was_free else 2)
        if times == 2:
            assert codes[1] == 2  # the second run finds the first one's files
        if was_free:
            assert {p.name for p in destination.iterdir()} == RUN_FILES
    count("train --out over existing work", "no earlier file changed" + (" (run written)" if was_free else
                                                                       " (refused)"))


def test_train_out_never_writes_over_existing_files(earlier_run):
    out_over_existing_work(earlier_run)


def test_out_beside_the_project_is_refused_with_a_free_name(earlier_run, tmp_path):
    """The issue's case: `train project.json --out .` used to replace project.json with the run's copy."""
    layout(tmp_path, earlier_run)
    before = (tmp_path / "project.json").read_bytes()
    code, err = train(tmp_path, ".")
    assert code == 2 and (tmp_path / "project.json").read_bytes() == before
    assert err == ("neurocanvas train: error: '.' already holds files ('earlier', 'empty', 'link-to-earlier', "
                   "'notes.txt' and 2 more), and a run never writes over files it did not create; choose a new "
                   "or empty folder, e.g. 'run'\n")
    code, err = train(tmp_path, "earlier")
    assert code == 2 and "'earlier' already holds an earlier run (" in err and "e.g. 'earlier-2'" in err
