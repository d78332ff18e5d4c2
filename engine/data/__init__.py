"""Data sources for training: built-in sets, CSV, .npz, image folders and audio folders.

`load_dataset(spec, base_dir, val_split, seed)` turns the project's
`training["dataset"]` into a `Dataset` with a seeded train/validation split.
`fill_shapes` gives shapeless Input/Target nodes the dataset's shapes;
`fit_dataset` shapes a dataset for a compiled model. A file is read only when it
is a regular file (never a pipe or a device); a CSV file is streamed, so its
text is never held whole; `progress` hears how far the reading is, and
`Dataset.notes` what loading decided on its own. Nothing here imports Qt;
scikit-learn is imported only when one of its bundled sets is asked for.
"""

from __future__ import annotations

from pathlib import Path

from engine.data import audio, builtin, images, npz, tabular, text
from engine.data.arrays import build_dataset
from engine.data.dataset import DataPreview, Dataset, StreamingSplit, TensorSplit
from engine.data.fit import fill_shapes, fit_dataset
from engine.data.options import Options
from engine.data.progress import Progress
from engine.errors import UserError
from graphs.errors import quoted

__all__ = ["SOURCES", "DataPreview", "Dataset", "StreamingSplit", "TensorSplit", "fill_shapes", "fit_dataset",
           "load_dataset"]

# dataset name -> the options it accepts (besides `name` and `autoencoder`)
SOURCES: dict[str, tuple[str, ...]] = {
    **builtin.ACCEPTED, "csv": tabular.ACCEPTED, "npz": npz.ACCEPTED, "image_folder": images.ACCEPTED,
    "audio_folder": audio.ACCEPTED,
    "text_csv": text.ACCEPTED,
}


def load_dataset(spec: dict, base_dir: str | Path = ".", val_split: float = 0.2, seed: int = 0,
                 progress: Progress | None = None) -> Dataset:
    """Load the dataset `spec` names; file paths are relative to `base_dir` (the project's folder).

    `progress(done, total)`, when given, hears how far the reading of a file is: first (0, total),
    then at most ten times a second, last (total, total), in the source's own units (bytes of a CSV
    file, images of an image folder read into memory, files of an audio folder); sources that load at
    once don't call it.
    `Dataset.notes` holds what loading decided that a person should know (e.g. a capped image size,
    a target taken as regression)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise UserError(f'training "dataset" must be an object with a "name" ({", ".join(SOURCES)}), '
                        f"got {quoted(spec)}")
    name = spec["name"]
    if name not in SOURCES:
        raise UserError(f"unknown dataset {quoted(name)}; choose one of: {', '.join(SOURCES)}")
    options = Options(spec, SOURCES[name], Path(base_dir))
    autoencoder = options.bool("autoencoder", False)
    if name == "image_folder":
        return images.load_image_folder(options, name, val_split, seed, autoencoder, progress)
    elif name == "csv":
        data = tabular.load_csv(options, progress, val_split, seed)
    elif name == "audio_folder":
        data = audio.load_audio_folder(options, progress)
    elif name == "text_csv":
        data = text.load_text_csv(options, val_split, seed)
    elif name == "npz":
        data = npz.load_npz(options)
    else:
        data = builtin.load_builtin(options, seed)
    return build_dataset(name, data, val_split, seed, autoencoder)
