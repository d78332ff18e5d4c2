"""A table's columns as raw cells, and the transform fitted on the training split that turns them
into the model's float features.

Each column has a role (`ROLES`): a number ("feature"), a category ("categorical": one-hot up to
`MAX_ONE_HOT` levels, integer codes above; or "one_hot" / "codes" to choose), left out ("ignore")
or the target. Cells that say nothing (`MISSING`: empty, NA, N/A, NaN, nan, null, NULL, ?) are
filled with a statistic of the training split (the mean of a number column, the most frequent
level of a category) and, where the training split had any, an extra 0/1 column marks them. Number
columns are standardised with the training split's mean and standard deviation. A level the
training split never saw is "unknown": all zeros in one-hot, code 0 in codes.

`RawColumn` holds one column's cells (numbers, and text as codes into its own levels); `CellsOf`
collects them cell by cell, for a CSV file being read and for rows given to `prepare_rows` alike,
so training and prediction parse cells the same way; `TableTransform.fit` learns the statistics
from the training rows and `TableTransform.apply` encodes any rows with them. The transform is
stored as the dataset's `preprocessing` ({"kind": "table", ...}), JSON-able, and read back by
`TableTransform.from_preprocessing`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from engine.errors import UserError, listing
from graphs.errors import quoted

ROLES = ("feature", "categorical", "one_hot", "codes", "ignore", "target")
CATEGORY_ROLES = ("categorical", "one_hot", "codes")
MISSING = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "?"})
MAX_ONE_HOT = 16  # a category with more levels (in the training split) becomes integer codes
ID_SHARE = 0.9  # an unlabelled text column with a different value in this share of its cells is a name or id
FLOAT32_MAX = float(np.finfo(np.float32).max)
Where = Callable[[int], str]  # row index -> "data.csv line 17, column 'age'"


def parse_roles(value, names: list[str], file: str) -> dict[str, str]:
    """The dataset option "columns" ({column name: role}), checked against the file's column names."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f'dataset option "columns" must map column names to roles ({", ".join(ROLES)}), '
                        f"got {quoted(value)}")
    for name, role in value.items():
        if name not in names:
            raise UserError(f'dataset option "columns" names column {quoted(name)}, which {file} does not have; '
                            f"its columns are: {listing(names)}")
        if role not in ROLES:
            raise UserError(f'dataset option "columns" gives column {quoted(name)} the role {quoted(role)}, which '
                            f"does not exist; the roles are: {', '.join(ROLES)}")
    targets = [name for name, role in value.items() if role == "target"]
    if len(targets) > 1:
        raise UserError(f'dataset option "columns" gives the role "target" to {listing(targets)}; one column is '
                        "the target")
    return dict(value)


# ---- raw cells --------------------------------------------------------------------------------

@dataclass
class RawColumn:
    """One column's cells: `numbers` float64 holding float32 values, as the plain numeric reader reads them
    (NaN where the cell is not a number), `codes` int32 into `levels` (-1 where the cell is not text); a
    missing cell is neither."""

    name: str
    numbers: np.ndarray
    codes: np.ndarray
    levels: list[str]
    first_number: tuple[int, str] | None = None  # (row index, cell)
    first_text: tuple[int, str] | None = None

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.numbers) & (self.codes < 0)


def number_of(cell: str) -> float | None:
    """The cell's number as Python reads it (`1_000`, ` 2.5 `), or None when it is not one."""
    try:
        return float(cell)
    except ValueError:
        return None


def number_problem(cell: str) -> str | None:
    """Why a number cell can't be used (as the end of a sentence naming its place), or None."""
    value = float(cell)
    if not math.isfinite(value):
        return f": {quoted(cell.strip())} is not a finite number; fill in the value, leave it empty, or remove the row"
    if abs(value) > FLOAT32_MAX:
        return f": {quoted(cell.strip())} is beyond float32's range (about ±3.4e38); rescale the column"
    return None


class CellsOf:
    """Collects one column's cells, block by block. `text` takes every cell as a category level (a
    category column); otherwise a cell that reads as a number is a number, and others are text."""

    def __init__(self, name: str, where: Where, text: bool = False):
        self.name, self.where, self.text = name, where, text
        self.levels: dict[str, int] = {}
        self.numbers: list[float] = []  # the cells since the last `flush`
        self.codes: list[int] = []
        self.blocks: list[tuple[np.ndarray, np.ndarray]] = []  # (numbers, codes) of the cells before
        self.first_number: tuple[int, str] | None = None
        self.first_text: tuple[int, str] | None = None

    def add(self, row: int, cell: str) -> None:
        stripped = cell.strip()
        if stripped in MISSING:
            self.numbers.append(math.nan)
            self.codes.append(-1)
            return
        value = None if self.text else number_of(cell)
        if value is None:
            self.first_text = self.first_text or (row, stripped)
            self.numbers.append(math.nan)
            self.codes.append(self.levels.setdefault(stripped, len(self.levels)))
            return
        problem = number_problem(cell)
        if problem:
            raise UserError(self.where(row) + problem)
        self.first_number = self.first_number or (row, stripped)
        self.numbers.append(value)
        self.codes.append(-1)

    def add_many(self, first_row: int, cells: list[str]) -> None:
        """Add the cells of rows `first_row`, `first_row + 1`, ...: a block at C speed where it holds only
        levels (a category) or only usable numbers and missing cells, else cell by cell."""
        stripped = [cell.strip() for cell in cells]
        if self.text:
            self._add_levels(first_row, stripped)
            return
        try:
            values = np.array(["nan" if cell in MISSING else cell for cell in stripped], dtype=np.float64)
        except ValueError:  # text among the numbers: levels only, unless one of the new ones is a number
            new = {cell for cell in stripped if cell not in self.levels and cell not in MISSING}
            if self.first_number is None and not any(number_of(cell) is not None for cell in new):
                self._add_levels(first_row, stripped)
                return
            values = None
        present = None if values is None else np.array([cell not in MISSING for cell in stripped], dtype=bool)
        if values is None or not np.all(np.abs(values[present]) <= FLOAT32_MAX):
            for i, cell in enumerate(cells):
                self.add(first_row + i, cell)
            return
        if self.first_number is None and present.any():
            found = int(np.argmax(present))
            self.first_number = (first_row + found, stripped[found])
        self.flush()
        self.blocks.append((values, np.full(len(values), -1, dtype=np.int32)))

    def _add_levels(self, first_row: int, stripped: list[str]) -> None:
        levels = self.levels
        codes = [-1 if cell in MISSING else levels.setdefault(cell, len(levels)) for cell in stripped]
        if self.first_text is None:
            found = next((i for i, code in enumerate(codes) if code >= 0), None)
            self.first_text = None if found is None else (first_row + found, stripped[found])
        self.numbers += [math.nan] * len(codes)
        self.codes += codes

    def flush(self) -> None:
        """Keep the cells collected so far as arrays (a Python list takes several times their memory)."""
        self.blocks.append((np.array(self.numbers, dtype=np.float64), np.array(self.codes, dtype=np.int32)))
        self.numbers, self.codes = [], []

    def finish(self) -> RawColumn:
        self.flush()
        numbers, codes = zip(*self.blocks)
        as_float32 = np.concatenate(numbers).astype(np.float32).astype(np.float64)  # as the numeric reader holds them
        return RawColumn(self.name, as_float32, np.concatenate(codes), list(self.levels), self.first_number,
                         self.first_text)


# ---- the fitted transform -----------------------------------------------------------------------

@dataclass
class ColumnTransform:
    """How one column becomes features: "number" (standardised), "one_hot" or "codes" (0 = unknown,
    level i is i + 1); `fill` replaces a missing cell; `indicator` adds a 0/1 "missing" feature."""

    name: str
    encoding: str
    levels: list[str] = field(default_factory=list)
    mean: float = 0.0
    std: float = 1.0
    fill: float | str = 0.0
    indicator: bool = False

    def features(self) -> list[str]:
        names = [f"{self.name}={level}" for level in self.levels] if self.encoding == "one_hot" else [self.name]
        return names + ([f"{self.name} missing"] if self.indicator else [])

    def scaling(self) -> tuple[list[float], list[float]]:
        """Per feature (mean, std) that undo the standardisation, for showing values in file units."""
        width = len(self.features())
        if self.encoding == "number":
            return [self.mean] + [0.0] * (width - 1), [self.std] + [1.0] * (width - 1)
        return [0.0] * width, [1.0] * width

    def encode(self, column: RawColumn, where: Where) -> tuple[np.ndarray, int]:
        """(features float32 [n, width], how many cells held a level unknown to training)."""
        missing = column.missing
        if self.encoding == "number":
            if column.first_text is not None:
                row, cell = column.first_text
                raise UserError(f"{where(row)}: {quoted(cell)} is not a number")
            values = np.where(missing, self.fill, column.numbers)
            out, unknown = ((values - self.mean) / self.std).reshape(-1, 1), 0
        else:
            index = {level: i for i, level in enumerate(self.levels)}
            lookup = np.array([index.get(level, -1) for level in column.levels] + [-1], dtype=np.int64)
            found = lookup[column.codes]  # a code of -1 (a missing or number cell) takes the last entry
            if column.first_number is not None:  # a category read as text: a number is one more level
                found = np.where(np.isnan(column.numbers), found, -1)
            found[missing] = index[self.fill] if self.fill in index else -1
            unknown = int(np.count_nonzero((found < 0) & ~missing))
            if self.encoding == "codes":
                out = (found + 1).astype(np.float64).reshape(-1, 1)
            else:
                out = np.zeros((len(found), len(self.levels)))
                known = found >= 0
                out[np.nonzero(known)[0], found[known]] = 1.0
        if self.indicator:
            out = np.concatenate([out, missing.astype(np.float64).reshape(-1, 1)], axis=1)
        return out.astype(np.float32), unknown


def _fit_number(column: RawColumn, train: np.ndarray, standardize: bool) -> ColumnTransform | None:
    values = column.numbers[train]
    present = values[~np.isnan(values)]
    if not len(present):
        return None
    mean = float(present.mean())
    std = float(present.std()) if standardize else 1.0
    return ColumnTransform(column.name, "number", mean=mean if standardize else 0.0,
                           std=std if std >= 1e-12 else 1.0, fill=mean,
                           indicator=len(present) < len(values))


def _fit_category(column: RawColumn, train: np.ndarray, role: str) -> ColumnTransform | None:
    codes = column.codes[train]
    counts = np.bincount(codes[codes >= 0], minlength=len(column.levels))
    if not counts.sum():
        return None
    seen = sorted(column.levels[i] for i in np.nonzero(counts)[0])
    by_level = dict(zip(column.levels, counts.tolist()))
    fill = min(seen, key=lambda level: (-by_level[level], level))  # the most frequent; ties: the first by name
    encoding = role if role != "categorical" else ("one_hot" if len(seen) <= MAX_ONE_HOT else "codes")
    return ColumnTransform(column.name, encoding, levels=seen, fill=fill, indicator=bool((codes < 0).any()))


@dataclass
class TableTransform:
    """Every feature column's transform, in the file's order; the model input is their features side by side."""

    columns: list[ColumnTransform]

    @classmethod
    def fit(cls, raw: list[RawColumn], roles: dict[str, str], train: np.ndarray, standardize: bool,
            file: str) -> tuple[TableTransform, list[str]]:
        """The transform learnt from the rows at `train` only, and notes saying what it decided."""
        columns, notes, empty = [], [], []
        for column in raw:
            role = roles.get(column.name, "feature")
            fitted = (_fit_category(column, train, role) if role in CATEGORY_ROLES
                      else _fit_number(column, train, standardize))
            if fitted is None:
                empty.append(column.name)
                continue
            columns.append(fitted)
            notes += _notes(fitted, column, train, file)
        if empty:
            notes.append(f"{file} column{'s' if len(empty) > 1 else ''} {listing(empty)} "
                         f"{'have' if len(empty) > 1 else 'has'} no value in the training split, so "
                         f"{'they are' if len(empty) > 1 else 'it is'} left out; give "
                         f"{'them' if len(empty) > 1 else 'it'} the role \"ignore\" to say so")
        if not columns:
            raise UserError(f"{file} has no feature column with a value in the training split")
        return cls(columns), notes + _categories_note(columns, file)

    def feature_names(self) -> list[str]:
        return [name for column in self.columns for name in column.features()]

    def normalization(self) -> dict:
        means, stds = [], []
        for column in self.columns:
            mean, std = column.scaling()
            means += mean
            stds += std
        return {"mean": means, "std": stds}

    def apply(self, raw: dict[str, RawColumn], where: Callable[[str], Where]) -> tuple[np.ndarray, dict[str, int]]:
        """(features float32 [n, F], column -> cells with a level unknown to training)."""
        parts, unknown = [], {}
        for column in self.columns:
            out, count = column.encode(raw[column.name], where(column.name))
            parts.append(out)
            if count:
                unknown[column.name] = count
        return np.concatenate(parts, axis=1), unknown

    def category_names(self) -> set[str]:
        return {column.name for column in self.columns if column.encoding != "number"}

    def to_preprocessing(self, **settings) -> dict:
        return {"kind": "table", **settings, "missing": sorted(MISSING), "features": self.feature_names(),
                "columns": [asdict(column) for column in self.columns]}

    @classmethod
    def from_preprocessing(cls, preprocessing: dict) -> TableTransform:
        if not isinstance(preprocessing, dict) or preprocessing.get("kind") != "table":
            kind = preprocessing.get("kind") if isinstance(preprocessing, dict) else None
            raise UserError(f"these weights were trained on {quoted(kind) if kind else 'data'} that is not a table, "
                            "so they cannot take CSV rows")
        try:
            return cls([ColumnTransform(**column) for column in preprocessing["columns"]])
        except (KeyError, TypeError) as error:
            raise UserError(f"the table preprocessing stored with these weights is damaged ({error})") from None


def _notes(fitted: ColumnTransform, column: RawColumn, train: np.ndarray, file: str) -> list[str]:
    label = f"{file} column {quoted(column.name)}"
    if not fitted.indicator:
        return []
    missing = int(np.count_nonzero(column.missing[train]))
    fill = f"the training mean {fitted.fill:.4g}" if fitted.encoding == "number" else \
        f"the most frequent level {quoted(fitted.fill)}"
    return [f"{label}: {missing:,} of {len(train):,} training cells are missing; they are filled with {fill}, "
            f"and a feature {quoted(column.name + ' missing')} marks them"]


def _categories_note(columns: list[ColumnTransform], file: str) -> list[str]:
    categories = [f"{quoted(c.name)} ({len(c.levels)}, {'one-hot' if c.encoding == 'one_hot' else 'codes'})"
                  for c in columns if c.encoding != "number"]
    if not categories:
        return []
    return [f"{file} categories (levels in the training split, encoding): {', '.join(categories)}; a category "
            f"of up to {MAX_ONE_HOT} levels is one-hot, one of more is an integer code (0: a level training "
            "did not see)"]
