"""Where a writing command may write: never over its own inputs, never two outputs into one file, and
nothing half-written left behind when it fails.

Every command that writes files calls `check_outputs` first, with everything it reads and everything it
will write (siblings included: `--python x.py` also writes `x.safetensors`); it raises `UserError`
(exit 2) naming both paths when an output is an input, or when two outputs are one file. Files count
as the same when their resolved paths are equal or, for existing files, `os.path.samefile` says so,
so symlinks and hard links are caught too.

`StagedOutputs` then writes the outputs as hidden temporaries beside their destinations and moves
them into place together only when the whole command succeeded; on failure it removes the
temporaries, and folders it created (`make_folder`) if they are left empty, never anything else.
Imports no torch.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from engine.errors import UserError
from graphs.errors import printable
from graphs.project import _create_beside as new_file_beside
from graphs.project import _sync_folder as sync_folder

PathLike = str | os.PathLike


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether writing `a` would change the file `b` (same resolved path, or a link to it)."""
    if os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b)):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_outputs(inputs: Mapping[str, PathLike | None], outputs: Mapping[str, PathLike | None]) -> None:
    """Refuse (UserError) an output that is one of the inputs, that is the same file as another output,
    or that exists but is not a regular file. Both map a description ("the project", "the ONNX file")
    to a path; None paths are skipped."""
    ins = [(what, path) for what, path in inputs.items() if path is not None]
    outs = [(what, path) for what, path in outputs.items() if path is not None]
    for what, path in outs:
        if os.path.exists(path) and not os.path.isfile(path):
            kind = "a folder" if os.path.isdir(path) else "not a regular file"
            raise UserError(f"{what} {path} is {kind}; choose a file to write")
        for source_what, source in ins:
            if same_file(path, source):
                raise UserError(f"{what} {path} is the same file as {source_what} {source}: writing it would "
                                "destroy the command's own input; choose another output file")
    for (what, path), (other_what, other) in itertools.combinations(outs, 2):
        if same_file(path, other):
            raise UserError(f"{what} {path} and {other_what} {other} are the same file; choose different files")


class StagedOutputs:
    """Outputs written as temporaries and moved into place together when the `with` block succeeds.

        with StagedOutputs() as staged:
            write(staged.temporary(code_path)); write(staged.temporary(weights_path))
        # both are in place now; after an exception neither temporary is left

    A destination that is a symlink is written through (the file it points to is replaced). Existing
    files keep their permissions. A `UserError` raised inside the block names the destinations, not
    the temporaries.
    """

    def __init__(self):
        self._temporaries: dict[Path, Path] = {}
        self._made_folders: list[Path] = []

    def make_folder(self, folder: PathLike) -> Path:
        """Create `folder` (and missing parents); those created are removed again on failure if empty."""
        folder = Path(folder)
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"cannot create the folder {folder}: {error.strerror or error}") from None
        self._made_folders.extend(missing)  # deepest first
        return folder

    def temporary(self, destination: PathLike) -> Path:
        """The temporary that becomes `destination`, created empty (never an existing file's name)."""
        destination = Path(destination)
        if destination not in self._temporaries:
            self._temporaries[destination] = _create_beside(Path(os.path.realpath(destination)), destination)
        return self._temporaries[destination]

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None:
            try:
                self._commit()
            except BaseException:
                self._discard()  # what is already in place stays: each file is complete
                raise
            return False
        if isinstance(error, UserError):
            self._name_destinations(error)
        self._discard()
        return False

    def _commit(self) -> None:
        for destination, temporary in list(self._temporaries.items()):  # in the order they were staged
            target = Path(os.path.realpath(destination))
            try:
                with open(temporary, "rb+") as handle:
                    os.fsync(handle.fileno())
                if target.exists():
                    os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
                os.replace(temporary, target)
            except OSError as problem:
                raise UserError(f"cannot write {destination}: {problem.strerror or problem}") from None
            del self._temporaries[destination]
            sync_folder(target.parent)

    def _discard(self) -> None:
        for temporary in self._temporaries.values():
            _remove(temporary)
        self._temporaries.clear()
        for folder in self._made_folders:
            try:
                folder.rmdir()  # only while empty: never anything the command did not create
            except OSError:
                break

    def _name_destinations(self, error: UserError) -> None:
        def renamed(text: str) -> str:
            for destination, temporary in self._temporaries.items():
                for form in (str, lambda p: printable(str(p))):
                    text = text.replace(form(temporary), form(destination))
            return text

        error.message = renamed(error.message)
        error.args = tuple(renamed(arg) if isinstance(arg, str) else arg for arg in error.args)


def _create_beside(target: Path, shown: Path) -> Path:
    """A new, empty, hidden file next to `target` (graphs.project's, as atomic_write makes them)."""
    if not target.parent.is_dir():
        raise UserError(f"cannot write {shown}: the folder {shown.parent} does not exist")
    try:
        descriptor, temporary = new_file_beside(target)
    except OSError as error:
        raise UserError(f"cannot write {shown}: {error.strerror or error}") from None
    os.close(descriptor)
    return Path(temporary)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
