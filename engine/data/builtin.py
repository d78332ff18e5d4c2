"""The built-in datasets: scikit-learn's bundled sets and seeded synthetic ones, all offline.

`digits`, `iris`, `wine` and `breast_cancer` come with scikit-learn (imported
only when one is asked for: the import costs seconds). `moons`, `circles`,
`spirals` and `sine` are generated here with numpy from the training seed, so a
seeded run always sees the same points.

The scikit-learn sets take a class filter, `"classes": [0, 1, 2, 3, 4]`: only
those classes' samples are kept and their labels re-indexed 0..K-1 in the order
given, each keeping its name ("5".."9" for digits 5-9), e.g. to pretrain on some
classes and fine-tune on the others.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.data.arrays import ArrayData
from engine.data.options import Options
from engine.errors import UserError
from graphs.errors import quoted

SKLEARN_SETS = ("digits", "iris", "wine", "breast_cancer")
SYNTHETIC_SETS = ("moons", "circles", "spirals", "sine")
# option names each built-in set accepts (besides name and autoencoder)
ACCEPTED = {
    "digits": ("classes",), "iris": ("classes",), "wine": ("classes",), "breast_cancer": ("classes",),
    "moons": ("n_samples", "noise"),
    "circles": ("n_samples", "noise", "factor"),
    "spirals": ("n_samples", "noise", "arms"),
    "sine": ("n_samples", "noise"),
}
MAX_SAMPLES = 1_000_000


def load_builtin(options: Options, seed: int) -> ArrayData:
    name = options.source
    if name in SKLEARN_SETS:
        return _only_classes(_load_sklearn(name), options.spec.get("classes"))
    rng = np.random.default_rng(seed)
    n = options.int("n_samples", 1000, 4, MAX_SAMPLES)
    if name == "moons":
        return _moons(n, options.float("noise", 0.1, 0.0, 10.0), rng)
    if name == "circles":
        return _circles(n, options.float("noise", 0.05, 0.0, 10.0), options.float("factor", 0.5, 0.0, 0.99), rng)
    if name == "spirals":
        return _spirals(n, options.float("noise", 0.05, 0.0, 10.0), options.int("arms", 2, 2, 20), rng)
    return _sine(n, options.float("noise", 0.0, 0.0, 10.0), rng)


def _load_sklearn(name: str) -> ArrayData:
    from sklearn import datasets  # slow import, only when asked for

    bunch = getattr(datasets, f"load_{name}")()
    if name == "digits":
        x = (bunch.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
        return ArrayData(x, bunch.target.astype(np.int64), "classification", [str(i) for i in range(10)],
                         modality="images")
    return ArrayData(bunch.data.astype(np.float32), bunch.target.astype(np.int64), "classification",
                     [str(n) for n in bunch.target_names], [str(f) for f in bunch.feature_names], standardize=True)


def _only_classes(data: ArrayData, classes) -> ArrayData:
    """`data` with only the samples of `classes` (indices into its class names), labels re-indexed."""
    if classes is None:
        return data
    count = len(data.class_names)
    if (not isinstance(classes, list) or not classes
            or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < count for c in classes)):
        raise UserError(f"dataset option 'classes' must be a list of class numbers from 0 to {count - 1}, "
                        f"got {quoted(classes)}")
    if len(set(classes)) != len(classes):
        raise UserError(f"dataset option 'classes' names a class twice: {quoted(classes)}")
    keep = np.isin(data.y, classes)
    relabel = np.full(count, -1, dtype=np.int64)
    relabel[classes] = np.arange(len(classes))
    return replace(data, x=data.x[keep], y=relabel[data.y[keep]], class_names=[data.class_names[c] for c in classes])


def _two_classes(first: np.ndarray, second: np.ndarray, noise: float, rng) -> ArrayData:
    x = np.concatenate([first, second]).astype(np.float64)
    x += rng.normal(0.0, noise, x.shape) if noise else 0.0
    y = np.concatenate([np.zeros(len(first)), np.ones(len(second))]).astype(np.int64)
    return ArrayData(x.astype(np.float32), y, "classification", ["0", "1"], ["x1", "x2"])


def _moons(n: int, noise: float, rng) -> ArrayData:
    outer = np.linspace(0, np.pi, n // 2)
    inner = np.linspace(0, np.pi, n - n // 2)
    return _two_classes(np.stack([np.cos(outer), np.sin(outer)], 1),
                        np.stack([1 - np.cos(inner), 0.5 - np.sin(inner)], 1), noise, rng)


def _circles(n: int, noise: float, factor: float, rng) -> ArrayData:
    outer = np.linspace(0, 2 * np.pi, n // 2, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n - n // 2, endpoint=False)
    return _two_classes(np.stack([np.cos(outer), np.sin(outer)], 1),
                        factor * np.stack([np.cos(inner), np.sin(inner)], 1), noise, rng)


def _spirals(n: int, noise: float, arms: int, rng) -> ArrayData:
    sizes = [n // arms + (1 if k < n % arms else 0) for k in range(arms)]
    points, labels = [], []
    for arm, size in enumerate(sizes):
        t = np.linspace(0.05, 1.0, size)
        angle = 3 * np.pi * t + 2 * np.pi * arm / arms
        points.append(np.stack([t * np.cos(angle), t * np.sin(angle)], 1))
        labels.append(np.full(size, arm))
    x = np.concatenate(points)
    x += rng.normal(0.0, noise, x.shape) if noise else 0.0
    return ArrayData(x.astype(np.float32), np.concatenate(labels).astype(np.int64), "classification",
                     [str(k) for k in range(arms)], ["x1", "x2"])


def _sine(n: int, noise: float, rng) -> ArrayData:
    x = rng.uniform(-np.pi, np.pi, (n, 1))
    y = np.sin(x) + (rng.normal(0.0, noise, x.shape) if noise else 0.0)
    return ArrayData(x.astype(np.float32), y.astype(np.float32), "regression", None, ["x"])
