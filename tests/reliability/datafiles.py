"""Data files for the reliability suite: real image folders, and hypothesis strategies for
hostile CSV files, npz archives and image folders.

`csv_files()` starts from a valid numeric table with a target column and spoils it: junk,
empty, NaN or infinite cells, text in a numeric column, rows of the wrong width, a header
only, blank lines, quotes, odd delimiters, a BOM, bytes that are not UTF-8. `npz_arrays()`
gives the arrays of an archive: `x` and `y` of random dtypes (numbers, bools, text, bytes,
objects, structured records) and shapes (0-d, empty, mismatched lengths), missing keys,
extra keys. `image_files()` gives the bytes of each file of a folder: valid images in
several formats and modes, and damaged ones.
"""

from __future__ import annotations

import io
from pathlib import Path


def png_bytes(value: int, size: int = 4, mode: str = "L", fmt: str = "PNG") -> bytes:
    """A small plain image, encoded."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, (size, size), value if mode in ("L", "1", "P", "I", "F") else (value,) * len(mode)).save(
        buffer, fmt)
    return buffer.getvalue()


def write_image_folder(root: Path, classes: int = 2, per_class: int = 10, size: int = 4) -> Path:
    """An image folder of `classes` subfolders `c0`, `c1`, ... of `per_class` grayscale PNGs each."""
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(per_class):
            (root / f"c{c}" / f"{i}.png").write_bytes(png_bytes((40 * c + 9 * i) % 256, size))
    return root
