"""Files that are large, endless or deep: refused cheaply, or loaded and checked without a hang.

A 50 MB file is refused after reading almost none of it; a device, a named pipe or a socket
is refused without blocking, as a project file, as a data file and as an image in a folder; a big graph (a chain thousands of nodes long, closed into a
cycle, with a port fed twice) loads, validates and infers within a generous hang guard;
free-form sections nest at most `MAX_DEPTH` levels, so whatever loads can be saved.
"""

from __future__ import annotations

import json
import os
import socket
import tracemalloc
from pathlib import Path

import pytest

from engine.data import load_dataset
from engine.data.options import open_file
from engine.errors import UserError
from engine.shapes import infer
from graphs.errors import ProjectFormatError
from graphs.files import NotRegularFileError, open_regular
from graphs.project import MAX_DEPTH, MAX_FILE_BYTES, load_project, loads_project
from graphs.validate import validate
from tests.reliability.datafiles import write_image_folder
from tests.reliability.guards import time_limit
from tests.reliability.hostile import nested_text
from tests.reliability.tally import FUZZ, count, rounds


def project_text(nodes: list, edges: list, **extra) -> str:
    return json.dumps({"format": "neurocanvas", "version": 1, "nodes": nodes, "edges": edges, **extra})


def test_a_50_mb_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(ProjectFormatError, match="52 MB; a project file may be at most 20 MB"):
            load_project(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024
    count("large and special files", "refused cheaply")


def test_one_byte_over_the_limit_is_refused(tmp_path):
    path = tmp_path / "over.json"
    path.write_bytes(b" " * MAX_FILE_BYTES + b"{")
    with pytest.raises(ProjectFormatError, match="a project file may be at most 20 MB"):
        load_project(path)
    count("large and special files", "refused cheaply")


@pytest.mark.parametrize("make", ["device", "pipe", "folder"])
def test_what_is_not_a_regular_file_is_refused_without_blocking(make, tmp_path):
    path = tmp_path / "special"
    if make == "device":
        path = "/dev/zero"
    elif make == "pipe":
        os.mkfifo(path)
    else:
        path.mkdir()
    with time_limit(5.0, f"opening a {make}"), pytest.raises(ProjectFormatError, match="not a regular file"):
        load_project(path)
    count("large and special files", "refused cheaply")


def test_a_big_graph_with_a_cycle_loads_and_checks_without_a_hang():
    size = rounds(3000, 150_000)  # the fuzz size is about as much as fits in MAX_FILE_BYTES
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [4]}}]
    nodes += [{"id": f"r{i}", "type": "ReLU"} for i in range(size)]
    edges = [{"source": "x", "target": "r0"}] + [{"source": f"r{i}", "target": f"r{i + 1}"} for i in range(size - 1)]
    edges.append({"source": f"r{size - 1}", "target": "r0"})  # a cycle, and r0's input fed twice
    with time_limit(600.0 if FUZZ else 60.0, f"loading and checking {size} nodes"):
        project = loads_project(project_text(nodes, edges).encode())
        errors = validate(project.graph)
        result = infer(project.graph)
    kinds = {type(e).__name__ for e in errors}
    assert kinds == {"CycleError", "PortAlreadyConnectedError"}, kinds
    assert [e.node for e in result.errors] == [e.node for e in errors]
    count("large and special files", f"a {size}-node graph with a cycle: loaded, errors reported")


def test_a_gui_section_of_nearly_20_mb_loads_and_saves_again():
    text = project_text([], [], gui={"notes": "n" * (MAX_FILE_BYTES - 200)})
    project = loads_project(text.encode())
    assert loads_project(project.to_json()).gui == project.gui
    count("large and special files", "a 20 MB section: loaded and saved again")


@pytest.mark.parametrize("section", ["training", "gui"])
def test_free_form_sections_nest_at_most_max_depth(section):
    deep_enough = project_text([], [], **{section: {"k": json.loads(nested_text(MAX_DEPTH - 1))}})
    project = loads_project(deep_enough)
    assert loads_project(project.to_json()).to_json() == project.to_json()
    for depth in (MAX_DEPTH, 900):  # 900: parses, but could never be saved again
        too_deep = project_text([], []).replace('"edges": []', f'"edges": [], "{section}": {{"k": {nested_text(depth)}}}')
        with pytest.raises(ProjectFormatError, match=f"{section}: nested more than {MAX_DEPTH} levels deep"):
            loads_project(too_deep)
    count("large and special files", "deep sections: the limit holds both ways")


# ---- data files that are not regular files ----------------------------------------------

SPECIAL_KINDS = {"pipe": "a named pipe (FIFO)", "device": "a character device", "socket": "a socket"}


def make_special(kind: str, path: Path) -> Path:
    """A named pipe no one writes to, a link to /dev/zero, or a Unix socket, at `path`."""
    if kind == "pipe":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))
    return path


@pytest.mark.parametrize("kind", sorted(SPECIAL_KINDS))
@pytest.mark.parametrize("source", ["csv", "npz", "image_folder"])
def test_a_data_path_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path, kind, source):
    make_special(kind, tmp_path / "data")
    with time_limit(5.0, f"loading a {kind} as {source}"), pytest.raises(UserError) as error:
        load_dataset({"name": source, "path": "data"}, tmp_path)
    assert str(error.value) == f"data file 'data' is {SPECIAL_KINDS[kind]}, not a regular file or a folder"
    count("large and special files", "refused cheaply")


@pytest.mark.parametrize("source", ["csv", "npz"])
def test_dev_zero_named_directly_is_refused(tmp_path, source):
    with time_limit(5.0, f"/dev/zero as {source}"), pytest.raises(UserError) as error:
        load_dataset({"name": source, "path": "/dev/zero"}, tmp_path)
    assert str(error.value) == "data file '/dev/zero' is a character device, not a regular file or a folder"


@pytest.mark.parametrize("kind", sorted(SPECIAL_KINDS))
def test_an_image_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path, kind):
    root = write_image_folder(tmp_path / "imgs", per_class=3)
    make_special(kind, root / "c1" / "9.png")
    with time_limit(5.0, f"an image folder holding a {kind}"), pytest.raises(UserError) as error:
        load_dataset({"name": "image_folder", "path": "imgs"}, tmp_path)
    assert str(error.value) == f"'imgs/c1/9.png' is {SPECIAL_KINDS[kind]}, not an image file"
    count("large and special files", "refused cheaply")


def test_a_file_swapped_for_a_pipe_after_the_check_is_still_refused(tmp_path):
    """The check is made on the opened descriptor: a name checked earlier cannot smuggle a pipe in."""
    path = make_special("pipe", tmp_path / "swapped.csv")
    with time_limit(5.0, "opening a pipe"):
        with pytest.raises(NotRegularFileError) as error:
            open_regular(path)
        assert error.value.kind == "a named pipe (FIFO)"
        with pytest.raises(UserError, match=r"^cannot read swapped.csv: it is a named pipe \(FIFO\), not a regular file$"):
            open_file(path)
        with pytest.raises(NotRegularFileError, match="a character device"):
            open_regular("/dev/zero")
        with pytest.raises(NotRegularFileError, match="a folder"):
            open_regular(tmp_path)
    (tmp_path / "plain.csv").write_bytes(b"a,b\n")
    with open_regular(tmp_path / "plain.csv") as handle:
        assert handle.read() == b"a,b\n"
