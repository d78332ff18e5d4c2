"""What the data layer tells a person: notes on what it decided (a capped image size), file and
folder names that reach a message escaped (one line each, no control character), and files
named `.npz` that are something else, described as what they are."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from engine.data import load_dataset
from engine.data.images import MAX_DEFAULT_SIDE
from engine.errors import UserError
from tests.reliability.datafiles import png_bytes, write_image_folder


def load(spec, folder):
    return load_dataset(spec, folder, 0.25, 0)


# ---- the default image size ------------------------------------------------------------

def large_first_image(folder, width: int, height: int):
    """An image folder whose first image is `width` x `height` (one colour: a small PNG)."""
    root = write_image_folder(folder / "imgs", per_class=3, size=8)
    (root / "c0" / "0.png").write_bytes(png_bytes(128, width, "L", height=height))
    return root


@pytest.mark.parametrize("stream", [False, True])
def test_a_large_first_image_gives_a_capped_default_size_and_says_so(tmp_path, stream):
    large_first_image(tmp_path, 4000, 3000)
    data = load({"name": "image_folder", "path": "imgs", "stream": stream}, tmp_path)
    assert data.input_shape == (3, 192, MAX_DEFAULT_SIDE) and data.streaming == stream  # the aspect is kept
    (note,) = data.notes
    assert note.startswith("images are resized to [192, 256] (height, width): the first image, 'imgs/c0/0.png', "
                           "is [3000, 4000]") and '"size": [height, width]' in note
    x, _ = data.train.sample(0)
    assert tuple(x.shape) == (3, 192, 256)
    assert data.preview(1).notes == [note]  # what the GUI's data panel shows


def test_a_chosen_or_small_size_has_no_note(tmp_path):
    large_first_image(tmp_path, 600, 400)
    chosen = load({"name": "image_folder", "path": "imgs", "size": [300, 500]}, tmp_path)
    assert chosen.input_shape == (3, 300, 500) and not chosen.notes
    small = write_image_folder(tmp_path / "small", per_class=3, size=8)
    assert not load({"name": "image_folder", "path": small.name}, tmp_path).notes


# ---- names in messages -------------------------------------------------------------------

HOSTILE_NAMES = ["new\nline", "esc\x1b[31mape", "tab\there"]


def assert_one_clean_line(message: str, name: str) -> None:
    assert "\n" not in message and message.isprintable(), repr(message)
    assert name.encode("unicode_escape").decode() in message, (name, message)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_csv_file_name_is_escaped_in_its_messages(tmp_path, name):
    (tmp_path / f"{name}.csv").write_text("a,y\n1,2\nabc,3\n")
    with pytest.raises(UserError) as error:
        load({"name": "csv", "path": f"{name}.csv"}, tmp_path)
    assert_one_clean_line(str(error.value), name)
    assert "line 3, column 'a': 'abc' is not a number" in str(error.value)
    with pytest.raises(UserError) as error:
        load({"name": "csv", "path": f"{name}-missing.csv"}, tmp_path)
    assert_one_clean_line(str(error.value), name)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_image_and_folder_names_are_escaped_in_their_messages(tmp_path, name):
    root = write_image_folder(tmp_path / "imgs", per_class=2)
    (root / "c1" / f"{name}.png").write_bytes(b"not an image")
    with pytest.raises(UserError) as error:
        load({"name": "image_folder", "path": "imgs"}, tmp_path)
    assert_one_clean_line(str(error.value), name)
    assert "not an image Pillow can read" in str(error.value)
    (root / "c1" / f"{name}.png").unlink()
    (root / name).mkdir()
    with pytest.raises(UserError) as error:  # a class folder with no images
        load({"name": "image_folder", "path": "imgs"}, tmp_path)
    assert_one_clean_line(str(error.value), name)
    lone = tmp_path / f"{name}-folder"
    (lone / name).mkdir(parents=True)
    with pytest.raises(UserError) as error:  # a single class
        load({"name": "image_folder", "path": lone.name}, tmp_path)
    assert_one_clean_line(str(error.value), name)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_an_npz_file_name_is_escaped_in_its_messages(tmp_path, name):
    np.savez(tmp_path / f"{name}.npz", x=np.zeros((4, 2)))
    with pytest.raises(UserError) as error:
        load({"name": "npz", "path": f"{name}.npz"}, tmp_path)
    assert_one_clean_line(str(error.value), name)


# ---- files named .npz that are something else -----------------------------------------------

def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize("raw, message", [
    (b"x,y\n1,2\n", "d.npz is not an npz archive: it holds text ('x,y\\n1,2\\n'...)"),
    (b"", "d.npz is not an npz archive: it is empty"),
    (b"\x00\xff\xfe junk", "d.npz is not an npz archive: it starts with the bytes b'\\x00\\xff\\xfe junk'"),
    (pickle.dumps({"x": [1, 2]}), "d.npz is not an npz archive: it holds pickled Python objects, which Neurocanvas "
                                  "never loads"),
    (npy_bytes(np.zeros(3)), "d.npz holds a single array (a .npy file)"),
    (npy_bytes(np.array([{"a": 1}], dtype=object)), "d.npz holds pickled Python objects (a .npy array of objects)"),
])
def test_a_file_named_npz_is_described_as_what_it_is(tmp_path, raw, message):
    (tmp_path / "d.npz").write_bytes(raw)
    with pytest.raises(UserError) as error:
        load({"name": "npz", "path": "d.npz"}, tmp_path)
    assert str(error.value).startswith(message), str(error.value)
    if b"pickle" not in raw and raw[:1] != b"\x80" and b"|O" not in raw:
        assert "pickle" not in str(error.value)
