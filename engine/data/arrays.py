"""From numpy arrays to a `Dataset`: the seeded split, label encoding and standardisation
that every in-memory source shares.

A source loads an `ArrayData` (all samples, unsplit); `build_dataset` splits it
with a seeded permutation, standardises features with statistics of the
training split only (so validation stays unseen), and turns it into tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from engine.data.dataset import Dataset, TensorSplit
from engine.errors import UserError


@dataclass
class ArrayData:
    """All samples of an in-memory source, before the split."""

    x: np.ndarray  # [N, ...] float32 (or int64 indices)
    y: np.ndarray  # [N, ...] int64 class indices or float32 values
    task: str  # "classification" | "regression"
    class_names: list[str] | None = None
    feature_names: list[str] | None = None
    modality: str = "table"
    standardize: bool = False  # per-feature, with training-split statistics
    normalization: dict | None = None  # how the source already scaled x ({"mean": [...], "std": [...]})
    notes: list[str] = field(default_factory=list)  # what the source decided that a person should know
    preprocessing: dict | None = None  # see Dataset.preprocessing
    owned: bool = False  # x and y were made for this load alone, so the split may reuse their memory


BLOCK_ROWS = 65536  # rows standardised or moved at a time (working copies stay small)
COMPACT_BYTES = 64 << 20  # owned inputs from this size split in place rather than into copies


def split_indices(n: int, val_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) sample indices from a permutation seeded by `seed`; `val_split` 0 puts every
    sample in training and none in validation."""
    n_val = int(round(n * val_split))
    if not 0 <= val_split < 1 or (val_split > 0 and n_val < 1) or n - n_val < 1:
        raise UserError(f"val_split {val_split} cannot split {n} samples into training and validation; "
                        "use a value below 1 that leaves at least one sample on each side, or 0 to train on "
                        "every sample without validation")
    index_type = np.int32 if n < 2**31 else np.int64  # the same permutation, in half the memory
    order = np.random.default_rng(seed).permutation(np.arange(n, dtype=index_type))
    return order[n_val:], order[:n_val]


def split_arrays(data: ArrayData, val_split: float, seed: int) -> tuple[np.ndarray, ...]:
    """(x_train, x_val, y_train, y_val) of `data`, split by `split_indices`.

    Large inputs the source made for this load alone (`owned`, a CSV file's columns) are split in place:
    the validation rows are copied out and the training rows moved up within the same arrays, in file
    order, instead of copied in the permutation's order; a 1 GB CSV so needs no second copy of itself.
    The split (which rows validate) is the same either way; only the training rows' order differs,
    which the per-epoch shuffle makes irrelevant beyond the exact sequence of batches."""
    train_index, val_index = split_indices(len(data.x), val_split, seed)
    x_val, y_val = data.x[val_index], data.y[val_index]
    if not (data.owned and data.x.nbytes >= COMPACT_BYTES):
        return data.x[train_index], x_val, data.y[train_index], y_val
    keep = np.ones(len(data.x), dtype=bool)
    keep[val_index] = False
    del train_index, val_index  # the permutation's memory goes before the rows move
    return _compact(data.x, keep), x_val, _compact(data.y, keep), y_val


def _compact(array: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """`array[keep]` written over the start of `array` itself, a block at a time (rows only move up,
    so no row is overwritten before it is read); returns that start."""
    written = 0
    for start in range(0, len(array), BLOCK_ROWS):
        rows = array[start:start + BLOCK_ROWS][keep[start:start + BLOCK_ROWS]]
        array[written:written + len(rows)] = rows
        written += len(rows)
    return array[:written]


def encode_labels(values: np.ndarray, text: bool = False,
                  distinct: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Class indices and class names for labels given as numbers or as text.

    Labels that are exactly the whole numbers 0..K-1 stay as they are; any
    others (text, 1..K, negative or fractional numbers) become indices into
    their sorted distinct values, whose names are kept. `distinct` may give
    np.unique(values) when it is known already (it costs a sorted copy).
    """
    if not text:
        numeric = values.astype(np.float64, copy=False).reshape(-1)
        distinct = np.unique(numeric) if distinct is None else distinct
        if np.array_equal(distinct, np.arange(len(distinct))):
            return numeric.astype(np.int64), [str(i) for i in range(len(distinct))]
        names = [str(int(v)) if v == round(v) else f"{v:g}" for v in distinct]
        return np.searchsorted(distinct, numeric).astype(np.int64, copy=False), names
    distinct, indices = np.unique(values.astype(str), return_inverse=True)
    return indices.astype(np.int64).reshape(-1), [str(v) for v in distinct]


def standardize(train: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Scale each feature to zero mean and unit variance using the training split's statistics.
    Scales float32 `train` and `val` in place, a block of rows at a time, so it needs no copy."""
    mean = train.mean(axis=0, dtype=np.float64)
    square_sum = np.zeros_like(mean)
    for start in range(0, len(train), BLOCK_ROWS):
        square_sum += np.square(train[start:start + BLOCK_ROWS] - mean).sum(axis=0)
    std = np.sqrt(square_sum / len(train))
    std[std < 1e-12] = 1.0  # a constant feature stays as it is, shifted to 0
    stats = {"mean": mean.reshape(-1).tolist(), "std": std.reshape(-1).tolist()}
    for array in (train, val):
        for start in range(0, len(array), BLOCK_ROWS):
            block = array[start:start + BLOCK_ROWS]
            block[...] = (block - mean) / std
    return train, val, stats


def build_dataset(name: str, data: ArrayData, val_split: float, seed: int, autoencoder: bool = False) -> Dataset:
    """Split, standardise and convert to tensors; `autoencoder` makes the target a copy of the input."""
    n = len(data.x)
    if n != len(data.y):
        raise UserError(f"{name}: {n} inputs but {len(data.y)} targets")
    x_train, x_val, y_train, y_val = split_arrays(data, val_split, seed)
    normalization = data.normalization
    if data.standardize and np.issubdtype(x_train.dtype, np.floating):
        x_train, x_val, normalization = standardize(x_train, x_val)
    x_train, x_val = _tensor(x_train), _tensor(x_val)
    if autoencoder:
        if x_train.dtype != torch.float32:
            raise UserError(f"{name}: an autoencoder needs floating-point inputs")
        y_train, y_val = x_train.clone(), x_val.clone()
        task, class_names = "regression", None
    else:
        y_train, y_val = _tensor(y_train), _tensor(y_val)
        task, class_names = data.task, data.class_names
    return Dataset(
        name=name, train=TensorSplit(x_train, y_train), val=TensorSplit(x_val, y_val), task=task,
        input_shape=tuple(x_train.shape[1:]), input_dtype=_dtype_name(x_train),
        target_shape=tuple(y_train.shape[1:]), target_dtype=_dtype_name(y_train),
        class_names=class_names, feature_names=data.feature_names, modality=data.modality,
        normalization=normalization, notes=tuple(data.notes), preprocessing=data.preprocessing)


def _tensor(array: np.ndarray) -> torch.Tensor:
    if np.issubdtype(array.dtype, np.integer):
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64))
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _dtype_name(t: torch.Tensor) -> str:
    return "int64" if t.dtype == torch.int64 else "float32"
