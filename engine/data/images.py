"""Image folders: one subfolder per class, read with Pillow.

Images are converted to RGB (or grayscale), resized to `size` [H, W] (default:
the first image's size, scaled down to at most 256 pixels a side, with a note
saying so), scaled to [0, 1] and, when `mean`/`std` are given,
normalised per channel. A folder whose pixels fit in `max_memory_mb` is read
into memory (the fast path); a larger one, or any with `stream: true`, is read
lazily, one batch at a time, through a torch DataLoader. Errors name the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.data.arrays import ArrayData, split_indices
from engine.data.dataset import Dataset, StreamingSplit
from engine.data.options import Options, open_file
from engine.data.progress import Progress, Throttled
from engine.errors import UserError, reason
from graphs.errors import printable, quoted
from graphs.files import kind_of

ACCEPTED = ("path", "size", "grayscale", "mean", "std", "stream", "max_memory_mb")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
DEFAULT_MAX_MEMORY_MB = 1024
MAX_DEFAULT_SIDE = 256  # the size taken from the first image is scaled down to this many pixels a side


@dataclass(frozen=True)
class ImageReader:
    """Reads one image file into a [C, H, W] float32 array."""

    root: Path
    size: tuple[int, int]  # (height, width)
    grayscale: bool
    mean: np.ndarray | None = None  # per channel, shape [C, 1, 1]
    std: np.ndarray | None = None

    @property
    def channels(self) -> int:
        return 1 if self.grayscale else 3

    def read(self, path: Path) -> np.ndarray:
        from PIL import Image

        height, width = self.size
        name = quoted(self.name(path))
        with open_file(path, f"image {name}") as handle:
            try:
                with Image.open(handle) as image:
                    image = image.convert("L" if self.grayscale else "RGB")
                    if image.size != (width, height):
                        image = image.resize((width, height), Image.Resampling.BILINEAR)
                    pixels = np.asarray(image, dtype=np.float32) / 255.0
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
                raise UserError(f"cannot read image {name}: {_why(error)}") from None
        pixels = pixels[None] if self.grayscale else np.transpose(pixels, (2, 0, 1))
        if self.mean is not None:
            pixels = (pixels - self.mean) / self.std
        return np.ascontiguousarray(pixels, dtype=np.float32)

    def name(self, path: Path) -> str:
        """The file as `folder/class/file.png`, relative to the image folder's parent."""
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)


class ImageFiles(torch.utils.data.Dataset):
    """Image files and their class indices, read one at a time (the streaming path)."""

    def __init__(self, files: list[Path], labels: list[int], reader: ImageReader, autoencoder: bool = False):
        self.files, self.labels, self.reader, self.autoencoder = files, labels, reader, autoencoder

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(self.reader.read(self.files[i]))
        return x, (x.clone() if self.autoencoder else torch.tensor(self.labels[i], dtype=torch.int64))


@dataclass
class ImageFolder:
    """The files found in an image folder, and how to read them."""

    files: list[Path]
    labels: list[int]
    class_names: list[str]
    reader: ImageReader
    stream: bool
    notes: list[str] = field(default_factory=list)  # e.g. that the default size was capped

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.reader.channels, *self.reader.size)

    @property
    def normalization(self) -> dict | None:
        if self.reader.mean is None:
            return None
        return {"mean": self.reader.mean.reshape(-1).tolist(), "std": self.reader.std.reshape(-1).tolist()}

    def read_all(self, progress: Progress | None = None) -> ArrayData:
        """Every image in memory (the fast path); `progress(done_images, total_images)` hears how far."""
        x = np.empty((len(self.files), *self.input_shape), dtype=np.float32)
        throttled = Throttled(progress, len(self.files))
        for i, path in enumerate(self.files):
            throttled(i, final=i == 0)
            x[i] = self.reader.read(path)
        throttled(len(self.files), final=True)
        return ArrayData(x, np.asarray(self.labels, dtype=np.int64), "classification", list(self.class_names),
                         modality="images", normalization=self.normalization, notes=list(self.notes))

    def streaming_dataset(self, name: str, val_split: float, seed: int, autoencoder: bool) -> Dataset:
        """A dataset that reads its images lazily, batch by batch."""
        train_index, val_index = split_indices(len(self.files), val_split, seed)

        def split(indices: np.ndarray) -> StreamingSplit:
            files = [self.files[i] for i in indices]
            labels = [self.labels[i] for i in indices]
            return StreamingSplit(ImageFiles(files, labels, self.reader, autoencoder),
                                  torch.tensor(labels, dtype=torch.int64))

        return Dataset(
            name=name, train=split(train_index), val=split(val_index),
            task="regression" if autoencoder else "classification",
            input_shape=self.input_shape, input_dtype="float32",
            target_shape=self.input_shape if autoencoder else (), target_dtype="float32" if autoencoder else "int64",
            class_names=None if autoencoder else list(self.class_names), modality="images",
            normalization=self.normalization, notes=tuple(self.notes))


def _why(error: BaseException) -> str:
    from PIL import UnidentifiedImageError

    if isinstance(error, UnidentifiedImageError):
        return "not an image Pillow can read, or a damaged one"
    return reason(error)


def _image_files(folder: Path, root: Path) -> list[Path]:
    """The images in `folder` (hidden files, other suffixes and subfolders aside); a pipe, a device or
    a socket named like an image is refused, never opened."""
    found = []
    for path in folder.iterdir():
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            kind = kind_of(path.stat().st_mode)
        except OSError:  # a link to nothing
            continue
        if kind not in (None, "a folder"):
            raise UserError(f"{quoted(str(path.relative_to(root.parent)))} is {kind}, not an image file")
        if kind is None:
            found.append(path)
    return sorted(found)


def scan_image_folder(options: Options) -> ImageFolder:
    root = options.path()
    folder_name = quoted(root.name)
    if not root.is_dir():
        raise UserError(f"{folder_name} is a file; an image folder holds one subfolder of images per class")
    classes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        loose = "its images must go into one subfolder per class" if _image_files(root, root) else "it is empty"
        example = printable(root.name)
        raise UserError(f"image folder {folder_name} has no class subfolders: {loose} "
                        f"(e.g. {example}/cat/1.png, {example}/dog/1.png)")
    if len(classes) == 1:
        raise UserError(f"image folder {folder_name} has a single class ({quoted(classes[0].name)}); "
                        "a classifier needs at least two class subfolders")
    files, labels = [], []
    for index, folder in enumerate(classes):
        found = _image_files(folder, root)
        if not found:
            raise UserError(f"class folder {quoted(f'{root.name}/{folder.name}')} holds no images "
                            f"({', '.join(IMAGE_SUFFIXES)})")
        files += found
        labels += [index] * len(found)
    grayscale = options.bool("grayscale", False)
    channels = 1 if grayscale else 3
    mean, std = options.floats("mean", None, channels), options.floats("std", None, channels)
    if std is not None and any(s <= 0 for s in std):
        raise UserError("dataset option 'std' must hold positive numbers")
    normalize = mean is not None or std is not None
    size, notes = options.size("size"), []
    if size is None:
        size, notes = _default_size(ImageReader(root, (1, 1), grayscale), files[0])
    reader = ImageReader(root, size, grayscale, _per_channel(mean or [0.0], channels) if normalize else None,
                         _per_channel(std or [1.0], channels) if normalize else None)
    estimate = len(files) * channels * reader.size[0] * reader.size[1] * 4
    limit = options.int("max_memory_mb", DEFAULT_MAX_MEMORY_MB, 1) * 1024**2
    stream = options.bool("stream", estimate > limit)
    return ImageFolder(files, labels, [c.name for c in classes], reader, stream, notes)


def _default_size(reader: ImageReader, path: Path) -> tuple[tuple[int, int], list[str]]:
    """The first image's [height, width], scaled down to at most MAX_DEFAULT_SIDE a side (keeping
    its aspect), and a note when it was."""
    from PIL import Image

    name = quoted(reader.name(path))
    with open_file(path, f"image {name}") as handle:
        try:
            with Image.open(handle) as image:
                width, height = image.size
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            raise UserError(f"cannot read image {name}: {_why(error)}") from None
    scale = MAX_DEFAULT_SIDE / max(height, width)
    if scale >= 1:
        return (height, width), []
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return size, [f"images are resized to [{size[0]}, {size[1]}] (height, width): the first image, {name}, is "
                  f"[{height}, {width}], and the size taken from it is capped at {MAX_DEFAULT_SIDE} pixels a side; "
                  'set "size": [height, width] in the dataset to choose another']


def _per_channel(values: list[float], channels: int) -> np.ndarray:
    return np.asarray(values * channels if len(values) == 1 else values, dtype=np.float32).reshape(-1, 1, 1)
