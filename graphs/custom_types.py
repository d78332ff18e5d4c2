"""A project's own node types: which Python files its custom layers come from, and the `NodeType`s
they define, held per project (a `Graph`'s `custom_types`), never in the global catalogue.

A project runs code when its file lists files in a top-level `"custom_code"` (paths relative to the
project file), or, without that key, when a `custom_layers.py` sits beside it; `"custom_code": []`
runs none. This module only finds and reads those files (as text, with a size limit): it imports
no torch and runs nothing. Executing them is `engine.custom_layers`' job, and only once the person
trusted them (`--trust-code`, the editor's trust dialog).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from graphs.errors import ProjectFormatError, UnknownNodeTypeError, printable, quoted
from graphs.files import NotRegularFileError, open_regular
from graphs.name_mapping import NameMapping
from graphs.node_type import NodeType

DEFAULT_FILE = "custom_layers.py"
CATEGORY = "Custom"
MAX_CODE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class CodeFile:
    """One file of a project's own code: its name as the project gives it, where it is, its text."""

    listed: str
    path: Path
    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()


class CodeNotLoadedError(ProjectFormatError):
    """The project runs its own code, and whoever loaded it did not load that code (or was not trusted to)."""


def listed_code(data: dict, path: str | None) -> list[str] | None:
    """The project's `custom_code` list as written (None when the key is absent), checked to be strings."""
    if "custom_code" not in data:
        return None
    listed = data["custom_code"]
    if not isinstance(listed, list) or not all(isinstance(item, str) and item for item in listed):
        raise ProjectFormatError("custom_code must be a list of file paths (relative to the project file)",
                                 path, "custom_code")
    return list(listed)


def code_paths(listed: list[str] | None, project_path: str | os.PathLike | None) -> list[tuple[str, Path]]:
    """(name as listed, path) of each file of the project's own code: those `listed` (relative to the
    project file), else `custom_layers.py` beside the project when there is one; [] when it runs none."""
    folder = Path(project_path).resolve().parent if project_path else Path.cwd()
    if listed is None:
        default = folder / DEFAULT_FILE
        return [(DEFAULT_FILE, default)] if project_path and default.is_file() else []
    return [(name, (folder / name).resolve()) for name in dict.fromkeys(listed)]


def read_code(listed: list[str] | None, project_path: str | os.PathLike | None) -> list[CodeFile]:
    """The text of each file of the project's own code (see `code_paths`); a ProjectFormatError naming
    the file when one is missing, not a regular file, too large or not UTF-8."""
    files = []
    for name, path in code_paths(listed, project_path):
        where = printable(str(path))
        try:
            with open_regular(path) as handle:
                raw = handle.read(MAX_CODE_BYTES + 1)
        except FileNotFoundError:
            raise ProjectFormatError(f"the project's custom layers file {quoted(name)} is missing "
                                     "(listed in custom_code, relative to the project file)",
                                     where) from None
        except NotRegularFileError as error:
            raise ProjectFormatError(f"not a regular file: it is {error.kind}", where) from None
        except OSError as error:
            raise ProjectFormatError(f"cannot read the custom layers file: {error.strerror or error}", where) from None
        if len(raw) > MAX_CODE_BYTES:
            raise ProjectFormatError(f"a custom layers file may be at most {MAX_CODE_BYTES // 2**20} MB", where)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ProjectFormatError(f"not UTF-8 text (bad byte at offset {error.start})", where) from None
        files.append(CodeFile(name, path, text))
    return files


def fingerprint(files: Iterable[CodeFile]) -> str:
    """One hash of every file's name and text: a changed file gives another."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.path}\0{file.digest}\0".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class CustomTypes(NameMapping):
    """The node types of one project's own code, by name, and the files they came from. Read-only: a
    project's code is loaded again, as a whole, to change them. Equal only to itself: two loads of one
    file are two sets of types."""

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __init__(self, types: Iterable[NodeType] = (), files: Iterable[CodeFile] = (), problems=None):
        """`problems`: class name -> why that class of the files is no node type (said when a node uses it)."""
        self._types = {spec.name: spec for spec in types}
        self.files = tuple(files)
        self.problems = dict(problems or {})

    def _by_name(self) -> dict:
        return self._types

    def __bool__(self) -> bool:
        return bool(self._types) or bool(self.files)

    def unknown_type(self, name, node: str | None) -> None:
        """Raise UnknownNodeTypeError for a type neither the catalogue nor this code defines, naming the files."""
        if not self.files:
            return
        if name in self.problems:
            raise UnknownNodeTypeError(f"{name} cannot be a node type: {self.problems[name]}", node=node)
        files = ", ".join(quoted(file.listed) for file in self.files)
        known = ", ".join(self._types) or "no nn.Module classes"
        raise UnknownNodeTypeError(f"unknown node type {quoted(name)}: neither a built-in type nor a class of the "
                                   f"project's custom layers ({files}, which define {known})", node=node)


NO_CUSTOM_TYPES = CustomTypes()
