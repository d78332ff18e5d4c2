"""Whether a project's own code may run: the one gate every loader goes through.

`code_loader(trusted)` is what `graphs.project.load_project(path, code=...)` calls with the project's
code files once it has read them (as text): untrusted, it raises a `UserError` naming each file and
runs nothing; trusted, it executes them (`engine.custom_layers.loading`). A project without code files
never reaches it. Imports no torch.
"""

from __future__ import annotations

import os

from engine.errors import UserError
from graphs.custom_types import CodeFile, CustomTypes
from graphs.errors import printable

TRUST_FLAG = "--trust-code"


def untrusted(files: list[CodeFile]) -> UserError:
    names = ", ".join(printable(str(file.path)) for file in files)
    return UserError(f"the project runs its own Python code ({names}); read it, then run again with {TRUST_FLAG} "
                     "to let it run")


def code_loader(trusted: bool):
    """The `code` callable for `graphs.project.load_project`: loads the files when `trusted`, else refuses."""

    def load(files: list[CodeFile]) -> CustomTypes:
        if not trusted:
            raise untrusted(files)
        from engine.custom_layers.loading import load_code

        return load_code(files)

    return load


def same_code_loader(trusted: CustomTypes):
    """The `code` callable that runs files only when each holds the very text of a file of `trusted` (code
    already trusted and loaded, e.g. the open project's), else refuses: a run folder's copy of that code."""
    texts = {file.text for file in trusted.files}

    def load(files: list[CodeFile]) -> CustomTypes:
        if not all(file.text in texts for file in files):
            raise untrusted(files)
        from engine.custom_layers.loading import load_code

        return load_code(files)

    return load


def load_trusted_project(path: str | os.PathLike, trusted: bool):
    """`graphs.project.load_project` with the project's own code loaded when `trusted` (else refused)."""
    from graphs.project import load_project

    return load_project(path, code_loader(trusted))


def add_trust_flag(parser) -> None:
    """The `--trust-code` option of every command that loads a project."""
    parser.add_argument(TRUST_FLAG, dest="trust_code", action="store_true",
                        help="let the project run its own Python code (custom layers: custom_code, or a "
                             "custom_layers.py beside it); without it such a project is refused, naming the files")
