"""CSV files: numeric feature columns and one target column.

The file is read column by column into float32 arrays, streamed (see `csv_reader`), so
its text is never held whole. Every problem is reported with the file name, the line
number as a text editor shows it, and the column (`data.csv line 17, column 'age': 'abc'
is not a number`). A text target becomes class indices that keep their names; a numeric
target is a class index when it holds at most `MAX_AUTO_CLASSES` whole numbers (unless
`task` says otherwise), else a regression value of shape [1], with a note saying how to
make it classes.

Options: `path`, `target` (a column name, or an index; default the last column), `header`
(default true), `delimiter` (one character, default ","), `task` ("classification" or
"regression"; default: inferred as above), `standardize` (default true).
"""

from __future__ import annotations

import json

import numpy as np

from engine.data.arrays import ArrayData, encode_labels
from engine.data.csv_reader import Columns, Layout, Progress, read_table
from engine.data.options import Options
from engine.errors import UserError, listing
from graphs.errors import quoted

ACCEPTED = ("path", "target", "header", "task", "delimiter", "standardize")
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


def _choose_target(layout: Layout, target) -> int:
    if len(layout.names) < 2:
        raise _one_column(layout)
    return _find_target(layout, target)


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


def load_csv(options: Options, progress: Progress | None = None) -> ArrayData:
    """The CSV dataset; `progress(done_bytes, total_bytes)` hears how far the reading is."""
    delimiter, header = options.char("delimiter", ","), options.bool("header", True)
    task = options.choice("task", TASKS, None)
    target = options.spec.get("target", -1)
    layout, columns = read_table(options.path(), delimiter, header, lambda found: _choose_target(found, target), task,
                                 progress)
    y, task, class_names, notes = _target(layout, columns, task)
    return ArrayData(columns.x, y, task, class_names, [layout.names[i] for i in layout.features],
                     standardize=options.bool("standardize", True), notes=notes, owned=True)
