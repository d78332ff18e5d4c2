"""The PNG header fast path of the folder's header check: the same sizes as Pillow, Pillow's messages for
anything else, and a decompression bomb refused from its IHDR alone."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from engine.data.images import ImageReader
from engine.data.png_header import HEAD_BYTES, SIGNATURE, png_size
from engine.errors import UserError


def _ihdr(width: int, height: int) -> bytes:
    data = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return SIGNATURE + struct.pack(">I", 13) + b"IHDR" + data + struct.pack(">I", zlib.crc32(b"IHDR" + data))


@pytest.mark.parametrize("size", [(32, 32), (7, 40), (300, 1)])
def test_png_size_reads_what_pillow_reads(tmp_path, size):
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((size[1], size[0], 3), np.uint8)).save(path)
    with Image.open(path) as image:
        assert png_size(path.read_bytes()[:HEAD_BYTES]) == image.size == size


def test_png_size_is_none_for_anything_but_a_well_formed_png_start():
    good = _ihdr(32, 32)
    assert png_size(good) == (32, 32)
    assert png_size(good[:-1]) is None  # truncated
    assert png_size(good[:-1] + bytes([good[-1] ^ 1])) is None  # CRC wrong
    assert png_size(b"GIF89a" + good[6:]) is None
    assert png_size(_ihdr(0, 32)) is None


def test_header_check_of_a_png_does_not_ask_pillow(tmp_path, monkeypatch):
    path = tmp_path / "cat" / "a.png"
    path.parent.mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(path)
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("Pillow opened a well-formed PNG"))
    ImageReader(tmp_path, (32, 32), False).check_header(path)


def test_a_bomb_in_the_ihdr_alone_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "cat" / "huge.png"
    path.parent.mkdir()
    path.write_bytes(_ihdr(100_000, 100_000))  # no pixel data at all: only the header says how large
    with pytest.raises(UserError, match=r"cat/huge.png.*decompression bomb"):
        ImageReader(tmp_path, (32, 32), False).check_header(path)


def test_a_damaged_png_start_gets_pillows_message_naming_the_file(tmp_path):
    path = tmp_path / "cat" / "bad.png"
    path.parent.mkdir()
    path.write_bytes(SIGNATURE + b"\0" * 40)
    with pytest.raises(UserError, match=r"cannot read image .*cat/bad.png"):
        ImageReader(tmp_path, (32, 32), False).check_header(path)


@pytest.mark.parametrize("workers", [0, 2])
def test_the_folders_header_check_names_the_bad_file_in_workers_too(tmp_path, monkeypatch, workers):
    from engine.data import image_cache

    monkeypatch.setattr(image_cache, "PARALLEL_FROM", 4)  # workers for a few files (tasks name positions)
    (tmp_path / "cat").mkdir()
    files = []
    for i in range(600):
        files.append(tmp_path / "cat" / f"{i}.png")
        files[-1].write_bytes(_ihdr(8, 8))
    files[517].write_bytes(b"no image at all")
    with pytest.raises(UserError, match=r"cannot read image .*cat/517\.png") as caught:
        image_cache.check_headers(files, ImageReader(tmp_path, (8, 8), False), workers)
    assert "Traceback" not in str(caught.value)
