"""A data file damaged in the middle of a run: a streamed image folder loses a file, a class or
the whole folder, or a file is emptied, cut short, overwritten with junk or replaced by a folder,
while an epoch runs. The run fails with a message naming a damaged file; checkpoints written
before still load; a healthy run in another thread trains on.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given, note, settings
from hypothesis import strategies as st

from engine.training import BatchProgress
from tests.reliability.datafiles import write_image_folder
from tests.reliability.tally import count, rounds
from tests.reliability.training import (
    Bystander,
    assert_checkpoints_load,
    assert_failed_clearly,
    assert_restored_last_good,
    run,
    write_project,
)

PER_CLASS = 10  # 2 classes: 15 images to train (4 batches of 4), 5 to validate
TRAIN_BATCHES = 4


def delete(path: Path) -> None:
    path.unlink()


def empty(path: Path) -> None:
    path.write_bytes(b"")


def cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def junk(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)


def folder_in_the_way(path: Path) -> None:
    path.unlink()
    path.mkdir()


FILE_DAMAGE = {f.__name__: f for f in (delete, empty, cut_short, junk, folder_in_the_way)}


def damage(root: Path, what: str, which: int) -> list[Path]:
    """Damage the image folder `root`; returns the files made unreadable."""
    files = sorted(root.glob("*/*.png"))
    if what == "delete a class":
        gone = [f for f in files if f.parent == files[which].parent]
        shutil.rmtree(files[which].parent)
        return gone
    if what == "delete the folder":
        shutil.rmtree(root)
        return files
    FILE_DAMAGE[what](files[which])
    return [files[which]]


DAMAGE = [*FILE_DAMAGE, "delete a class", "delete the folder"]


def damaged_mid_epoch(what: str):
    """A hypothesis test of `what` done to one file (or its class, or the folder) at a random batch."""
    @settings(max_examples=rounds(2, 20))
    @given(which=st.integers(0, 2 * PER_CLASS - 1), epoch=st.integers(1, 2), batch=st.integers(1, TRAIN_BATCHES))
    def check(which, epoch, batch):
        note(f"{what} (file {which}) after epoch {epoch}, batch {batch}")
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            root = write_image_folder(folder / "imgs", per_class=PER_CLASS)
            project = write_project(folder, {"name": "image_folder", "path": "imgs", "grayscale": True,
                                             "stream": True}, batch_size=4, input_params={"shape": [16]})
            damaged: list[Path] = []

            def callback(event):
                if isinstance(event, BatchProgress) and (event.epoch, event.batch) == (epoch, batch) and not damaged:
                    damaged.extend(damage(root, what, which))

            # one more whole epoch after the damage: every file is read again
            trainer, result, events = run(project, folder / "run", epochs=epoch + 1, progress_every=1,
                                          callback=callback)
            names = [str(path.relative_to(folder)) for path in damaged]
            message = assert_failed_clearly(result, events, "cannot read image '")
            assert any(f"cannot read image '{name}'" in message for name in names), (names, message)
            assert len(result.history) in (epoch - 1, epoch)  # the damage epoch's validation may fail too
            assert_checkpoints_load(trainer, result)
            assert_restored_last_good(trainer, result)
        count("data files damaged mid-run", "failed naming the file, checkpoints load")

    return check


def test_a_streamed_image_folder_damaged_mid_epoch(tmp_path):
    with Bystander(tmp_path):
        for what in DAMAGE:
            damaged_mid_epoch(what)()
