"""Typed, checked access to the options of a dataset spec (`training["dataset"]`).

Every data source declares the option names it understands; a name it does not
know (a typo such as `targt`) or a value of the wrong type is a `UserError`
that names the option, so a person can fix the project file. A data path must
name a regular file or a folder; `open_file` opens a data file without ever
blocking on a pipe or a device (see `graphs.files`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from engine.errors import UserError
from graphs.errors import printable, quoted
from graphs.files import NotRegularFileError, kind_of, open_regular

COMMON_OPTIONS = ("name", "autoencoder")
_MISSING = object()


class Options:
    """The options of one dataset spec, checked against the names its source accepts."""

    def __init__(self, spec: dict, accepted: tuple[str, ...], base_dir: Path):
        self.spec = spec
        self.source = spec.get("name")
        self.base_dir = base_dir
        known = set(COMMON_OPTIONS) | set(accepted)
        unknown = sorted(set(spec) - known)
        if unknown:
            raise UserError(f"dataset '{self.source}' has no option {_names(unknown)}; "
                            f"its options are: {', '.join(sorted(known))}")

    def _raw(self, name: str, default):
        value = self.spec.get(name, default)
        if value is _MISSING:
            raise UserError(f"dataset '{self.source}' needs the option '{name}'")
        return value

    def _fail(self, name: str, expected: str, value) -> UserError:
        return UserError(f"dataset option '{name}' must be {expected}, got {quoted(value)}")

    def bool(self, name: str, default: bool = False) -> bool:
        value = self._raw(name, default)
        if not isinstance(value, bool):
            raise self._fail(name, "true or false", value)
        return value

    def int(self, name: str, default=_MISSING, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self._raw(name, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._fail(name, "a whole number", value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self._fail(name, _range(minimum, maximum), value)
        return value

    def float(self, name: str, default=_MISSING, minimum: float | None = None,
              maximum: float | None = None) -> float:
        value = self._raw(name, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            raise self._fail(name, "a number", value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self._fail(name, _range(minimum, maximum), value)
        return float(value)

    def choice(self, name: str, choices: tuple[str, ...], default=_MISSING):
        value = self._raw(name, default)
        if value is not None and value not in choices:
            raise self._fail(name, "one of " + ", ".join(repr(c) for c in choices), value)
        return value

    def char(self, name: str, default: str) -> str:
        value = self._raw(name, default)
        if not isinstance(value, str) or len(value) != 1:
            raise self._fail(name, "a single character", value)
        return value

    def floats(self, name: str, default=None, length: int | None = None) -> list[float] | None:
        value = self._raw(name, default)
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if (not isinstance(value, list) or not value
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                or (length is not None and len(value) not in (1, length))):
            size = f"1 or {length}" if length else "one or more"
            raise self._fail(name, f"a list of {size} numbers", value)
        return [float(v) for v in value]

    def size(self, name: str) -> tuple[int, int] | None:
        value = self._raw(name, None)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value, value]
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in value)):
            raise self._fail(name, "[height, width] in pixels (1 to 4096)", value)
        return value[0], value[1]

    def path(self, name: str = "path") -> Path:
        """A file or folder named relative to the project's folder; it must exist."""
        value = self._raw(name, _MISSING)
        if not isinstance(value, str) or not value:
            raise self._fail(name, "a file path", value)
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            kind = kind_of(path.stat().st_mode)
        except FileNotFoundError:
            raise UserError(f"data file {quoted(value)} not found (looked for {printable(str(path))})") from None
        except OSError as error:
            raise UserError(f"cannot read data file {quoted(value)}: {error.strerror or error}") from None
        if kind not in (None, "a folder"):
            raise UserError(f"data file {quoted(value)} is {kind}, not a regular file or a folder")
        return path


def shown(path: Path) -> str:
    """A file's name as a message shows it: control characters (a newline in the name) escaped."""
    return printable(path.name)


def open_file(path: Path, name: str | Callable[[], str] | None = None) -> BinaryIO:
    """A data file opened for binary reading without ever blocking on a pipe or a device, or a
    UserError naming it (as `name`, or what `name()` returns, worked out only for the message; by
    default its file name)."""
    try:
        return open_regular(path)
    except (NotRegularFileError, OSError) as error:
        name = shown(path) if name is None else name() if callable(name) else name
        if isinstance(error, NotRegularFileError):
            raise UserError(f"cannot read {name}: it is {error.kind}, not a regular file") from None
        raise UserError(f"cannot read {name}: {error.strerror or error}") from None


def _names(names: list[str]) -> str:
    listed = ", ".join(quoted(n) for n in names)
    return listed if len(names) == 1 else f"{listed} (unknown options)"


def _range(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f"between {minimum} and {maximum}"
    return f"at least {minimum}" if minimum is not None else f"at most {maximum}"
