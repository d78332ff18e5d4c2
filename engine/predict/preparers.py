"""Raw inputs -> the model's input tensor, exactly as training prepared its data.

Where the weights carry a "preprocessing" record, the data source that wrote it turns
raw inputs into tensors (the contract of issue 14): `engine.data.images.prepare_image_files`,
`engine.data.text.encode_texts`, `engine.data.audio.prepare_audio_files` and
`engine.data.tabular.prepare_rows`, imported only when needed. Weights from runs older
than that record are still served for the two kinds whose preparation the rest of the
metadata fully describes: images (the Input's [C, H, W] gives size and channels,
"normalization" the per-channel scaling) and numeric tables ("normalization" per feature).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import UserError
from engine.predict.inputs import Row
from graphs.errors import quoted

# kind -> (module, function) of the contract
CONTRACT = {
    "images": ("engine.data.images", "prepare_image_files"),
    "text": ("engine.data.text", "encode_texts"),
    "audio": ("engine.data.audio", "prepare_audio_files"),
    "table": ("engine.data.tabular", "prepare_rows"),
}


@dataclass(frozen=True)
class Preparation:
    """How one model's raw inputs become its input tensor."""

    kind: str
    preprocessing: dict | None
    normalization: dict | None
    input_shape: tuple[int, ...]
    target_column: str | int | None = None  # a legacy CSV run's target, left out of the features

    def __call__(self, raw: list) -> torch.Tensor:
        function = contract_function(self.kind) if self.preprocessing is not None else None
        if function is not None:
            return function(self.preprocessing, raw, **_where(function, raw))
        if self.kind == "images":
            return self._images(raw)
        if self.kind == "table":
            return self._rows(raw)
        module, name = CONTRACT[self.kind]
        raise UserError(f"this Neurocanvas cannot prepare {self.kind} inputs: {module}.{name} is missing")

    def _images(self, paths: list[Path]) -> torch.Tensor:
        from engine.data.images import ImageReader

        channels, height, width = self.input_shape
        mean = std = None
        if self.normalization is not None:
            mean = np.asarray(self.normalization["mean"], dtype=np.float32).reshape(-1, 1, 1)
            std = np.asarray(self.normalization["std"], dtype=np.float32).reshape(-1, 1, 1)
        reader = ImageReader(Path("."), (height, width), channels == 1, mean, std)
        x = np.empty((len(paths), channels, height, width), dtype=np.float32)
        for i, path in enumerate(paths):
            x[i] = reader.read(Path(path))
        return torch.from_numpy(x)

    def _rows(self, rows: list[dict[str, str]]) -> torch.Tensor:
        width = int(np.prod(self.input_shape))
        x = np.empty((len(rows), width), dtype=np.float32)
        for i, row in enumerate(rows):
            columns = list(row)
            if len(columns) == width + 1:
                columns.remove(self._target_name(columns))
            if len(columns) != width:
                raise UserError(f"the rows have {len(row)} columns, but this model takes {width} features "
                                f"(plus, optionally, the target column)")
            for j, column in enumerate(columns):
                try:
                    x[i, j] = float(row[column])
                except ValueError:
                    raise UserError(f"column {quoted(column)}: {quoted(row[column])} is not a number") from None
        if self.normalization is not None:
            x = (x - np.asarray(self.normalization["mean"], dtype=np.float32)) / np.asarray(
                self.normalization["std"], dtype=np.float32)
        return torch.from_numpy(x)

    def _target_name(self, columns: list[str]) -> str:
        target = -1 if self.target_column is None else self.target_column
        if isinstance(target, int) and -len(columns) <= target < len(columns):
            return columns[target]
        if target in columns:
            return target
        raise UserError(f"the rows have no target column {quoted(target)} to leave out")


def _where(function, rows: list) -> dict:
    """`file` and `first_line` for a function that names the file and line of a bad row (the table source's
    `prepare_rows`), when `rows` are consecutive rows of one file; else nothing."""
    if not rows or not all(isinstance(row, Row) for row in rows):
        return {}
    if not {"file", "first_line"} <= set(inspect.signature(function).parameters):
        return {}
    first = rows[0]
    if any(row.file != first.file or row.line != first.line + i for i, row in enumerate(rows)):
        return {}  # a bad row is then found by trying each row alone
    return {"file": first.file, "first_line": first.line}


def contract_function(kind: str):
    """The data source's function that prepares raw inputs of `kind`, or None where it doesn't exist."""
    module_name, name = CONTRACT[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        return None
    return getattr(module, name, None)
