"""Files that are large, endless or deep: refused cheaply, or loaded and checked without a hang.

A 50 MB file is refused after reading almost none of it; a device or a named pipe is
refused without blocking; a big graph (a chain thousands of nodes long, closed into a
cycle, with a port fed twice) loads, validates and infers within a generous hang guard;
free-form sections nest at most `MAX_DEPTH` levels, so whatever loads can be saved.
"""

from __future__ import annotations

import json
import os
import tracemalloc

import pytest

from engine.shapes import infer
from graphs.errors import ProjectFormatError
from graphs.project import MAX_DEPTH, MAX_FILE_BYTES, load_project, loads_project
from graphs.validate import validate
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
