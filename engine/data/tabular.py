"""CSV files: feature columns (numbers and categories, missing cells allowed) and one target column.

A table of complete numbers is read column by column into float32 arrays, streamed (see
`csv_reader`), so its text is never held whole; any other table (a text or missing cell in a
feature column, or roles that ask for categories) is read by `table_reader`. Every problem is
reported with the file name, the line number as a text editor shows it, and the column
(`data.csv line 17, column 'age': 'abc' is not a number`). Feature columns become the model's
input through a `columns.TableTransform` fitted on the training split only (standardised numbers,
one-hot levels or integer codes, missing cells filled and marked); the transform is the dataset's
`preprocessing`, and `prepare_rows` applies it to new rows. A text target becomes class indices
that keep their names; a numeric target is a class index when it holds at most `MAX_AUTO_CLASSES`
whole numbers (unless `task` says otherwise), else a regression value of shape [1], with a note
saying how to make it classes.

Options: `path` (or `sample`: a generated table, see `table_samples`), `target` (a column name, or
an index; default the last column), `columns` (column name -> role, see `columns.ROLES`), `header`
(default true), `delimiter` (one character, default ","), `task` ("classification" or
"regression"; default: inferred as above), `standardize` (default true).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from engine.data.arrays import BLOCK_ROWS, ArrayData, encode_labels, split_indices
from engine.data.columns import CATEGORY_ROLES, CellsOf, ColumnTransform, TableTransform, parse_roles
from engine.data.csv_reader import Columns, FeatureCellError, Layout, Progress, read_layout, read_table
from engine.data.options import Options, open_file, shown
from engine.data.table_reader import read_mixed
from engine.data.table_samples import sample_table
from engine.errors import UserError, listing
from graphs.errors import quoted

ACCEPTED = ("path", "sample", "target", "columns", "header", "task", "delimiter", "standardize")
TASKS = ("classification", "regression")
MAX_AUTO_CLASSES = 50
OTHER_DELIMITERS = (";", "\t", "|")


def _find_target(layout: Layout, target) -> int:
    """The index of the target column given by name or by index (negative counts from the end)."""
    width, file = len(layout.names), layout.file
    if isinstance(target, int) and not isinstance(target, bool):
        if not -width <= target < width:
            raise UserError(f"target column {target} is out of range: {file} has {width} columns "
                            f"(0 to {width - 1})")
        return target % width
    if not isinstance(target, str):
        raise UserError(f"dataset option 'target' must be a column name or index, got {quoted(target)}")
    if not layout.header:
        raise UserError(f"{file} has no header row, so give the target column by its index (0 to {width - 1})")
    if target not in layout.names:
        raise UserError(f"{file} has no column {quoted(target)}; its columns are: {listing(layout.names)}")
    return layout.names.index(target)


def _one_column(layout: Layout) -> UserError:
    message = f"{layout.file} needs at least two columns: features and a target"
    found = [json.dumps(d) for d in OTHER_DELIMITERS if d in layout.names[0]]  # as the project file spells it
    if found and layout.delimiter == ",":
        message += (f"; its first line holds {' and '.join(found)}: if that separates the columns, set "
                    f'"delimiter": {found[0]} in the dataset')
    return UserError(message)


def _target(layout: Layout, columns: Columns, task: str | None) -> tuple[np.ndarray, str, list[str] | None, list]:
    """(targets, task, class names, notes) from the target column's numbers or labels."""
    if columns.codes is not None:
        order = sorted(columns.labels, key=columns.labels.get)
        indices, names = encode_labels(np.array(order), text=True)
        return indices[columns.codes], "classification", names, []
    values, notes = columns.numbers, []
    distinct = np.unique(values) if columns.whole else None
    if task is None:
        task = "classification" if distinct is not None and len(distinct) <= MAX_AUTO_CLASSES else "regression"
        if distinct is not None and task == "regression":
            notes.append(f"{layout.file} {layout.label(layout.target)} holds {len(distinct):,} different whole "
                         f"numbers in {len(values):,} rows, more than {MAX_AUTO_CLASSES}, so it was taken as a "
                         'regression target; if they are class labels, set "task": "classification" in the '
                         'dataset (or "task": "regression" to say they are values)')
    if task == "regression":
        return values.astype(np.float32).reshape(-1, 1), task, None, notes
    indices, names = encode_labels(values, distinct=distinct)
    return indices, task, names, notes


def _roles(options: Options, layout: Layout) -> dict[str, str]:
    """The "columns" option checked against the file, with the target (by role or by "target") settled."""
    roles = parse_roles(options.spec.get("columns"), layout.names, layout.file)
    by_role = next((name for name, role in roles.items() if role == "target"), None)
    if by_role is not None and "target" in options.spec:
        chosen = layout.names[_find_target(layout, options.spec["target"])]
        if chosen != by_role:
            raise UserError(f'dataset option "target" names column {quoted(chosen)} but "columns" gives the role '
                            f'"target" to {quoted(by_role)}; name one target')
    return roles


def _check_unique(layout: Layout) -> None:
    """Columns are known by name (roles, the preprocessing, rows to predict): two with one name are refused."""
    first: dict[str, int] = {}
    for index, name in enumerate(layout.names):
        if name in first and layout.header:
            raise UserError(f"{layout.file} has two columns named {quoted(name)} (columns {first[name] + 1} and "
                            f"{index + 1}); give each column its own name")
        first.setdefault(name, index)


def _data_path(options: Options) -> Path:
    if "sample" not in options.spec:
        return options.path()
    if "path" in options.spec:
        raise UserError('dataset options "path" and "sample" both name the data; keep one')
    return sample_table(options.spec["sample"])


def load_csv(options: Options, progress: Progress | None = None, val_split: float | None = None,
             seed: int = 0) -> ArrayData:
    """The CSV dataset; `progress(done_bytes, total_bytes)` hears how far the reading is. `val_split` and
    `seed` say which rows will train (as `build_dataset` splits them): only those give the statistics
    (means, standard deviations, levels, fill values). Without `val_split`, every row counts as training
    and number columns stay in the file's units (the table as read, for tests and benchmarks)."""
    delimiter, header = options.char("delimiter", ","), options.bool("header", True)
    task = options.choice("task", TASKS, None)
    standardize = options.bool("standardize", True) and val_split is not None
    val_split = val_split or 0.0
    path = _data_path(options)
    found: dict = {}

    def choose_target(layout: Layout) -> int:
        if len(layout.names) < 2:
            raise _one_column(layout)
        _check_unique(layout)
        found["roles"] = roles = _roles(options, layout)
        by_role = next((name for name, role in roles.items() if role == "target"), None)
        return layout.names.index(by_role) if by_role else _find_target(layout, options.spec.get("target", -1))

    layout = None
    named = options.spec.get("columns")
    if not isinstance(named, dict) or not any(role in ("ignore", *CATEGORY_ROLES) for role in named.values()):
        try:
            layout, columns = read_table(path, delimiter, header, choose_target, task, progress)
        except FeatureCellError:
            layout = None
    if layout is not None:
        x, transform = columns.x, _standardize_numbers(columns.x, layout, val_split, seed, standardize)
        unknown = {}
    else:
        layout, table = _read_mixed(path, delimiter, header, choose_target, found, task, progress)
        columns = table.target
        train, _ = split_indices(len(table.lines), val_split, seed)
        transform, notes = TableTransform.fit(table.raw, table.roles, np.sort(train), standardize, layout.file)
        x, unknown = transform.apply({column.name: column for column in table.raw},
                                     lambda name: _where(layout, name, table.lines))
        found["notes"] = notes
    y, task, class_names, notes = _target(layout, columns, task)
    notes = found.get("notes", []) + notes + _unknown_notes(layout.file, unknown)
    preprocessing = transform.to_preprocessing(delimiter=delimiter, target=layout.names[layout.target],
                                               roles=_file_roles(layout, transform))
    return ArrayData(x, y, task, class_names, transform.feature_names(), standardize=False,
                     normalization=transform.normalization(), notes=notes, preprocessing=preprocessing, owned=True)


def _read_mixed(path: Path, delimiter: str, header: bool, choose_target, found: dict, task: str | None,
                progress: Progress | None):
    try:
        with open_file(path) as handle:
            layout = read_layout(handle, shown(path), delimiter, header)
        layout.target = choose_target(layout)
        return layout, read_mixed(path, layout, found["roles"], task, progress)
    except OSError as error:
        raise UserError(f"cannot read {shown(path)}: {error.strerror or error}") from None
    except MemoryError:
        raise UserError(f"{shown(path)} does not fit in this machine's memory as a table") from None


def _file_roles(layout: Layout, transform: TableTransform) -> dict[str, str]:
    """Every column of the file, in order, with the role it had: "target", "ignore" (named so, or left out
    for holding no value), "feature" (a number), or the encoding of a category ("one_hot", "codes")."""
    used = {column.name: column.encoding for column in transform.columns}
    roles = {}
    for index, name in enumerate(layout.names):
        encoding = used.get(name)
        roles[name] = ("target" if index == layout.target else "ignore" if encoding is None
                       else "feature" if encoding == "number" else encoding)
    return roles


def _where(layout: Layout, name: str, lines: np.ndarray):
    index = layout.names.index(name)
    return lambda row: layout.where(int(lines[row]), index)


def _unknown_notes(file: str, unknown: dict[str, int]) -> list[str]:
    return [f"{file} column {quoted(name)}: {count:,} cells hold a level the training split does not have; "
            "they are encoded as unknown (no level)" for name, count in unknown.items()]


def _standardize_numbers(x: np.ndarray, layout: Layout, val_split: float, seed: int,
                         standardize: bool) -> TableTransform:
    """The transform of a table of complete numbers, fitted on its training rows; `x` is scaled in place
    by it, a block of rows at a time, so the table is never held twice."""
    names = [layout.names[i] for i in layout.features]
    means, stds = np.zeros(len(names)), np.ones(len(names))
    if standardize:
        train, _ = split_indices(len(x), val_split, seed)
        is_train = np.zeros(len(x), dtype=bool)
        is_train[train] = True
        del train
        means = _blocks_sum(x, is_train, lambda block: block) / is_train.sum()
        stds = np.sqrt(_blocks_sum(x, is_train, lambda block: np.square(block - means)) / is_train.sum())
        stds[stds < 1e-12] = 1.0
        for start in range(0, len(x), BLOCK_ROWS):
            block = x[start:start + BLOCK_ROWS]
            block[...] = (block - means) / stds
    return TableTransform([ColumnTransform(name, "number", mean=float(m), std=float(s), fill=float(m))
                           for name, m, s in zip(names, means, stds)])


def _blocks_sum(x: np.ndarray, rows: np.ndarray, term) -> np.ndarray:
    total = np.zeros(x.shape[1])
    for start in range(0, len(x), BLOCK_ROWS):
        total += term(x[start:start + BLOCK_ROWS][rows[start:start + BLOCK_ROWS]].astype(np.float64)).sum(axis=0)
    return total


def prepare_rows(preprocessing: dict, rows: list[dict[str, str]], *, file: str = "the input",
                 first_line: int = 2) -> torch.Tensor:
    """Rows of a table (as `csv.DictReader` gives them) as the model's input, FloatTensor [N, F], made
    exactly as training made its rows: the same features in the same order, the same imputation,
    one-hot levels, codes and standardisation (`preprocessing` is a table dataset's). A problem names
    `file` and the line (row i is on line `first_line + i`) and column."""
    transform = TableTransform.from_preprocessing(preprocessing)
    if not rows:
        return torch.zeros((0, len(transform.feature_names())))
    categories = transform.category_names()
    raw = {}
    for column in transform.columns:
        where = (lambda name: lambda row: f"{file} line {first_line + row}, column {quoted(name)}")(column.name)
        cells = CellsOf(column.name, where, column.name in categories)
        for i, row in enumerate(rows):
            cell = row.get(column.name)
            if cell is None:
                raise UserError(f"{file} line {first_line + i} has no column {quoted(column.name)}; the model "
                                f"needs the columns {listing([c.name for c in transform.columns])}")
            cells.add(i, cell)
        raw[column.name] = cells.finish()
    x, _ = transform.apply(raw, lambda name: lambda row: f"{file} line {first_line + row}, column {quoted(name)}")
    return torch.from_numpy(x)
