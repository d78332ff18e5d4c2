"""Opening a person's file for reading without ever blocking on it.

A path may name a named pipe (FIFO), a device such as `/dev/zero`, a socket or a folder:
opening a FIFO blocks until someone writes to it, and a device reads without end (or, by its
size of 0, passes for an empty file). `open_regular` opens with `O_NONBLOCK`, so even a FIFO's
open returns at once, then checks the descriptor it opened (not the name, which could be
swapped in between) and gives back an ordinary blocking binary file only for a regular file.
Torch-free and Qt-free: the project loader and the data loaders share it.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class NotRegularFileError(OSError):
    """The path names something other than a regular file; `kind` says what ("a named pipe (FIFO)")."""

    def __init__(self, path: str | os.PathLike, kind: str):
        super().__init__(f"{kind}, not a regular file")
        self.filename, self.kind, self.strerror = os.fspath(path), kind, f"{kind}, not a regular file"


def kind_of(mode: int) -> str | None:
    """What a file of st_mode `mode` is, in words, when it is not a regular file; None when it is."""
    if stat.S_ISREG(mode):
        return None
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def check_regular(path: str | os.PathLike) -> None:
    """Raise NotRegularFileError when an existing `path` is not a regular file (a link is followed)."""
    kind = kind_of(os.stat(path).st_mode)
    if kind is not None:
        raise NotRegularFileError(path, kind)


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """`path` opened for binary reading, or NotRegularFileError (another OSError when it cannot be
    opened at all). Never blocks: the open is non-blocking and the opened descriptor is checked."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        kind = kind_of(os.fstat(fd).st_mode)
        if kind is not None:
            raise NotRegularFileError(path, kind)
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
