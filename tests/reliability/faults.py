"""Fault injection for saving: make one step of `graphs.project.atomic_write` fail.

`inject(monkeypatch, step, error)` swaps the `os` module that `graphs.project` sees for
a stand-in that behaves exactly like the real one except at `step`, which raises
`error` (a fresh exception each time). Only `graphs.project` is affected: pytest and
the rest of the process keep the real module.

Steps, in the order a save takes them:
- create: making the temporary file, `os.open` (what a read-only folder or a full disk refuses);
- open: turning its descriptor into a file object;
- write: writing the bytes (half of them reach the disk first, as with a disk that fills up);
- flush, fsync, close: pushing them to the disk;
- replace: renaming over the old file (a crash or Ctrl+C between writing and renaming).

`inject(..., after=n)` lets the first `n` saves succeed and fails every later one: the disk
fills up in the middle of a training run, after its first checkpoints were written.
"""

from __future__ import annotations

import errno
import os
import types

import graphs.project

STEPS = ("create", "open", "write", "flush", "fsync", "close", "replace")


def os_error(code: int):
    return lambda: OSError(code, os.strerror(code))


# what went wrong -> a factory of the exception
ERRORS = {
    "disk full (ENOSPC)": os_error(errno.ENOSPC),
    "quota exceeded (EDQUOT)": os_error(errno.EDQUOT),
    "permission denied (EACCES)": os_error(errno.EACCES),
    "read-only file system (EROFS)": os_error(errno.EROFS),
    "I/O error (EIO)": os_error(errno.EIO),
    "Ctrl+C (KeyboardInterrupt)": KeyboardInterrupt,
    "a crash (RuntimeError)": lambda: RuntimeError("simulated crash"),
}


class FaultyFile:
    """A binary file object whose `step` (write, flush or close) fails."""

    def __init__(self, handle, step: str, error):
        self._handle, self._step, self._error = handle, step, error

    def write(self, data: bytes) -> int:
        if self._step == "write":
            self._handle.write(data[: len(data) // 2])
            self._handle.flush()
            raise self._error()
        return self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()
        if self._step == "flush":
            raise self._error()

    def close(self) -> None:
        self._handle.close()
        if self._step == "close":
            raise self._error()

    def fileno(self) -> int:
        return self._handle.fileno()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def faulty_os(step: str, error, after: int = 0) -> types.SimpleNamespace:
    """A stand-in for `os`: the real functions, except the one for `step` in every save after the first `after`."""
    def failing() -> bool:
        return stand_in.saves > after

    def fail_or(real):
        def call(*args, **kwargs):
            if failing():
                raise error()
            return real(*args, **kwargs)
        return call

    def open_(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:  # a save creating its temporary file (the folder sync opens without it)
            stand_in.saves += 1
            if step == "create" and failing():
                raise error()
        return os.open(path, flags, *args, **kwargs)

    def fdopen(fd, *args, **kwargs):
        if not failing():
            return os.fdopen(fd, *args, **kwargs)
        if step == "open":
            raise error()
        return FaultyFile(os.fdopen(fd, *args, **kwargs), step, error)

    stand_in = types.SimpleNamespace(**{name: getattr(os, name) for name in dir(os) if not name.startswith("__")})
    stand_in.saves = 0  # saves started so far (temporary files created)
    stand_in.open = open_
    stand_in.fdopen = fdopen
    if step == "fsync":
        stand_in.fsync = fail_or(os.fsync)
    if step == "replace":
        stand_in.replace = fail_or(os.replace)
    return stand_in


def inject(monkeypatch, step: str, error, after: int = 0) -> types.SimpleNamespace:
    """Make `step` of every save after the first `after` fail with `error()` until monkeypatch undoes it.
    Returns the stand-in, whose `saves` counts the saves started."""
    assert step in STEPS, step
    stand_in = faulty_os(step, error, after)
    monkeypatch.setattr(graphs.project, "os", stand_in)
    return stand_in


def open_descriptors() -> set[str]:
    """This process's open file descriptors (to prove a failed save leaks none)."""
    return set(os.listdir("/proc/self/fd"))
