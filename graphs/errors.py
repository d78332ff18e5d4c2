"""Typed errors of the document layer.

Every error carries the node id (and port or param where it applies) so the GUI
can mark the node and the CLI can print `node 'conv2': ...`.
"""

from __future__ import annotations

import reprlib

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxdict = 3, 8, 8, 4
_SHORT.maxstring, _SHORT.maxlong, _SHORT.maxother = 60, 40, 60
QUOTED_MAX = 80


def printable(text: str) -> str:
    """`text` with every unprintable character (newline, tab, escape, control bytes, lone
    surrogates) written as its escape: the one function through which text read from a file
    reaches a terminal, a log or the GUI."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for c in text)


def quoted(value) -> str:
    """`value` as a short, one-line Python literal (long strings, numbers and deep or long
    containers abbreviated with '...'), for echoing untrusted input in a message."""
    text = _SHORT.repr(value)
    return text if len(text) <= QUOTED_MAX else f"{text[:QUOTED_MAX - 3]}..."


class GraphError(Exception):
    """A problem with one node, port or edge of a graph, in words a person understands."""

    def __init__(self, message: str, node: str | None = None, port: str | None = None):
        super().__init__(message)
        self.message = message
        self.node = node
        self.port = port

    def as_dict(self) -> dict:
        return {"node": self.node, "port": self.port, "message": self.message}

    def __str__(self) -> str:
        return self.message


class UnknownNodeTypeError(GraphError):
    pass


class UnknownNodeError(GraphError):
    pass


class DuplicateNodeError(GraphError):
    pass


class UnknownPortError(GraphError):
    pass


class PortAlreadyConnectedError(GraphError):
    pass


class DuplicateEdgeError(GraphError):
    pass


class CycleError(GraphError):
    pass


class MissingInputError(GraphError):
    pass


class LossInputError(MissingInputError):
    pass


class NoInputNodeError(GraphError):
    pass


class NoOutputError(GraphError):
    """The graph has Inputs but nothing computes from them."""


class DataFlowError(GraphError):
    """A wire carries what its end cannot take: labels into a layer, a loss value onwards."""


class ParamError(GraphError):
    """A parameter value the catalogue refuses (wrong type, out of range, not a choice)."""

    def __init__(self, message: str, node: str | None = None, param: str | None = None):
        super().__init__(message, node=node)
        self.param = param


class ShapeError(GraphError):
    """Shape inference found an impossible combination on a node."""


class ProjectFormatError(Exception):
    """A project file that cannot be read: says what is wrong and where (file, line, JSON path)."""

    def __init__(self, message: str, path: str | None = None, where: str | None = None):
        self.message = message
        self.path = path
        self.where = where
        super().__init__(self.__str__())

    def __str__(self) -> str:
        prefix = f"{self.path}: " if self.path else ""
        location = f"{self.where}: " if self.where else ""
        return f"{prefix}{location}{self.message}"
