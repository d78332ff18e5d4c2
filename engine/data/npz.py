"""`.npz` archives holding arrays `x` (inputs, [N, ...]) and `y` (targets, [N, ...]).

Loaded with `allow_pickle=False`, always: an archive holding Python objects is
refused, never unpickled. A file that is not a zip archive is refused by what
its first bytes show (text, a single .npy array, a pickle), never handed to
`np.load`, which would take any such file for a pickle. Integer `y` is a class index (names from an optional
`class_names` array), float `y` a regression value. Integer `x` other than
uint8 stays int64 (token indices for an Embedding); everything else is float32.
"""

from __future__ import annotations

import numpy as np

from engine.data.arrays import ArrayData, encode_labels
from engine.data.options import Options, open_file, shown
from engine.errors import UserError, listing, reason
from graphs.errors import quoted

ACCEPTED = ("path", "task", "standardize")
TASKS = ("classification", "regression")


def _array(archive, key: str, file: str) -> np.ndarray:
    if key not in archive.files:
        held = listing(archive.files) or "no arrays"
        raise UserError(f"{file} has no array '{key}' (it holds: {held}); save it with np.savez(path, x=..., y=...)")
    try:
        return archive[key]
    except ValueError as error:
        if "pickle" in str(error):
            raise UserError(f"{file}: array '{key}' holds Python objects, which Neurocanvas never loads "
                            "(that would unpickle); save plain numeric arrays") from None
        raise UserError(f"{file}: array '{key}' cannot be read ({reason(error)}); the file may be damaged") from None
    except Exception as error:  # noqa: BLE001 - zipfile, zlib and numpy may raise anything on damaged bytes
        raise UserError(f"{file}: array '{key}' cannot be read ({reason(error)}); the file may be damaged") from None


def _inputs(x: np.ndarray, file: str) -> np.ndarray:
    if x.ndim == 0:
        raise UserError(f"{file}: x must hold one row per sample, got a single value")
    if x.size == 0:
        raise UserError(f"{file}: x holds no values (shape {list(x.shape)})")
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.dtype == np.bool_ or x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating):
        _check_finite(x, "x", file)
        with np.errstate(over="ignore"):
            x = x.astype(np.float32)
        _check_finite(x, "x", file, " values beyond float32's range")
        return x
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.int64)
    raise UserError(f"{file}: x must hold real numbers, got {x.dtype}")


def _targets(y: np.ndarray, task: str | None, names, file: str) -> tuple[np.ndarray, str, list[str] | None]:
    if y.ndim == 0:
        raise UserError(f"{file}: y must hold one target per sample, got a single value")
    if y.dtype.kind in "US":
        if task == "regression":
            raise UserError(f"{file}: y holds text; a regression target must be numeric")
        if y.ndim != 1:
            raise UserError(f"{file}: class labels y must be one value per sample, got shape {list(y.shape)}")
        if y.dtype.kind == "S":  # bytes: read as UTF-8, whatever they hold
            y = np.array([label.decode("utf-8", "backslashreplace") for label in y])
        indices, class_names = encode_labels(y, text=True)
        return indices, "classification", class_names
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_) or np.issubdtype(y.dtype, np.complexfloating):
        raise UserError(f"{file}: y must hold real numbers or text labels, got {y.dtype}")
    values = y.astype(np.float64)
    _check_finite(values, "y", file)
    task = task or ("classification" if np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_ else "regression")
    if task == "regression":
        with np.errstate(over="ignore"):
            values = values.astype(np.float32)
        _check_finite(values, "y", file, " beyond float32's range")
        return (values.reshape(-1, 1) if y.ndim == 1 else values), task, None
    if y.ndim != 1:
        raise UserError(f"{file}: class labels y must be one value per sample, got shape {list(y.shape)}")
    indices, class_names = encode_labels(values)
    if names is not None:
        names = [str(n) for n in names.reshape(-1)]
        if len(names) < len(class_names):
            raise UserError(f"{file}: class_names has {len(names)} names but y has {len(class_names)} classes")
        class_names = names if class_names == [str(i) for i in range(len(class_names))] else class_names
    return indices, task, class_names


def _check_finite(values: np.ndarray, key: str, file: str, what: str = " NaN or infinity") -> None:
    """A UserError naming the first sample of `values` that holds a value that is not finite."""
    finite = np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if not finite.all():
        raise UserError(f"{file}: {key} holds{what} (sample {int(np.flatnonzero(~finite)[0])})")


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with files, an empty archive
NPY_MAGIC = b"\x93NUMPY"


def _not_npz(file: str, start: bytes) -> UserError:
    """What a file that is neither a zip archive nor a .npy array holds, as far as its first bytes say."""
    if not start:
        what = "it is empty"
    elif start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        what = "it holds pickled Python objects, which Neurocanvas never loads"
    else:
        try:
            text = start.decode("utf-8")
        except UnicodeDecodeError:
            what = f"it starts with the bytes {quoted(start[:8])}"
        else:
            what = f"it holds text ({quoted(text[:20])}...)" if text.isprintable() or "\n" in text else \
                f"it starts with the bytes {quoted(start[:8])}"
    return UserError(f"{file} is not an npz archive: {what}; save arrays with np.savez(path, x=..., y=...)")


def _single_array(file: str, handle) -> UserError:
    """A .npy file: one array, or (by its header) pickled Python objects."""
    try:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        pickled = read_header(handle)[2].hasobject
    except Exception:  # noqa: BLE001 - a damaged header: it is still not an archive
        pickled = False
    if pickled:
        return UserError(f"{file} holds pickled Python objects (a .npy array of objects), which Neurocanvas never "
                         "loads; save plain arrays with np.savez(path, x=..., y=...)")
    return UserError(f"{file} holds a single array (a .npy file); save inputs and targets with "
                     "np.savez(path, x=..., y=...)")


def load_npz(options: Options) -> ArrayData:
    path = options.path()
    file = shown(path)
    if path.is_dir():
        raise UserError(f"{file} is a folder, not an npz archive")
    with open_file(path) as handle:
        start = handle.read(64)
        handle.seek(0)
        if start.startswith(NPY_MAGIC):
            raise _single_array(file, handle)
        if not start.startswith(ZIP_MAGIC):
            raise _not_npz(file, start)
        try:
            archive = np.load(handle, allow_pickle=False)
        except Exception as error:  # noqa: BLE001 - zipfile and numpy may raise anything on damaged bytes
            raise UserError(f"{file} is not a valid .npz file ({reason(error)})") from None
        with archive:
            x, y = _array(archive, "x", file), _array(archive, "y", file)
            names = _array(archive, "class_names", file) if "class_names" in archive.files else None
    if x.ndim and y.ndim and len(x) != len(y):
        raise UserError(f"{file}: x has {len(x)} samples but y has {len(y)}; they must match")
    x = _inputs(x, file)
    y, task, class_names = _targets(y, options.choice("task", TASKS, None), names, file)
    return ArrayData(x, y, task, class_names, standardize=options.bool("standardize", False))
