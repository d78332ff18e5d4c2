"""Deleting a run: only the files a run writes, never anything else a person put in its folder.
Imports no torch. (The GUI first offers the desktop's trash; this is the fallback and the CLI's way.)
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from engine.history.folders import FOLDS, METRICS, PROJECT, RECORD

RUN_FILES = (RECORD, PROJECT, METRICS, FOLDS, "best.safetensors", "last.safetensors", "weights.safetensors",
             "init.json", "report.json", "tokenizer.json", "sweep.json")  # the last four: fine-tuning, the
# advisor, a text dataset's tokenizer and a sweep's trial, each written by the run
RUN_FOLDERS = re.compile(r"tensorboard|fold-\d+")  # written whole by the run


def delete_run(folder: str | Path) -> list[str]:
    """Remove the run's own files and folders from `folder`, and the folder if that empties it; returns
    the names left behind (files the run did not create), empty when the folder is gone."""
    folder = Path(folder)
    for name in RUN_FILES:
        (folder / name).unlink(missing_ok=True)
    for entry in list(folder.iterdir()):
        if entry.is_dir() and not entry.is_symlink() and RUN_FOLDERS.fullmatch(entry.name):
            shutil.rmtree(entry)
    left = sorted(entry.name for entry in folder.iterdir())
    if not left:
        folder.rmdir()
    return left
