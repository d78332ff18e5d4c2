"""Hostile data files: the CSV, npz and image-folder loaders either give a data set whose every
value is usable, or raise a one-line `UserError` that names the file (and the line and column,
the array or the image where it can); never another exception, never a hang, never a pickle.

The cases come from `datafiles.py`. A clean case (a valid data set) must load. A data set that
loads is checked whole: finite inputs, class indices within the classes, every streamed image
read once.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, note, settings

from engine.data import load_dataset
from engine.errors import UserError
from tests.reliability.datafiles import DataCase, csv_files, image_folders, npz_files
from tests.reliability.guards import one_line, time_limit
from tests.reliability.tally import count, examples

LOAD_SECONDS = 10.0  # a hang guard: these files load in milliseconds
MAX_MESSAGE = 400
OPTION_PROBLEMS = ("dataset option '", "has no option", "val_split")  # the spec, not the file, is at fault


def check_loaded(dataset) -> int:
    """Read every sample of both splits; inputs are finite, class indices within the classes."""
    samples = 0
    for split in (dataset.train, dataset.val):
        for x, y in split.batches(4):
            assert x.dtype in (torch.float32, torch.int64) and (x.dtype == torch.int64 or torch.isfinite(x).all())
            if dataset.task == "classification":
                assert y.dtype == torch.int64 and ((y >= 0) & (y < dataset.num_classes)).all()
            else:
                assert torch.isfinite(y).all()
            samples += len(x)
    assert samples == len(dataset.train) + len(dataset.val) > 0
    return samples


def assert_names_the_place(message: str, case: DataCase, folder: Path) -> None:
    """The message names the data file (or the spec option at fault); a line it names exists."""
    files = [Path(case.spec["path"]).name] if isinstance(case.spec.get("path"), str) else []
    assert any(name in message for name in files) or any(words in message for words in OPTION_PROBLEMS), message
    for line in re.findall(r"\bline (\d+)\b", message):
        text = (folder / case.spec["path"]).read_bytes()
        assert 1 <= int(line) <= text.count(b"\n") + 1, message


def load_or_refuse(case: DataCase, subject: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        case.write(folder)
        try:
            with time_limit(LOAD_SECONDS, "loading the data"):
                dataset = load_dataset(case.spec, folder, val_split=0.5, seed=0)
                check_loaded(dataset)  # a streamed folder reads its images here
        except UserError as error:
            message = one_line(str(error))
            assert len(message) <= MAX_MESSAGE, message
            assert not case.clean, f"a valid data set was refused: {message}"
            assert_names_the_place(message, case, folder)
            count(subject, "refused with UserError naming the file")
            return
    count(subject, "clean: loaded whole" if case.clean else "loaded whole")


@settings(max_examples=examples(200))
@given(case=csv_files())
def test_hostile_csv_files(case):
    note(f"{case.spec} {case.notes}")
    load_or_refuse(case, "hostile CSV files")


@settings(max_examples=examples(200))
@given(case=npz_files())
def test_hostile_npz_archives(case):
    note(f"{case.spec} {case.notes}")
    load_or_refuse(case, "hostile npz archives")


@settings(max_examples=examples(80))
@given(case=image_folders())
def test_hostile_image_folders(case):
    note(f"{case.spec} {case.notes}")
    load_or_refuse(case, "hostile image folders")


@pytest.mark.parametrize("promised", [10**9, 10**12, 2**62])
def test_an_npz_header_promising_more_than_memory_is_refused(promised):
    """numpy allocates what an array's header promises before reading: the promise is untrusted."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(4))
    raw = buffer.getvalue()
    header_end = raw.index(b"\n")
    lie = raw.replace(b"(4,)", f"({promised},)".encode())
    lie = lie[:header_end - (len(lie) - len(raw))] + lie[header_end:]  # the header keeps its length
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("x.npy", lie)
        zipped.writestr("y.npy", raw)
    load_or_refuse(DataCase({"data.npz": archive.getvalue()}, {"name": "npz", "path": "data.npz"}, False),
                   "hostile npz archives")
