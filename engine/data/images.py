"""Image folders: one subfolder per class, read with Pillow.

Images are converted to RGB (or grayscale), resized to `size` [H, W] (default:
the first image's size, scaled down to at most 256 pixels a side, with a note
saying so), scaled to [0, 1] and, when `mean`/`std` are given,
normalised per channel. A folder whose pixels fit in `max_memory_mb` as uint8 is
decoded once, while the first epoch trains (in worker processes when it is large,
see `engine.data.image_cache`), and kept in memory, so later epochs decode nothing; a larger one, or any with
`stream: true`, is decoded every epoch by persistent worker processes. Errors
name the file; every file's header is checked when the folder is loaded, so an
image too large to decode safely (a decompression bomb) or a file that is no image
is refused before training starts. `"sample": "shapes"` reads a generated set instead
of `path`. `prepare_image_files` turns image files into model inputs exactly as
training did, from the run's stored `preprocessing`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.data.arrays import split_indices
from engine.data.dataset import Dataset
from engine.data.image_cache import ImageCache, check_headers
from engine.data.image_splits import (
    CachedImageSplit,
    LabelledFiles,
    StreamedImageSplit,
    channel_tensor,
    decode_all,
    default_workers,
)
from engine.data.options import Options, open_file
from engine.data.png_header import HEAD_BYTES, png_size
from engine.data.progress import Progress
from engine.errors import UserError, reason
from graphs.errors import printable, quoted
from graphs.files import kind_of

ACCEPTED = ("path", "size", "grayscale", "mean", "std", "stream", "max_memory_mb", "augment", "sample", "workers")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
DEFAULT_MAX_MEMORY_MB = 1024
MAX_DEFAULT_SIDE = 256  # the size taken from the first image is scaled down to this many pixels a side


@dataclass(frozen=True)
class ImageReader:
    """Reads one image file into a [C, H, W] float32 array."""

    root: Path | None  # the image folder; None for files named on their own (prediction)
    size: tuple[int, int]  # (height, width)
    grayscale: bool
    mean: np.ndarray | None = None  # per channel, shape [C, 1, 1]
    std: np.ndarray | None = None

    @property
    def channels(self) -> int:
        return 1 if self.grayscale else 3

    def read_uint8(self, path: Path) -> np.ndarray:
        """The image as uint8 [C, H, W] at `size`, without normalisation."""
        pixels = self._open(path, decode=True)
        pixels = pixels[None] if self.grayscale else np.transpose(pixels, (2, 0, 1))
        return np.array(pixels, order="C")  # a writable copy (Pillow's buffer is read-only)

    def check_header(self, path: Path) -> None:
        """Refuse `path` now if it is no image Pillow can identify, or a decompression bomb, reading only
        its header (a file damaged further in is refused when it is decoded). A well-formed PNG start is
        read directly (see `engine.data.png_header`); anything else goes to Pillow."""
        with self._handle(path) as handle:
            head = handle.read(HEAD_BYTES)
        size = png_size(head)
        if size is None:
            self._open(path, decode=False)
        else:
            _check_pixels(size, self, path)

    def _handle(self, path: Path):
        """`path` opened for reading; a UserError names it when it can't be, or is no regular file."""
        return open_file(path, lambda: f"image {self.quoted(path)}")  # this runs once per image

    def _open(self, path: Path, decode: bool) -> np.ndarray | None:
        """The file's pixels [H, W(, C)] at `size` when `decode`; a UserError names the file."""
        from PIL import Image

        height, width = self.size
        mode = "L" if self.grayscale else "RGB"
        handle = self._handle(path)
        with handle, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # _check_pixels refuses it
            try:
                with Image.open(handle) as image:
                    _check_pixels(image.size, self, path)
                    if not decode:
                        return None
                    image.draft(mode, (width, height))  # JPEG: decode at a smaller scale
                    if image.mode != mode:
                        image = image.convert(mode)
                    if image.size != (width, height):
                        image = image.resize((width, height), Image.Resampling.BILINEAR)
                    return np.asarray(image, dtype=np.uint8)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
                raise UserError(f"cannot read image {self.quoted(path)}: {_why(error)}") from None

    def quoted(self, path: Path) -> str:
        return quoted(self.name(path))

    def read(self, path: Path) -> np.ndarray:
        """The image as float32 [C, H, W] in [0, 1], normalised when `mean`/`std` are set."""
        pixels = self.read_uint8(path).astype(np.float32) / 255.0
        if self.mean is not None:
            pixels = (pixels - self.mean) / self.std
        return np.ascontiguousarray(pixels, dtype=np.float32)

    def name(self, path: Path) -> str:
        """The file as `folder/class/file.png`, relative to the image folder's parent."""
        try:
            return str(path.relative_to(self.root.parent)) if self.root is not None else str(path)
        except ValueError:
            return str(path)


@dataclass
class ImageFolder:
    """The files found in an image folder, and how to read them."""

    files: list[Path]
    labels: list[int]
    class_names: list[str]
    reader: ImageReader
    stream: bool
    notes: list[str] = field(default_factory=list)
    workers: int = 0  # decoding processes  # e.g. that the default size was capped

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.reader.channels, *self.reader.size)

    @property
    def normalization(self) -> dict | None:
        if self.reader.mean is None:
            return None
        return {"mean": self.reader.mean.reshape(-1).tolist(), "std": self.reader.std.reshape(-1).tolist()}

    @property
    def preprocessing(self) -> dict:
        """How a raw image file becomes the model's input (see `prepare_image_files`)."""
        return {"kind": "images", "size": list(self.reader.size), "channels": self.reader.channels,
                **(self.normalization or {})}

    def dataset(self, name: str, val_split: float, seed: int, autoencoder: bool,
                progress: Progress | None = None) -> Dataset:
        """The split dataset: decoded once into a uint8 cache as it is first read, or streamed when it doesn't
        fit the budget."""
        train_index, val_index = split_indices(len(self.files), val_split, seed)
        labels = torch.tensor(self.labels, dtype=torch.int64)
        mean, std = channel_tensor(self.reader.mean), channel_tensor(self.reader.std)
        if self.stream:
            def split(indices: np.ndarray) -> StreamedImageSplit:
                files = [self.files[i] for i in indices]
                chosen = labels[torch.from_numpy(indices.astype(np.int64))]
                return StreamedImageSplit(LabelledFiles(files, chosen.tolist(), self.reader), chosen,
                                          workers=self.workers, mean=mean, std=std, autoencoder=autoencoder)
        else:
            check_headers(self.files, self.reader, self.workers, progress)
            cache = ImageCache(self.files, self.reader)  # decoded as the first epoch reads it

            def split(indices: np.ndarray) -> CachedImageSplit:
                rows = torch.from_numpy(indices.astype(np.int64))
                return CachedImageSplit(cache, rows, labels[rows], mean, std, autoencoder, workers=self.workers)

        return Dataset(
            name=name, train=split(train_index), val=split(val_index),
            task="regression" if autoencoder else "classification",
            input_shape=self.input_shape, input_dtype="float32",
            target_shape=self.input_shape if autoencoder else (), target_dtype="float32" if autoencoder else "int64",
            class_names=None if autoencoder else list(self.class_names), modality="images",
            normalization=self.normalization, notes=tuple(self.notes), preprocessing=self.preprocessing)


def load_image_folder(options: Options, name: str, val_split: float, seed: int, autoencoder: bool,
                      progress: Progress | None = None) -> Dataset:
    """The image folder `options` names, as a split `Dataset`."""
    return scan_image_folder(options).dataset(name, val_split, seed, autoencoder, progress)


def _check_pixels(size: tuple[int, int], reader: ImageReader, path: Path) -> None:
    """Refuse an image of `size` (width, height) whose decoded pixels could exhaust memory (a decompression
    bomb), before decoding."""
    from PIL import Image

    width, height = size
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise UserError(f"image {reader.quoted(path)} is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
                        f"images over {limit / 1e6:.0f} megapixels are refused, as decoding them could exhaust "
                        "memory (a decompression bomb); make the image smaller")


def _why(error: BaseException) -> str:
    from PIL import Image, UnidentifiedImageError

    if isinstance(error, UnidentifiedImageError):
        return "not an image Pillow can read, or a damaged one"
    if isinstance(error, Image.DecompressionBombError):
        return (f"{error} Decoding it could exhaust memory, so it is refused; make the image smaller")
    return reason(error)


def _image_files(folder: Path, root: Path) -> list[Path]:
    """The images in `folder` (hidden files, other suffixes and subfolders aside), sorted by name; a pipe, a
    device or a socket named like an image is refused, never opened."""
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or os.path.splitext(entry.name)[1].lower() not in IMAGE_SUFFIXES:
                continue
            path = Path(entry.path)
            if entry.is_file(follow_symlinks=False):  # a regular file, known from the folder listing alone
                found.append(path)
                continue
            try:
                kind = kind_of(path.stat().st_mode)
            except OSError:  # a link to nothing
                continue
            if kind not in (None, "a folder"):
                raise UserError(f"{quoted(str(path.relative_to(root.parent)))} is {kind}, not an image file")
            if kind is None:
                found.append(path)
    return sorted(found, key=lambda path: path.name)  # one folder: the names order them as the paths would


def scan_image_folder(options: Options) -> ImageFolder:
    root = folder_of(options)
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
    estimate = len(files) * channels * reader.size[0] * reader.size[1]  # cached as uint8
    limit = options.int("max_memory_mb", DEFAULT_MAX_MEMORY_MB, 1) * 1024**2
    stream = options.bool("stream", estimate > limit)
    workers = options.int("workers", default_workers(len(files)), 0, 64)
    return ImageFolder(files, labels, [c.name for c in classes], reader, stream, notes, workers)


def folder_of(options: Options) -> Path:
    """The folder `path` names, or the generated sample set `sample` names."""
    sample = options.spec.get("sample")
    if sample is None:
        return options.path()
    if "path" in options.spec:
        raise UserError('dataset \'image_folder\' takes "path" or "sample", not both')
    from engine.data.image_samples import SAMPLES, sample_folder

    if sample not in SAMPLES:
        raise UserError(f"image_folder has no sample set {quoted(sample)}; choose one of: {', '.join(SAMPLES)}")
    return sample_folder(sample)


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


def prepare_image_files(preprocessing: dict, paths: list) -> torch.Tensor:
    """Image files as the model's input [N, C, H, W] float32, prepared exactly as training prepared its
    images (`preprocessing` is a run's stored {"kind": "images", "size", "channels", "mean", "std"}).
    Each path must be an image file; a bad one is a UserError naming it."""
    if not isinstance(preprocessing, dict) or preprocessing.get("kind") != "images":
        kind = preprocessing.get("kind") if isinstance(preprocessing, dict) else None
        raise UserError(f"these weights were trained on {kind or 'unknown'} inputs, not images")
    channels, size = preprocessing.get("channels", 3), preprocessing.get("size")
    mean, std = preprocessing.get("mean"), preprocessing.get("std")
    if channels not in (1, 3) or not (isinstance(size, list) and len(size) == 2 and all(
            isinstance(v, int) and v >= 1 for v in size)):
        raise UserError(f"the stored image preprocessing is damaged (size {size!r}, channels {channels!r}); "
                        "train the model again to store it afresh")
    reader = ImageReader(None, tuple(size), channels == 1,
                         _per_channel(mean, channels) if mean is not None else None,
                         _per_channel(std, channels) if std is not None else None)
    files = []
    for path in map(Path, paths):
        try:
            kind = kind_of(path.stat().st_mode)
        except OSError as error:
            raise UserError(f"cannot read image {quoted(str(path))}: {error.strerror or error}") from None
        if kind is not None:
            raise UserError(f"{quoted(str(path))} is {kind}, not an image file")
        files.append(path)
    pixels = decode_all(files, reader)
    from engine.data.image_splits import to_float

    return to_float(pixels, channel_tensor(reader.mean), channel_tensor(reader.std))
