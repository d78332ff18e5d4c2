"""Reading a CSV table whose columns are not all complete numbers: categories, missing cells,
columns to ignore.

The plain numeric reader (`csv_reader`) comes first; a table it cannot take (a text or missing
cell in a feature column, or roles that ask for categories) is read here with Python's `csv`
module, block by block, into one `RawColumn` per feature column, keeping the line of each row so
every problem names its line and column as a text editor shows them. A column's kind is then
settled: numbers only make a number column, text only a category, both an error that names the
odd cell (unless the column's role says "categorical", which takes every value as a level). A
text column with a different value in nearly every cell (names, ids) is refused with a hint to
give it the role "ignore".
"""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data import csv_reader
from engine.data.columns import CATEGORY_ROLES, ID_SHARE, CellsOf, RawColumn
from engine.data.csv_reader import BLOCK_ROWS, Columns, Layout, _TargetCells, _Text
from engine.data.options import open_file
from engine.data.progress import Progress, Throttled
from engine.errors import UserError
from graphs.errors import quoted

ROLE_HINT = 'in the dataset\'s "columns"'


@dataclass
class Table:
    """A mixed table as read: its feature columns' cells, their settled roles, the target, and each
    row's line (for messages)."""

    raw: list[RawColumn]
    roles: dict[str, str]  # feature column -> "feature" | "categorical" | "one_hot" | "codes"
    target: Columns
    lines: np.ndarray


def read_mixed(path: Path, layout: Layout, roles: dict[str, str], task: str | None,
               progress: Progress | None = None) -> Table:
    """The table at `path` (whose first record `layout` describes), its feature columns taken as `roles`
    says (a column not named there is judged by its cells)."""
    names = layout.names
    used = [j for j in layout.features if roles.get(names[j]) != "ignore"]
    lines = array("q")  # each row's line, compact (a Python list takes several times the memory)
    cells = {j: CellsOf(names[j], lambda row, j=j: layout.where(lines[row], j), roles.get(names[j]) in CATEGORY_ROLES)
             for j in used}
    target_cells = _TargetCells(layout, task)
    target = Columns(np.empty((0, 0), dtype=np.float32))
    values = array("d")  # the target's numbers, or its label codes
    width = len(names)
    expected = "the header has" if layout.header else f"line {layout.first_line} has"
    with open_file(path) as handle:
        throttled = Throttled(progress, os.fstat(handle.fileno()).st_size)
        throttled(0, final=True)
        text = _Text(handle, layout.file, layout.delimiter)
        records = text.records()
        if layout.header:
            next(records)
        try:
            block: list[list[str]] = []
            for line, row in records:
                if len(row) != width:
                    raise UserError(f"{layout.file} line {line} has {len(row)} fields but {expected} {width}")
                values.append(target_cells.value(line, row[layout.target], target))
                lines.append(line)
                block.append(row)
                if len(block) == BLOCK_ROWS:
                    _add_block(cells, block, len(lines) - len(block))
                    block = []
                    _check_fits(len(lines), len(used), handle.tell(), throttled.total)
                    throttled(handle.tell())
            _add_block(cells, block, len(lines) - len(block))
        finally:
            text.close()
        throttled(throttled.total, final=True)
    if not lines:
        raise UserError(f"{layout.file} has a header but no data rows")
    if target_cells.first_text:
        target.codes = np.frombuffer(values, dtype=np.float64).astype(np.int64)
    else:
        target.numbers = np.frombuffer(values, dtype=np.float64).copy()
        target.whole = bool(np.all(target.numbers == np.round(target.numbers)))
    target.rows = len(values)
    raw = [column.finish() for column in cells.values()]
    line_of = np.frombuffer(lines, dtype=np.int64).copy()
    settled = {column.name: _settle(column, roles.get(column.name), layout, names.index(column.name), line_of)
               for column in raw}
    return Table(raw, settled, target, line_of)


def _check_fits(rows: int, columns: int, done_bytes: int, total_bytes: int) -> None:
    """MemoryError when the rows read so far, extrapolated to the whole file, would not fit in memory (each
    cell is kept as a float64 and an int32, then encoded as at least one float32): refused early."""
    if done_bytes and rows * total_bytes / done_bytes * (16 + 16 * columns) > csv_reader.MEMORY_BYTES:
        raise MemoryError


def _add_block(cells: dict[int, CellsOf], block: list[list[str]], first_row: int) -> None:
    """Each used column's cells of a block of rows."""
    for j, column in cells.items():
        column.add_many(first_row, [row[j] for row in block])


def _settle(column: RawColumn, role: str | None, layout: Layout, index: int, lines: np.ndarray) -> str:
    """The column's role once its cells are known, or a UserError naming the cell that does not fit."""
    if role in CATEGORY_ROLES or column.first_text is None:
        return role or "feature"
    row, cell = column.first_text
    odd = f"{layout.where(int(lines[row]), index)}: {quoted(cell)} is not a number"
    if role == "feature":
        raise UserError(odd)
    texts = int(np.count_nonzero(column.codes >= 0))
    if column.first_number is not None:
        if np.count_nonzero(~np.isnan(column.numbers)) >= texts:
            raise UserError(odd)
        number_row, number = column.first_number
        raise UserError(f"{layout.file} {layout.label(index)} mixes text (line {lines[row]}: {quoted(cell)}) and "
                        f"numbers (line {lines[number_row]}: {quoted(number)}); give it the role \"categorical\" "
                        f"{ROLE_HINT} to take every value as a level")
    if texts >= 2 and len(column.levels) >= ID_SHARE * texts:
        raise UserError(f"{odd} (the whole column holds text, a different value in nearly every row as names and "
                        f"ids do; give it the role \"ignore\" {ROLE_HINT}, or \"categorical\" to use it anyway)")
    return "categorical"
