"""What a person gives `predict`, gathered into named raw inputs of the kind the model takes.

Image files and folders of them, WAV files (and folders of them), the rows of CSV files,
or the lines of a text file: each raw input gets a name for the output (`photos/cat.png`,
`reviews.txt line 3`). Everything is checked before any model runs: a missing file, or a
file of the wrong kind for the model (a WAV file given to an image model), is a
`UserError` naming it. Files are read lazily, so a folder of 50,000 images or a CSV file
of a million rows is never held whole.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.data.images import IMAGE_SUFFIXES
from engine.data.options import open_file
from engine.errors import UserError
from graphs.errors import printable

AUDIO_SUFFIXES = (".wav",)
TABLE_SUFFIXES = (".csv",)


@dataclass(frozen=True)
class InputKind:
    """What a model takes, in the words of the preprocessing contract."""

    name: str  # "images" | "text" | "audio" | "table"

    @property
    def words(self) -> str:
        return {"images": "images (image files, or folders of them)", "audio": "sounds (WAV files, or folders of them)",
                "table": "table rows (CSV files with a header row)",
                "text": "text (a file with one text a line, given with --text-file)"}[self.name]

    @property
    def suffixes(self) -> tuple[str, ...]:
        return {"images": IMAGE_SUFFIXES, "audio": AUDIO_SUFFIXES, "table": TABLE_SUFFIXES}.get(self.name, ())


class Row(dict):
    """A CSV row as `csv.DictReader` gives it (column -> cell), knowing where it was read: `file`, `line`."""

    def __init__(self, cells: dict[str, str], file: str, line: int):
        super().__init__(cells)
        self.file, self.line = file, line


@dataclass
class Batch:
    """Raw inputs of one kind and their names: paths (images, audio), texts, or CSV rows as dicts."""

    names: list[str]
    raw: list

    def __len__(self) -> int:
        return len(self.names)


def _what_file(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "an image file"
    if suffix in AUDIO_SUFFIXES:
        return "a WAV file"
    if suffix in TABLE_SUFFIXES:
        return "a CSV file"
    return f"a {printable(suffix)} file" if suffix else "a file without a suffix"


def _shown(path: Path) -> str:
    """A path for a message, whole (a long one is not abbreviated) and escaped."""
    return f"'{printable(str(path))}'"


def check_inputs(kind: InputKind, inputs: list[str], text_file: str | None) -> list[Path]:
    """The input paths, each checked to exist and to be of the kind the model takes."""
    if kind.name == "text":
        if inputs:
            raise UserError(f"this model takes {kind.words}, but was given {_shown(Path(inputs[0]))}; put the texts "
                            "in a file, one a line, and give it with --text-file")
        if text_file is None:
            raise UserError(f"this model takes {kind.words}; give --text-file FILE")
        return [_existing(Path(text_file))]
    if text_file is not None:
        raise UserError(f"--text-file is for models that take text; this model takes {kind.words}")
    if not inputs:
        raise UserError(f"give at least one input: this model takes {kind.words}")
    paths = [_existing(Path(item)) for item in inputs]
    for path in paths:
        if not path.is_dir() and path.suffix.lower() not in kind.suffixes:
            raise UserError(f"{_shown(path)} is {_what_file(path)}, but this model takes {kind.words}")
    return paths


def _existing(path: Path) -> Path:
    if not path.exists():
        raise UserError(f"input {_shown(path)} does not exist")
    return path


def files_in(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The files under `folder` (its subfolders too, hidden ones aside) with one of `suffixes`, sorted."""
    found = [path for path in folder.rglob("*") if path.suffix.lower() in suffixes and path.is_file()
             and not any(part.startswith(".") for part in path.relative_to(folder).parts)]
    return sorted(found)


def gather(kind: InputKind, paths: list[Path]) -> Iterator[tuple[str, object]]:
    """(name, raw input) for every input in `paths`, in order, read lazily."""
    for path in paths:
        if kind.name == "text":
            yield from text_lines(path)
        elif kind.name == "table":
            yield from csv_rows(path)
        elif path.is_dir():
            found = files_in(path, kind.suffixes)
            if not found:
                raise UserError(f"folder {_shown(path)} holds no {kind.words.split(' (')[0]} "
                                f"({', '.join(kind.suffixes)})")
            yield from ((printable(str(file)), file) for file in found)
        else:
            yield printable(str(path)), path


def batched(items: Iterator[tuple[str, object]], batch_size: int) -> Iterator[Batch]:
    batch = Batch([], [])
    for name, raw in items:
        batch.names.append(name)
        batch.raw.append(raw)
        if len(batch) == batch_size:
            yield batch
            batch = Batch([], [])
    if len(batch):
        yield batch


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file; a UserError naming the line where it isn't UTF-8."""
    with open_file(path, _shown(path)) as handle:
        number = 0
        for number, raw in enumerate(handle, 1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise UserError(f"{_shown(path)} line {number} is not UTF-8 text; save the file as UTF-8") from None


def text_lines(path: Path) -> Iterator[tuple[str, str]]:
    """(`file line N`, text) of every non-empty line."""
    empty = True
    for number, line in _lines(path):
        if line.strip():
            empty = False
            yield f"{printable(str(path))} line {number}", line
    if empty:
        raise UserError(f"{_shown(path)} holds no text: give one text a line")


def _decoded(path: Path, handle) -> Iterator[str]:
    """The lines of a binary file as UTF-8 text, line ends kept; a UserError naming the line that isn't."""
    for number, raw in enumerate(handle, 1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{_shown(path)} line {number} is not UTF-8 text; save the file as UTF-8") from None


def csv_rows(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(`file line N`, row) of a CSV file with a header row, rows as `csv.DictReader` gives them (a quoted
    cell may span lines; N is the line the row starts on)."""
    with open_file(path, _shown(path)) as handle:
        reader = csv.reader(_decoded(path, handle))
        count, line = 0, 1
        try:
            header = next(reader, None)
            if header is None:
                raise UserError(f"{_shown(path)} is empty; a CSV file for predict has a header row, then one row "
                                "a line")
            line = reader.line_num + 1
            for values in reader:
                if values:
                    if len(values) != len(header):
                        raise UserError(f"{_shown(path)} line {line} has {len(values)} values, but the header row "
                                        f"names {len(header)} columns")
                    count += 1
                    yield f"{printable(str(path))} line {line}", Row(dict(zip(header, values)), printable(str(path)),
                                                                     line)
                line = reader.line_num + 1
        except csv.Error as error:
            raise UserError(f"{_shown(path)} line {line}: not valid CSV ({printable(str(error))})") from None
    if not count:
        raise UserError(f"{_shown(path)} has a header row but no rows to predict")
