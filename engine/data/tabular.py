"""CSV files: numeric feature columns and one target column, read with the standard library.

Every problem is reported with the file name, the line number as a text editor
shows it, and the column (`data.csv line 17, column 'age': 'abc' is not a
number`). A text target becomes class indices that keep their names; a numeric
target is a class index when it holds at most `MAX_AUTO_CLASSES` whole numbers
(unless `task` says otherwise), else a regression value of shape [1].
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from engine.data.arrays import ArrayData, encode_labels
from engine.data.options import Options
from engine.errors import UserError, listing
from graphs.errors import quoted

ACCEPTED = ("path", "target", "header", "task", "delimiter", "standardize")
TASKS = ("classification", "regression")
MAX_AUTO_CLASSES = 50
MAX_FILE_BYTES = 2 * 1024**3


class _Table:
    """The cells of a CSV file with each row's line number, and how to name a column."""

    def __init__(self, path: Path, delimiter: str, header: bool):
        self.file = path.name
        rows = _read_rows(path, delimiter)
        if not rows:
            raise UserError(f"{self.file} is empty")
        if header:
            (_, names), rows = rows[0], rows[1:]
            self.names = [name.strip() or f"column {i + 1}" for i, name in enumerate(names)]
            if not rows:
                raise UserError(f"{self.file} has a header but no data rows")
        else:
            self.names = [f"{i}" for i in range(len(rows[0][1]))]
        self.header = header
        width = len(self.names)
        for line, row in rows:
            if len(row) != width:
                expected = "the header has" if header else f"line {rows[0][0]} has"
                raise UserError(f"{self.file} line {line} has {len(row)} fields but {expected} {width}")
        self.lines = [line for line, _ in rows]
        self.columns = [list(column) for column in zip(*(row for _, row in rows))]

    def label(self, index: int) -> str:
        return f"column '{self.names[index]}'" if self.header else f"column {index}"

    def where(self, row: int, index: int) -> str:
        return f"{self.file} line {self.lines[row]}, {self.label(index)}"

    def find(self, target) -> int:
        """The index of the target column given by name or by index (negative counts from the end)."""
        width = len(self.names)
        if isinstance(target, int) and not isinstance(target, bool):
            if not -width <= target < width:
                raise UserError(f"target column {target} is out of range: {self.file} has {width} columns "
                                f"(0 to {width - 1})")
            return target % width
        if not isinstance(target, str):
            raise UserError(f"dataset option 'target' must be a column name or index, got {target!r}")
        if not self.header:
            raise UserError(f"{self.file} has no header row, so give the target column by its index "
                            f"(0 to {width - 1})")
        if target not in self.names:
            raise UserError(f"{self.file} has no column {quoted(target)}; its columns are: {listing(self.names)}")
        return self.names.index(target)


def _read_rows(path: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    if path.is_dir():
        raise UserError(f"{path.name} is a folder, not a CSV file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise UserError(f"{path.name} is larger than {MAX_FILE_BYTES // 1024**3} GB")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            rows = []
            line = 1
            for row in reader:
                if len(row) > 1 or (row and row[0].strip()):  # skip blank lines
                    rows.append((line, row))
                line = reader.line_num + 1
            return rows
    except UnicodeDecodeError as error:
        raise UserError(f"{path.name} is not UTF-8 text (bad byte at offset {error.start})") from None
    except csv.Error as error:
        raise UserError(f"{path.name} is not valid CSV: {error}") from None
    except OSError as error:
        raise UserError(f"cannot read {path.name}: {error.strerror or error}") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _cell_problem(cell: str) -> str:
    if not cell.strip():
        return " is empty; fill in the missing value or remove the row"
    if _is_number(cell):
        if np.isfinite(float(cell)):
            return f": {cell.strip()!r} is beyond float32's range (about ±3.4e38); rescale the column"
        return f": {cell.strip()!r} is not a finite number; fill in the missing value or remove the row"
    return f": {cell.strip()!r} is not a number"


def _numbers(table: _Table, index: int) -> np.ndarray:
    """One column as float64 values finite in float32 too, or a UserError naming the first bad cell."""
    cells = table.columns[index]
    try:
        values = np.array(cells, dtype=np.float64)
        bad = np.flatnonzero(~(np.abs(values) <= FLOAT32_MAX))
    except ValueError:
        bad = [next(i for i, cell in enumerate(cells) if not _is_number(cell))]
    if len(bad) == 0:
        return values
    row = int(bad[0])
    message = table.where(row, index) + _cell_problem(cells[row])
    if not any(_is_number(cell) for cell in cells):
        message += " (the whole column holds text; feature columns must be numeric)"
    raise UserError(message)


def _target(table: _Table, index: int, task: str | None) -> tuple[np.ndarray, str, list[str] | None]:
    cells = table.columns[index]
    numeric = [_is_number(cell) for cell in cells]
    for row, cell in enumerate(cells):
        if not cell.strip():
            raise UserError(table.where(row, index) + _cell_problem(cell))
    if not any(numeric):
        if task == "regression":
            raise UserError(f"{table.file} {table.label(index)} holds text (line {table.lines[0]}: "
                            f"{cells[0].strip()!r}); a regression target must be numeric")
        indices, names = encode_labels(np.array([c.strip() for c in cells]), text=True)
        return indices, "classification", names
    if not all(numeric):
        number, text = numeric.index(True), numeric.index(False)
        raise UserError(f"{table.file} {table.label(index)} mixes numbers (line {table.lines[number]}: "
                        f"{cells[number].strip()!r}) and text (line {table.lines[text]}: {cells[text].strip()!r}); "
                        "use one kind of label")
    values = _numbers(table, index)
    whole = bool(np.all(values == np.round(values)))
    if task is None:
        task = "classification" if whole and len(np.unique(values)) <= MAX_AUTO_CLASSES else "regression"
    if task == "regression":
        return values.astype(np.float32).reshape(-1, 1), task, None
    indices, names = encode_labels(values)
    return indices, task, names


def load_csv(options: Options) -> ArrayData:
    path = options.path()
    table = _Table(path, options.char("delimiter", ","), options.bool("header", True))
    if len(table.names) < 2:
        raise UserError(f"{table.file} needs at least two columns: features and a target")
    target = table.find(options.spec.get("target", -1))
    y, task, class_names = _target(table, target, options.choice("task", TASKS, None))
    features = [i for i in range(len(table.names)) if i != target]
    x = np.stack([_numbers(table, i) for i in features], axis=1).astype(np.float32)
    return ArrayData(x, y, task, class_names, [table.names[i] for i in features],
                     standardize=options.bool("standardize", True))
