"""Image folders at scale: decoding in worker processes, a uint8 cache, and streamed splits.

`decode_all` decodes every image of a folder once, in DataLoader worker processes
when there are many, into one uint8 tensor [N, C, H, W] (a quarter of the memory
of float32), telling `progress` how far it is. `CachedImageSplit` serves batches
from that cache: only indexing, then the conversion to float (and the dataset's
mean/std) on the training device, so epoch 2 onward decodes nothing. A folder
too large for the memory budget is a `StreamedImageSplit`: the same decoding in
persistent worker processes every epoch, with pinned memory on CUDA. Both have
the interface of `engine.data.dataset.TensorSplit`.

A worker's `UserError` (a damaged file) comes back as a value and is raised in
the main process, so the message names the file and carries no worker traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from engine.data.dataset import StreamingSplit, _conform, _order, batch_bounds
from engine.data.progress import Progress, Throttled
from engine.errors import UserError

DECODE_BATCH = 256  # images a worker decodes per task
PARALLEL_FROM = 512  # fewer images than this decode in this process (starting workers costs more)


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(count: int) -> int:
    """Worker processes for decoding `count` images: none for a few, else one per core (at most 8)."""
    return 0 if count < PARALLEL_FROM else min(8, usable_cpus())


class DecodedFiles(torch.utils.data.Dataset):
    """Image files decoded to uint8 [C, H, W] by `reader`; a file that fails comes back as its UserError."""

    def __init__(self, files: list, reader):
        self.files, self.reader = files, reader

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        try:
            return torch.from_numpy(self.reader.read_uint8(self.files[i]))
        except UserError as error:
            return error


def _stack(items: list):
    """Collate decoded images, or pass on the first error among them."""
    error = next((item for item in items if isinstance(item, UserError)), None)
    return error if error is not None else torch.stack(items)


def _raised(batch):
    if isinstance(batch, UserError):
        raise UserError(str(batch))
    return batch


def decode_all(files: list, reader, progress: Progress | None = None, workers: int | None = None) -> torch.Tensor:
    """Every image of `files` as one uint8 tensor [N, C, H, W]; `progress(done, total)` hears how far."""
    workers = default_workers(len(files)) if workers is None else workers
    out = torch.empty((len(files), reader.channels, *reader.size), dtype=torch.uint8)
    throttled = Throttled(progress, len(files))
    throttled(0, final=True)
    loader = torch.utils.data.DataLoader(DecodedFiles(files, reader), batch_size=DECODE_BATCH, num_workers=workers,
                                         collate_fn=_stack)
    done = 0
    for batch in loader:
        batch = _raised(batch)
        out[done:done + len(batch)] = batch
        done += len(batch)
        throttled(done)
    throttled(len(files), final=True)
    return out


def to_float(x: torch.Tensor, mean: torch.Tensor | None, std: torch.Tensor | None) -> torch.Tensor:
    """uint8 pixels as float32 in [0, 1], normalised per channel when `mean`/`std` are given."""
    x = x.float().div_(255.0)
    return x if mean is None else x.sub_(mean.to(x.device)).div_(std.to(x.device))


@dataclass(frozen=True)
class CachedImageSplit:
    """One split of decoded images held as uint8 [N, C, H, W] (on the training device once placed)."""

    pixels: torch.Tensor  # uint8
    classes: torch.Tensor  # class indices (unused for an autoencoder)
    mean: torch.Tensor | None = None  # [1, C, 1, 1]
    std: torch.Tensor | None = None
    autoencoder: bool = False  # the target is the input image
    shapes: tuple = (None, torch.float32, None, None)  # (reshape input, input dtype, reshape target, target dtype)

    def __len__(self) -> int:
        return self.pixels.shape[0]

    @property
    def x(self) -> torch.Tensor:
        """Every input as the model gets it (a float copy of the whole cache: for checks and benchmarks)."""
        return self._batch(self.pixels, self.classes)[0]

    @property
    def y(self) -> torch.Tensor:
        return self._batch(self.pixels, self.classes)[1] if self.autoencoder else self.classes

    def to(self, device) -> CachedImageSplit:
        return replace(self, pixels=self.pixels.to(device), classes=self.classes.to(device))

    def num_batches(self, batch_size: int, limit: int | None = None) -> int:
        return len(batch_bounds(len(self), batch_size, limit))

    def _batch(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = to_float(x, self.mean, self.std)
        y = x.clone() if self.autoencoder else y
        reshape_input, input_dtype, reshape_target, target_dtype = self.shapes
        return _conform(x, reshape_input, input_dtype), _conform(y, reshape_target, target_dtype or y.dtype)

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                limit: int | None = None, indices: torch.Tensor | None = None) -> Iterator:
        order = (_order(len(self), shuffle, generator) if indices is None else indices).to(self.pixels.device)
        for start, end in batch_bounds(len(order), batch_size, limit):
            index = order[start:end]
            yield self._batch(self.pixels.index_select(0, index), self.classes.index_select(0, index))

    def sample(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self._batch(self.pixels[i:i + 1], self.classes[i:i + 1])
        return x[0].cpu(), y[0].cpu()

    def labels(self) -> torch.Tensor:
        return self.classes.cpu()

    def conformed(self, reshape_input, input_dtype, reshape_target, target_dtype) -> CachedImageSplit:
        return replace(self, shapes=(reshape_input, input_dtype, reshape_target, target_dtype))


class _EpochBatches:
    """A batch sampler whose batches are set before each epoch, so a persistent DataLoader can be reused."""

    def __init__(self):
        self.batches: list[list[int]] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class LabelledFiles(DecodedFiles):
    """Decoded images with their class index: (uint8 [C, H, W], int64), or the file's UserError."""

    def __init__(self, files: list, labels: list[int], reader):
        super().__init__(files, reader)
        self.labels = labels

    def __getitem__(self, i: int):
        image = super().__getitem__(i)
        return image if isinstance(image, UserError) else (image, self.labels[i])


def _collate_labelled(items: list):
    error = next((item for item in items if isinstance(item, UserError)), None)
    if error is not None:
        return error
    return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items], dtype=torch.int64)


@dataclass(frozen=True)
class StreamedImageSplit(StreamingSplit):
    """One split read from disk every epoch by persistent worker processes (pinned memory on CUDA)."""

    workers: int = 0
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    autoencoder: bool = False
    state: dict = field(default_factory=dict)  # the DataLoader and its sampler, made on first use, kept across epochs

    def _loader(self) -> tuple[torch.utils.data.DataLoader, _EpochBatches]:
        key = (self.device.type, self.workers)
        if self.state.get("key") != key:
            sampler = _EpochBatches()
            loader = torch.utils.data.DataLoader(
                self.samples, batch_sampler=sampler, num_workers=self.workers, collate_fn=_collate_labelled,
                persistent_workers=self.workers > 0, pin_memory=self.device.type == "cuda")
            self.state.update(key=key, loader=loader, sampler=sampler)
        return self.state["loader"], self.state["sampler"]

    def close(self) -> None:
        """End the worker processes (a later epoch starts new ones)."""
        self.state.clear()

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                limit: int | None = None, indices: torch.Tensor | None = None) -> Iterator:
        order = (_order(len(self), shuffle, generator) if indices is None else indices).tolist()
        loader, sampler = self._loader()
        sampler.batches = [order[start:end] for start, end in batch_bounds(len(order), batch_size, limit)]
        pin = self.device.type == "cuda"
        for batch in loader:
            x, y = _raised(batch)
            x = to_float(x.to(self.device, non_blocking=pin), self.mean, self.std)
            y = x.clone() if self.autoencoder else y.to(self.device, non_blocking=pin)
            yield self.transform(x, y) if self.transform is not None else (x, y)

    def sample(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = _raised(_collate_labelled([self.samples[i]]))
        x = to_float(x, self.mean, self.std)
        y = x.clone() if self.autoencoder else y
        if self.transform is not None:
            x, y = self.transform(x, y)
        return x[0], y[0]


def channel_tensor(values: np.ndarray | None) -> torch.Tensor | None:
    return None if values is None else torch.from_numpy(np.asarray(values, dtype=np.float32).reshape(1, -1, 1, 1))
