"""A large CSV's columns are split in place (`split_arrays`): the same samples validate as with the
copying split, and every training row keeps its own target."""

import numpy as np
import pytest

import engine.data.arrays as arrays
from engine.data.arrays import ArrayData, split_arrays


@pytest.mark.parametrize("n, val_split, seed", [(1000, 0.2, 0), (70_001, 0.3, 5), (50, 0.0, 1), (3, 0.34, 2)])
def test_splitting_in_place_keeps_the_samples_of_the_copying_split(n, val_split, seed, monkeypatch):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3), dtype=np.float32)
    y = np.arange(n, dtype=np.int64)  # each row's own number, to check rows stay with their targets
    x[:, 0] = y  # exactly representable below 2**24
    copied = split_arrays(ArrayData(x.copy(), y.copy(), "classification"), val_split, seed)
    monkeypatch.setattr(arrays, "COMPACT_BYTES", 0)
    owned_x = x.copy()
    in_place = split_arrays(ArrayData(owned_x, y.copy(), "classification", owned=True), val_split, seed)
    x_train, x_val, y_train, y_val = in_place
    assert np.shares_memory(x_train, owned_x)  # no second copy of the training rows
    assert np.array_equal(x_val, copied[1]) and np.array_equal(y_val, copied[3])  # the same validation
    assert np.array_equal(np.sort(y_train), np.sort(copied[2]))  # the same training samples
    assert np.array_equal(y_train, np.sort(y_train))  # in file order
    assert np.array_equal(x_train[:, 0], y_train) and np.array_equal(x_train, x[y_train])


def test_arrays_a_source_may_share_are_never_split_in_place(monkeypatch):
    monkeypatch.setattr(arrays, "COMPACT_BYTES", 0)
    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    split_arrays(ArrayData(x, y, "classification"), 0.2, 0)  # owned=False: e.g. a cached built-in set
    assert np.array_equal(x, np.arange(20, dtype=np.float32).reshape(10, 2)) and np.array_equal(y, np.arange(10))
