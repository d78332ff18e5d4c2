"""Data files for the reliability suite: real image folders, and hypothesis strategies for
hostile CSV files, npz archives and image folders.

Each strategy draws a `DataCase`: the files to write (relative path -> bytes, or None for a
folder), the dataset spec, and `clean`: True when the case is a valid data set that must load.
`csv_files()` starts from a valid numeric table with a target column and may spoil it: junk,
empty, NaN or infinite cells, text in a numeric column, rows of the wrong width, a header
only, blank lines, another delimiter, a BOM, bytes that are not UTF-8, UTF-16.
`npz_files()` draws `x`, `y` and `class_names` of random dtypes (numbers, bools, complex,
text, bytes, dates, records, Python objects) and shapes (0-d, empty, mismatched lengths),
drops or adds keys, or damages the archive's bytes. `image_folders()` draws class folders of
valid images in several formats and modes, damaged images, loose and hidden files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


@dataclass
class DataCase:
    files: dict[str, bytes | None]  # relative path -> contents (None: a folder)
    spec: dict  # training["dataset"]
    clean: bool  # a valid data set: it must load
    notes: list[str] = field(default_factory=list)  # what was done to it

    def write(self, folder: Path) -> None:
        for name, data in sorted(self.files.items(), key=lambda item: item[0].count("/")):
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if data is None:
                path.mkdir(exist_ok=True)
            else:
                path.write_bytes(data)


def png_bytes(value: int, size: int = 4, mode: str = "L", fmt: str = "PNG", height: int | None = None) -> bytes:
    """A small plain image, encoded."""
    from PIL import Image

    bands = len(Image.new(mode, (1, 1)).getbands())
    color = value if bands == 1 else (value,) * bands
    buffer = io.BytesIO()
    Image.new(mode, (size, height or size), color).save(buffer, fmt)
    return buffer.getvalue()


def write_image_folder(root: Path, classes: int = 2, per_class: int = 10, size: int = 4) -> Path:
    """An image folder of `classes` subfolders `c0`, `c1`, ... of `per_class` grayscale PNGs each."""
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(per_class):
            (root / f"c{c}" / f"{i}.png").write_bytes(png_bytes((40 * c + 9 * i) % 256, size))
    return root


# ---- damage shared by every kind of file ---------------------------------------------

def damaged_bytes(raw: bytes) -> st.SearchStrategy:
    """(what was done, the damaged bytes): cut short, bytes flipped, or junk appended."""
    cut = st.integers(0, max(len(raw) - 1, 0)).map(lambda n: (f"cut at {n}", raw[:n]))

    def flip(changes):
        data = bytearray(raw)
        for at, mask in changes:
            data[at % len(data)] ^= mask
        return f"{len(changes)} bytes flipped", bytes(data)

    flipped = st.lists(st.tuples(st.integers(0, 2**16), st.integers(1, 255)), min_size=1, max_size=6).map(flip)
    appended = st.binary(min_size=1, max_size=40).map(lambda junk: ("junk appended", raw + junk))
    return st.one_of(cut, flipped, appended) if raw else st.just(("empty", raw))


# ---- CSV ------------------------------------------------------------------------------

NUMBER_CELLS = st.one_of(st.integers(-1000, 1000).map(str),
                         st.floats(-1e6, 1e6, allow_nan=False).map(repr),
                         st.sampled_from(["0", "-0", "+3", " 2.5 ", "1e3", "1E-3", ".5", "5.", "1_000"]))
JUNK_CELLS = st.one_of(
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-Infinity", "1e999", "abc", "1,5", "1.5e", "--", "0x10", "null",
                     "None", "TRUE", "\u0662", "\u00e9", "\x00", "\"", "'", "1 2", "\u00a0", "\N{BOM}"]),
    st.text(max_size=6))
LABELS = {"numbers": st.integers(0, 3).map(str), "text": st.sampled_from(["cat", "dog", "emu"]),
          "values": st.floats(-10, 10, allow_nan=False).map(repr)}


@st.composite
def csv_files(draw) -> DataCase:
    features = draw(st.integers(1, 4))
    rows = draw(st.integers(0, 12))
    header = draw(st.booleans())
    labels = draw(st.sampled_from(sorted(LABELS)))
    table = [[draw(NUMBER_CELLS) for _ in range(features)] + [draw(LABELS[labels])] for _ in range(rows)]
    names = [f"f{i}" for i in range(features)] + ["label"]
    spec: dict = {"name": "csv", "path": "data.csv", "header": header}
    notes: list[str] = []
    spoils = draw(st.lists(st.sampled_from(["junk cell", "short row", "long row", "blank lines", "no target",
                                            "target index", "delimiter", "header only", "encoding", "bytes"]),
                           max_size=3))
    for spoil in spoils:
        if spoil == "junk cell" and table:
            row = draw(st.integers(0, len(table) - 1))
            if table[row]:  # an earlier "short row" may have shortened or emptied it
                table[row][draw(st.integers(0, len(table[row]) - 1))] = draw(JUNK_CELLS)
        elif spoil in ("short row", "long row") and table:
            row = draw(st.integers(0, len(table) - 1))
            table[row] = table[row][:-1] if spoil == "short row" else table[row] + ["1"]
        elif spoil == "no target":
            spec["target"] = draw(st.sampled_from(["target", "", "f0 ", 99, -99, 1.5, None, True, ["label"]]))
        elif spoil == "target index":
            spec["target"] = draw(st.integers(-features - 1, features + 1))
        notes.append(spoil)
    if not header:
        spec.setdefault("target", -1)
    delimiter = draw(st.sampled_from([",", ";", "\t"])) if "delimiter" in spoils else ","
    if delimiter != ",":
        spec["delimiter"] = draw(st.sampled_from([delimiter, ",", "", ";;"]))
    lines = ([delimiter.join(names)] if header else []) + [delimiter.join(_csv_cell(c, delimiter) for c in row)
                                                          for row in table]
    if "header only" in spoils:
        lines = lines[:1]
    if "blank lines" in spoils:
        lines = [line for line in lines for line in (line, "")]
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))
    raw = text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
                      if "encoding" in spoils else "utf-8", errors="replace")
    if "bytes" in spoils:
        what, raw = draw(damaged_bytes(raw))
        notes.append(what)
    clean = not spoils and rows >= 2
    return DataCase({"data.csv": raw}, spec, clean, notes)


def _csv_cell(cell: str, delimiter: str) -> str:
    """Quote a cell the way a spreadsheet would when it holds the delimiter, a quote or a newline."""
    if any(c in cell for c in (delimiter, '"', "\n", "\r")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


# ---- npz -------------------------------------------------------------------------------

DTYPES = st.one_of(hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(), hnp.floating_dtypes(), hnp.boolean_dtypes(),
                   hnp.complex_number_dtypes(), hnp.unicode_string_dtypes(max_len=4), hnp.byte_string_dtypes(max_len=4),
                   hnp.datetime64_dtypes(), hnp.timedelta64_dtypes(),
                   st.just(np.dtype([("a", "<f4"), ("b", "<i2")])))
OBJECTS = st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=3), st.just({"a": 1})), min_size=1,
                   max_size=6).map(lambda items: np.array(items + [None], dtype=object)[:-1])


def any_array(rows: int | None) -> st.SearchStrategy:
    """An array of any dtype with `rows` rows (any shape when None), or an array of Python objects."""
    shape = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)
    if rows is not None:
        shape = st.one_of(st.just((rows,)), hnp.array_shapes(min_dims=0, max_dims=2, max_side=3).map(
            lambda rest: (rows, *rest)))
    return st.one_of(DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, shape)), OBJECTS)


@st.composite
def npz_files(draw) -> DataCase:
    rows = draw(st.integers(0, 10))
    x = hnp.arrays(np.float32, (rows, draw(st.integers(1, 3))), elements=st.floats(-9, 9, width=32))
    y = hnp.arrays(np.int64, (rows,), elements=st.integers(0, 2))
    arrays = {"x": draw(x), "y": draw(y)}
    spoils = draw(st.lists(st.sampled_from(["x", "y", "class_names", "missing key", "extra key", "bytes", "npy"]),
                           max_size=2, unique=True))
    for spoil in spoils:
        if spoil in ("x", "y"):
            arrays[spoil] = draw(st.one_of(any_array(rows), any_array(None)))
        elif spoil == "class_names":
            arrays["class_names"] = draw(st.one_of(st.just(np.array(["a", "b", "c"])), any_array(None)))
        elif spoil == "missing key":
            arrays.pop(draw(st.sampled_from(["x", "y"])))
        elif spoil == "extra key":
            arrays["extra"] = np.zeros(2)
    buffer = io.BytesIO()
    if "npy" in spoils:
        np.save(buffer, arrays.get("x", np.zeros(3)), allow_pickle=True)
    else:
        (np.savez_compressed if draw(st.booleans()) else np.savez)(buffer, **arrays)
    raw, notes = buffer.getvalue(), [f"{k}: {v.dtype} {list(v.shape)}" for k, v in arrays.items()]
    if "bytes" in spoils:
        what, raw = draw(damaged_bytes(raw))
        notes.append(what)
    clean = rows >= 2 and set(spoils) <= {"extra key"}
    return DataCase({"data.npz": raw}, {"name": "npz", "path": "data.npz"}, clean, notes + spoils)


# ---- image folders ------------------------------------------------------------------------

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "GIF": ".gif", "TIFF": ".tif", "WEBP": ".webp"}
MODES = {"PNG": ["L", "RGB", "RGBA", "P", "1", "LA", "I;16"], "JPEG": ["L", "RGB", "CMYK"],
         "BMP": ["L", "RGB", "P", "1"], "GIF": ["L", "P"], "TIFF": ["L", "RGB", "F", "I", "RGBA"],
         "WEBP": ["RGB", "RGBA"]}


@st.composite
def valid_image(draw) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(MODES[fmt]))
    size, height = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return FORMATS[fmt], png_bytes(draw(st.integers(0, 255)), size, mode, fmt, height)


@st.composite
def image_folders(draw) -> DataCase:
    files: dict[str, bytes | None] = {"imgs": None}
    classes = draw(st.lists(st.sampled_from(["cat", "dog", "emu", "b\u00e9e", "two words", ".hidden"]), min_size=0,
                            max_size=3, unique=True))
    images = []
    for name in classes:
        files[f"imgs/{name}"] = None
        for i in range(draw(st.integers(0 if name.startswith(".") else 1, 3))):
            suffix, raw = draw(valid_image())
            files[f"imgs/{name}/{i}{suffix}"] = raw
            images += [] if name.startswith(".") else [f"imgs/{name}/{i}{suffix}"]
    notes: list[str] = []
    for spoil in draw(st.lists(st.sampled_from(["damaged", "renamed", "folder", "not an image", "loose image"]),
                               max_size=2)):
        if spoil == "loose image":
            files["imgs/loose.png"] = png_bytes(0)
        elif images:
            path = draw(st.sampled_from(images))
            images.remove(path)
            raw = files.pop(path)
            if spoil == "damaged":
                what, raw = draw(damaged_bytes(raw))
                spoil += f" ({what})"
            elif spoil == "renamed":  # an image under another format's name
                path = path.rsplit(".", 1)[0] + draw(st.sampled_from([".png", ".jpg", ".gif"]))
            elif spoil == "folder":
                raw = None
            else:
                path, raw = path.rsplit(".", 1)[0] + draw(st.sampled_from([".txt", ".csv", ""])), b"some text\n"
            files[path] = raw
        notes.append(spoil)
    spec: dict = {"name": "image_folder", "path": "imgs", "grayscale": draw(st.booleans()),
                  "stream": draw(st.booleans())}
    if draw(st.booleans()):
        spec["size"] = draw(st.sampled_from([[4, 4], [3, 5], 2, [0, 4], [5000, 4], "big", [1.5, 2]]))
        notes.append(f"size {spec['size']}")
    visible = [c for c in classes if not c.startswith(".")]
    readable = {c: sum(1 for p, raw in files.items() if raw is not None and p.startswith(f"imgs/{c}/"))
                for c in visible}
    clean = (len(visible) >= 2 and all(readable.values()) and sum(readable.values()) >= 2
             and all(n.startswith(("renamed", "loose image")) for n in notes if not n.startswith("size"))
             and spec.get("size", [4, 4]) in ([4, 4], [3, 5], 2))
    return DataCase(files, spec, clean, notes)
