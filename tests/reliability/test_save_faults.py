"""Saving never loses work: whatever fails during a save, the previous file is intact byte for
byte, no temporary file is left, no file descriptor leaks, and the next save succeeds.

Faults are injected at every step of `atomic_write` (see `faults.py`): disk full, quota,
permission denied, read-only file system, I/O error, Ctrl+C and a crash, on creating,
opening, writing, flushing, syncing, closing and renaming. Real failures (a read-only
folder, a folder in the way, a missing folder) run without patching. The tests run as
root in CI, where chmod does not stop writes: the read-only folder is then simulated by
making the temporary file's creation fail with EACCES, and the test says so.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.errors import ProjectFormatError
from graphs.project import Project, load_project, loads_project, save_project
from tests.reliability.faults import ERRORS, STEPS, inject, open_descriptors
from tests.reliability.strategies import graphs
from tests.reliability.tally import count, examples

ROOT = Path(__file__).resolve().parents[2]
OLD = (ROOT / "resources" / "examples" / "digits_cnn.json").read_bytes()  # the file on disk before the save


def new_project() -> Project:
    project = loads_project((ROOT / "resources" / "examples" / "iris_mlp.json").read_bytes())
    project.name = "edited"
    return project


def failed_save(folder: Path, project: Project, step: str, error) -> None:
    """Save over a file while `step` fails with `error()`; check nothing was lost or leaked."""
    path = folder / "project.json"
    path.write_bytes(OLD)
    descriptors = open_descriptors()
    expected = error()
    with pytest.MonkeyPatch.context() as patch:
        inject(patch, step, error)
        with pytest.raises(ProjectFormatError if isinstance(expected, OSError) else type(expected)) as caught:
            save_project(project, path)
    if isinstance(expected, OSError):
        assert str(caught.value) == f"{path}: cannot save: {expected.strerror}"
    assert path.read_bytes() == OLD
    assert os.listdir(folder) == ["project.json"], "a temporary file was left behind"
    assert open_descriptors() == descriptors, "a file descriptor leaked"
    assert project.path is None, "a failed save must not move the project to the new path"
    save_project(project, path)  # the disk is well again: the same save works
    assert load_project(path).to_json() == project.to_json()


@pytest.mark.parametrize("what", sorted(ERRORS))
@pytest.mark.parametrize("step", STEPS)
def test_every_fault_at_every_step_keeps_the_old_file(step, what, tmp_path):
    failed_save(tmp_path, new_project(), step, ERRORS[what])
    count("injected save faults", "old file intact, no temp file or descriptor left")


@settings(max_examples=examples(60))
@given(graph=graphs(max_layers=4), step=st.sampled_from(STEPS), what=st.sampled_from(sorted(ERRORS)))
def test_faults_while_saving_random_projects(graph, step, what):
    with tempfile.TemporaryDirectory() as folder:
        failed_save(Path(folder), Project(graph), step, ERRORS[what])
    count("injected save faults", "old file intact, no temp file or descriptor left")


def chmod_stops_writes(folder: Path) -> bool:
    try:
        (folder / "probe").touch()
    except PermissionError:
        return True
    (folder / "probe").unlink()
    return False


def test_read_only_folder(tmp_path):
    path = tmp_path / "project.json"
    path.write_bytes(OLD)
    tmp_path.chmod(0o555)
    try:
        if chmod_stops_writes(tmp_path):
            with pytest.raises(ProjectFormatError, match="Permission denied"):
                save_project(new_project(), path)
            count("real save failures", "read-only folder (chmod): refused, old file intact")
        else:  # root: chmod does not stop writes, so simulate the folder refusing the new file
            with pytest.MonkeyPatch.context() as patch, pytest.raises(ProjectFormatError, match="Permission denied"):
                inject(patch, "create", ERRORS["permission denied (EACCES)"])
                save_project(new_project(), path)
            count("real save failures", "read-only folder (simulated as root: EACCES on create)")
    finally:
        tmp_path.chmod(0o755)
    assert path.read_bytes() == OLD and os.listdir(tmp_path) == ["project.json"]


def test_a_folder_in_the_way_or_missing(tmp_path):
    (tmp_path / "taken.json").mkdir()
    (tmp_path / "taken.json" / "inside").write_bytes(OLD)
    for path in (tmp_path / "taken.json", tmp_path / "missing" / "project.json"):
        with pytest.raises(ProjectFormatError, match="cannot save"):
            save_project(new_project(), path)
        count("real save failures", "folder in the way or missing: refused, nothing touched")
    assert sorted(os.listdir(tmp_path)) == ["taken.json"]
    assert (tmp_path / "taken.json" / "inside").read_bytes() == OLD


def test_saving_keeps_the_file_mode(tmp_path):
    path = tmp_path / "project.json"
    path.write_bytes(OLD)
    path.chmod(0o644)
    save_project(new_project(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_new_file_gets_the_usual_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        save_project(new_project(), tmp_path / "new.json")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644


def test_saving_through_a_symlink_updates_the_file_it_points_to(tmp_path):
    real = tmp_path / "real.json"
    real.write_bytes(OLD)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    project = new_project()
    save_project(project, link)
    assert link.is_symlink()
    assert json.loads(real.read_bytes())["name"] == "edited"
    assert sorted(os.listdir(tmp_path)) == ["link.json", "real.json"]


def test_the_longest_file_name_saves(tmp_path):
    longest = os.pathconf(tmp_path, "PC_NAME_MAX")
    path = tmp_path / ("p" * (longest - len(".json")) + ".json")
    save_project(new_project(), path)  # the temporary file's name must fit too
    assert load_project(path).name == "edited"
    assert os.listdir(tmp_path) == [path.name]
