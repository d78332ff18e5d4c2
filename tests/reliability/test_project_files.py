"""Hostile project files: each loads, or is refused with a `ProjectFormatError` that says
what is wrong, quickly, and never with another exception. A file that loads can be
checked (inference and validation report problems, never raise) and saved again
without losing anything.
"""

from __future__ import annotations

from hypothesis import given, note, settings

from engine.shapes import infer
from graphs.errors import ProjectFormatError
from graphs.project import loads_project
from graphs.validate import validate
from tests.reliability.guards import assert_errors_name_nodes, one_line, time_limit
from tests.reliability.hostile import hostile_files, junk_files
from tests.reliability.tally import count, examples

NAME = "hostile.json"
LOAD_SECONDS = 2.0  # a hang guard: loading a file of this suite takes milliseconds
MAX_MESSAGE = 400  # echoed text is shortened, so even a 20 MB file gives a short message


def load_or_refuse(raw: bytes, subject: str):
    """The loaded project, or None after checking the refusal is a proper ProjectFormatError."""
    try:
        with time_limit(LOAD_SECONDS, "loading"):
            project = loads_project(raw, NAME)
    except ProjectFormatError as error:
        message = one_line(str(error))
        assert message.startswith(f"{NAME}: ") and len(message) > len(NAME) + 10, message
        assert len(message) <= MAX_MESSAGE, message
        count(subject, "refused with ProjectFormatError")
        return None
    count(subject, "loaded")
    return project


def check_loaded(project) -> None:
    """Inference and validation only report; saving and loading again gives the same project."""
    with time_limit(LOAD_SECONDS, "checking"):
        errors = validate(project.graph)
        result = infer(project.graph)
    assert_errors_name_nodes(errors + result.errors, set(project.graph.node_ids()))
    text = project.to_json()
    assert loads_project(text).to_json() == text


@settings(max_examples=examples(400))
@given(raw=hostile_files())
def test_hostile_project_files_load_or_are_refused(raw):
    note(repr(raw[:2000]))
    project = load_or_refuse(raw, "hostile project files")
    if project is not None:
        check_loaded(project)


@settings(max_examples=examples(150))
@given(raw=junk_files())
def test_junk_is_refused(raw):
    note(repr(raw[:2000]))
    assert load_or_refuse(raw, "junk files (any JSON value or bytes)") is None
