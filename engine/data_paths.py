"""Which datasets read a file of the user's, and making that file's path absolute (so a project
copied into a run folder or a cluster job still finds its data). Imports no torch."""

from __future__ import annotations

from pathlib import Path

FILE_SOURCES = ("csv", "npz", "image_folder", "text_csv", "audio_folder")


def make_data_path_absolute(dataset, base: Path) -> str | None:
    """Resolve `dataset["path"]` against `base`, in place, for a source that reads a file; returns the
    absolute path, or None when the dataset names no file."""
    if not isinstance(dataset, dict) or dataset.get("name") not in FILE_SOURCES:
        return None
    path = dataset.get("path")
    if not isinstance(path, str):
        return None
    dataset["path"] = str((base / Path(path).expanduser()).resolve())
    return dataset["path"]
