"""Guards for the reliability tests: a hang guard, a check that one line came out, and a
check that reported graph errors name their nodes.

`time_limit` is a hang guard, not a benchmark: the bound is generous and only catches
work that never ends (or grows without bound). It uses SIGALRM, so it runs on the main
thread of a POSIX process, which is where pytest runs tests.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

from graphs.errors import GraphError, NoInputNodeError, NoOutputError

GRAPH_LEVEL = (NoInputNodeError, NoOutputError)  # errors about the whole graph rather than one node


class Hang(BaseException):
    """Raised when guarded work overruns its time limit (a BaseException, so `except Exception`
    in the code under test cannot swallow it)."""


@contextmanager
def time_limit(seconds: float, what: str):
    """Raise `Hang` if the body runs longer than `seconds`."""
    def expire(_signum, _frame):
        raise Hang(f"{what} took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def one_line(text: str) -> str:
    """The single line `text` holds (a trailing newline allowed); fails on anything else."""
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one line, got {len(lines)}: {text[:500]!r}"
    return lines[0]


def assert_errors_name_nodes(errors: list, node_ids) -> None:
    """Every error is a GraphError on one of `node_ids`, or one about the whole graph."""
    for error in errors:
        assert isinstance(error, GraphError), f"{type(error).__name__} reported: {error}"
        assert error.node in node_ids or isinstance(error, GRAPH_LEVEL), f"error names no node: {error.message}"
