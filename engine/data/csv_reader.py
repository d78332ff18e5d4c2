"""Reading a CSV file column by column into typed arrays, streamed block by block.

Feature columns go straight into one float32 array [rows, features]; the target column
becomes float64 numbers or the codes of its text labels. The file's text is never held
whole: pyarrow's streaming CSV reader parses it a block at a time (the fast path). Anything
that path cannot vouch for (a cell that is not a plain number, a row of the wrong width, a
blank-looking line, a label that mixes numbers and text, a value beyond float32) sends the
file to the exact path, which reads it again with Python's `csv` module, also block by block,
and either names the bad cell by its line, as a text editor counts lines, and its column, or
loads what Python reads as numbers (`1_000`, a number with spaces around it). Both paths give
the same arrays for a file both can read. A feature cell that is not a complete number raises
`FeatureCellError`: `tabular` then reads the table as a mixed one (`table_reader`), with
categories and missing cells.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from engine.data.columns import MISSING
from engine.data.options import open_file, shown
from engine.data.progress import Progress, Throttled
from engine.errors import UserError
from graphs.errors import quoted

FLOAT32_MAX = float(np.finfo(np.float32).max)
BLOCK_BYTES = 2 * 1024 * 1024  # text parsed at a time; pyarrow reads about 40 blocks ahead, so this
# bounds the memory the text takes (about 100 MB) whatever the size of the file
BLOCK_ROWS = 4096  # rows converted at a time by the exact path
FIRST_CAPACITY = 65536  # rows the arrays hold at first when the address space is short
MEMORY_BYTES = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 2**62


class _Unsure(Exception):
    """The fast path met something only the exact path can judge (or name)."""


class FeatureCellError(UserError):
    """A feature cell that is not a complete number: a table for the mixed reader (`table_reader`),
    which takes categories and missing cells, and names this cell again if it is truly wrong."""


@dataclass
class Layout:
    """What the first record says: the column names, and which column is the target."""

    file: str  # the file's name, printable
    names: list[str]
    header: bool
    first_line: int  # the line of the first record (the header, or the first row)
    single_line: bool  # the first record takes one line, the first of the file
    delimiter: str
    target: int = -1

    @property
    def features(self) -> list[int]:
        return [i for i in range(len(self.names)) if i != self.target]

    def label(self, index: int) -> str:
        return f"column {quoted(self.names[index])}" if self.header else f"column {index}"

    def where(self, line: int, index: int) -> str:
        return f"{self.file} line {line}, {self.label(index)}"


@dataclass
class Columns:
    """The parsed columns: features float32 [rows, F]; the target as numbers or label codes.

    The arrays are made as long as the file could hold rows (each row takes at least two bytes a
    column); only the pages written take memory, and `finish` trims the rest away in place, so
    the table is never held twice. Should they fill up anyway, they grow in place."""

    x: np.ndarray
    numbers: np.ndarray | None = None  # float64 [rows] when the target holds numbers
    codes: np.ndarray | None = None  # int64 [rows] index into `labels` when it holds text
    labels: dict[str, int] = field(default_factory=dict)  # stripped label -> code, in order of appearance
    rows: int = 0
    whole: bool = True  # every target number is a whole number

    @classmethod
    def empty(cls, features: int, file_bytes: int) -> Columns:
        """Columns with room for every row a file of `file_bytes` could hold (within memory)."""
        rows = (file_bytes + 1) // (2 * features + 1) + 1
        rows = min(rows, MEMORY_BYTES // _row_bytes(features))
        try:
            return cls(np.empty((max(rows, 1), features), dtype=np.float32))
        except MemoryError:  # the address space is limited: start small and grow
            return cls(np.empty((FIRST_CAPACITY, features), dtype=np.float32))

    def restart(self) -> Columns:
        """Empty columns that reuse this one's feature array."""
        return Columns(self.x)

    def add(self, x: np.ndarray | list, numbers: np.ndarray | None = None, codes: np.ndarray | None = None) -> None:
        """Append a block: features [n, F] (or a list of F columns), target numbers or codes [n]."""
        target = numbers if numbers is not None else codes
        start, end = self.rows, self.rows + len(target)
        if end > len(self.x):
            rows = max(end, 2 * len(self.x))
            if rows * _row_bytes(self.x.shape[1]) > MEMORY_BYTES:
                raise MemoryError
            self._resize(rows)  # zero-fills the new rows: they take memory at once
        if isinstance(x, list):
            for j, column in enumerate(x):
                self.x[start:end, j] = column
        else:
            self.x[start:end] = x
        name = "numbers" if numbers is not None else "codes"
        if getattr(self, name) is None:
            setattr(self, name, np.empty(len(self.x), dtype=target.dtype))
        getattr(self, name)[start:end] = target
        if numbers is not None:
            self.whole = self.whole and bool(np.all(numbers == np.round(numbers)))
        self.rows = end

    def _resize(self, rows: int) -> None:
        self.x.resize((rows, self.x.shape[1]), refcheck=False)  # no view of these arrays is ever kept
        for target in (self.numbers, self.codes):
            if target is not None:
                target.resize(rows, refcheck=False)

    def check_fits(self, done_bytes: int, total_bytes: int) -> None:
        """MemoryError when the rows read so far, extrapolated to the whole file, would not fit in
        memory: refused early, before the memory runs out."""
        if self.rows and done_bytes and self.rows * total_bytes / done_bytes * _row_bytes(self.x.shape[1]) \
                > MEMORY_BYTES:
            raise MemoryError

    def code(self, label: str) -> int:
        return self.labels.setdefault(label, len(self.labels))

    def finish(self) -> Columns:
        """The columns trimmed to the rows read."""
        self._resize(self.rows)
        return self


def _row_bytes(features: int) -> int:
    return features * 4 + 8  # float32 features, a float64 target


def _blank(row: list[str]) -> bool:
    return len(row) <= 1 and not (row and row[0].strip())


class _Text:
    """The file as text for Python's csv module; its decoding and parsing errors as UserErrors."""

    def __init__(self, handle: BinaryIO, file: str, delimiter: str):
        self.handle, self.file = handle, file
        self.text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        self.reader = csv.reader(self.text, delimiter=delimiter)

    def records(self):
        """(line, row) of every record that is not blank; line as a text editor counts it."""
        line = 1
        try:
            for row in self.reader:
                if not _blank(row):
                    yield line, row
                line = self.reader.line_num + 1
        except UnicodeDecodeError as error:
            offset = self.handle.tell() - len(error.object) + error.start
            raise UserError(f"{self.file} is not UTF-8 text (bad byte at offset {offset})") from None
        except csv.Error as error:
            raise UserError(f"{self.file} is not valid CSV: {error}") from None

    def close(self) -> None:
        self.text.detach()
        self.handle.seek(0)


def read_layout(handle: BinaryIO, file: str, delimiter: str, header: bool) -> Layout:
    """The column names (from the header, or numbered) and where the first record stands."""
    text = _Text(handle, file, delimiter)
    try:
        first = next(text.records(), None)
        single = first is not None and first[0] == 1 and text.reader.line_num == 1
    finally:
        text.close()
    if first is None:
        raise UserError(f"{file} is empty")
    line, row = first
    names = [name.strip() or f"column {i + 1}" for i, name in enumerate(row)] if header else \
        [f"{i}" for i in range(len(row))]
    return Layout(file, names, header, line, single, delimiter)


# ---- the fast path: pyarrow ---------------------------------------------------------------

def read_fast(handle: BinaryIO, layout: Layout, columns: Columns, task: str | None, progress: Throttled) -> None:
    """Fill `columns` with pyarrow's streaming reader, or raise _Unsure (the exact path decides).
    The target is read as numbers; when its first block cannot be, the file is read again with the
    target as text labels."""
    try:
        import pyarrow as pa
    except ImportError:  # a dependency, but the exact path still reads the file without it
        raise _Unsure from None
    if not layout.single_line:
        raise _Unsure
    try:
        _read_fast(handle, layout, columns, task, progress, pa.float64())
    except _Unsure:
        if columns.rows:
            raise
        handle.seek(0)
        _read_fast(handle, layout, columns, task, progress, pa.string())


def _read_fast(handle: BinaryIO, layout: Layout, columns: Columns, task: str | None, progress: Throttled,
               target_type) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(len(layout.names))]
    types = {name: pa.float64() for name in names}
    types[names[layout.target]] = target_type
    options = dict(
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if layout.header else 0,
                                       block_size=BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(delimiter=layout.delimiter),
        convert_options=pacsv.ConvertOptions(column_types=types, null_values=[], strings_can_be_null=False,
                                             quoted_strings_can_be_null=False))
    try:
        for batch in pacsv.open_csv(handle, **options):
            _add_batch(batch, layout, columns, task)
            columns.check_fits(handle.tell(), progress.total)
            progress(handle.tell())
    except pa.ArrowException:
        raise _Unsure from None


def _finite(column) -> np.ndarray:
    """A float64 column's values, or _Unsure when one is missing, not finite or beyond float32."""
    values = column.to_numpy(zero_copy_only=False)
    if column.null_count or not np.all(np.abs(values) <= FLOAT32_MAX):
        raise _Unsure
    return values


def _add_batch(batch, layout: Layout, columns: Columns, task: str | None) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    features = [_finite(batch.column(i)) for i in layout.features]
    cells = batch.column(layout.target)
    if pa.types.is_floating(cells.type):
        columns.add(features, numbers=_finite(cells))
        return
    encoded = pc.dictionary_encode(cells)  # text labels: a number among them is the exact path's to judge
    labels = [label.strip() for label in encoded.dictionary.to_pylist()]
    if columns.numbers is not None or task == "regression" or any(not label or _is_number(label) or label in MISSING
                                                                  for label in labels):
        raise _Unsure
    codes = np.array([columns.code(label) for label in labels], dtype=np.int64)
    columns.add(features, codes=codes[encoded.indices.to_numpy(zero_copy_only=False)])


# ---- the exact path: Python's csv module ----------------------------------------------------

def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def cell_problem(cell: str) -> str:
    """Why `cell` is not a usable value, as the end of a sentence that names its place."""
    if not cell.strip():
        return " is empty; fill in the missing value or remove the row"
    if _is_number(cell):
        if math.isfinite(float(cell)):
            return f": {quoted(cell.strip())} is beyond float32's range (about ±3.4e38); rescale the column"
        return f": {quoted(cell.strip())} is not a finite number; fill in the missing value or remove the row"
    return f": {quoted(cell.strip())} is not a number"


def _usable(cell: str) -> float | None:
    """The cell's number when it is finite within float32's range, else None."""
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if abs(value) <= FLOAT32_MAX else None


@dataclass
class _TargetCells:
    """Judges the target column cell by cell, remembering the first number and the first text."""

    layout: Layout
    task: str | None
    first_number: tuple[int, str] | None = None
    first_text: tuple[int, str] | None = None

    def value(self, line: int, cell: str, columns: Columns) -> float | int:
        """The cell's number, or the code of its text label; a UserError naming the line otherwise."""
        layout, index = self.layout, self.layout.target
        if not cell.strip():
            raise UserError(layout.where(line, index) + cell_problem(cell))
        if cell.strip() in MISSING:
            raise UserError(f"{layout.where(line, index)} is missing ({quoted(cell.strip())}); every row needs a "
                            "target: fill it in or remove the row")
        if _is_number(cell):
            self.first_number = self.first_number or (line, cell)
        else:
            self.first_text = self.first_text or (line, cell)
            if self.task == "regression":
                raise UserError(f"{layout.file} {layout.label(index)} holds text (line {line}: "
                                f"{quoted(cell.strip())}); a regression target must be numeric")
        if self.first_number and self.first_text:
            (number_line, number), (text_line, text) = self.first_number, self.first_text
            raise UserError(f"{layout.file} {layout.label(index)} mixes numbers (line {number_line}: "
                            f"{quoted(number.strip())}) and text (line {text_line}: {quoted(text.strip())}); "
                            "use one kind of label")
        if self.first_text:
            return columns.code(cell.strip())
        value = _usable(cell)
        if value is None:
            raise UserError(layout.where(line, index) + cell_problem(cell))
        return value


def read_exact(handle: BinaryIO, layout: Layout, columns: Columns, task: str | None, progress: Throttled) -> None:
    """Fill `columns` with Python's csv module, or raise a UserError naming the first bad cell."""
    text = _Text(handle, layout.file, layout.delimiter)
    records = text.records()
    target = _TargetCells(layout, task)
    width, features = len(layout.names), layout.features
    expected = "the header has" if layout.header else f"line {layout.first_line} has"
    if layout.header:
        next(records)
    block_x: list[list[float]] = []
    block_y: list[float | int] = []
    try:
        for line, row in records:
            if len(row) != width:
                raise UserError(f"{layout.file} line {line} has {len(row)} fields but {expected} {width}")
            block_y.append(target.value(line, row[layout.target], columns))
            values = [_usable(row[i]) for i in features]
            if None in values:
                index = features[values.index(None)]
                raise FeatureCellError(layout.where(line, index) + cell_problem(row[index]))
            block_x.append(values)
            if len(block_x) == BLOCK_ROWS:
                _flush(columns, block_x, block_y, target)
                block_x, block_y = [], []
                columns.check_fits(handle.tell(), progress.total)
                progress(handle.tell())
        if block_x:
            _flush(columns, block_x, block_y, target)
    finally:
        text.close()


def _flush(columns: Columns, x: list[list[float]], y: list, target: _TargetCells) -> None:
    block = np.array(x, dtype=np.float64).reshape(len(x), -1)
    if target.first_text:
        columns.add(block, codes=np.array(y, dtype=np.int64))
    else:
        columns.add(block, numbers=np.array(y, dtype=np.float64))


def _read_columns(handle: BinaryIO, layout: Layout, task: str | None, progress: Progress | None) -> Columns:
    size = os.fstat(handle.fileno()).st_size
    throttled = Throttled(progress, size)
    throttled(0, final=True)
    columns = Columns.empty(len(layout.features), size)
    try:
        read_fast(handle, layout, columns, task, throttled)
    except _Unsure:
        handle.seek(0)
        columns = columns.restart()
        read_exact(handle, layout, columns, task, throttled)
    throttled(size, final=True)
    return columns.finish()


def read_table(path: Path, delimiter: str, header: bool, choose_target: Callable[[Layout], int], task: str | None,
               progress: Progress | None = None) -> tuple[Layout, Columns]:
    """The CSV file's columns, read in blocks: the fast path first, the exact path when it must.
    `choose_target(layout)` gives the target column's index once the names are known (or raises);
    `task` "regression" refuses a text target; `progress(done_bytes, total_bytes)` hears how far
    the reading is, at most ten times a second."""
    if path.is_dir():
        raise UserError(f"{shown(path)} is a folder, not a CSV file")
    with open_file(path) as handle:
        try:
            layout = read_layout(handle, shown(path), delimiter, header)
            layout.target = choose_target(layout)
            columns = _read_columns(handle, layout, task, progress)
        except OSError as error:
            raise UserError(f"cannot read {shown(path)}: {error.strerror or error}") from None
        except MemoryError:
            raise UserError(f"{shown(path)} does not fit in this machine's memory ({MEMORY_BYTES / 1e9:.1f} GB) "
                            "as float32 columns") from None
    if columns.rows == 0:
        raise UserError(f"{layout.file} has a header but no data rows")
    return layout, columns
