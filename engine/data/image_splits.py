"""Image folders at scale: the splits of a cached folder and of a streamed one, and decoding in workers.

`CachedImageSplit` serves batches from a folder's uint8 `ImageCache` (see
`engine.data.image_cache`): during the first epoch its persistent DataLoader worker
processes decode the images into the cache while the model trains; afterwards
batches are only indexing, then the conversion to float (and the dataset's
mean/std) on the training device. Given the training augmentation
(`with_augment`), the workers apply it to whole batches on the CPU, off the
training thread, seeded from the run's generator; once the cache is full, transforms as cheap as the
engine's batched ones run on the training thread instead (the hand-over cost more than they do). A folder too large for the
memory budget is a `StreamedImageSplit`: the same decoding (and augmentation, on
the CPU) in persistent worker processes every epoch, with pinned memory on CUDA. `decode_all` decodes a list of
files at once (prediction). Batches of images come in channels-last memory. All
splits have the interface of `engine.data.dataset.TensorSplit`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from engine.data.dataset import StreamingSplit, _conform, _order, batch_bounds
from engine.data.image_cache import (
    DECODE_BATCH,
    PARALLEL_FROM,
    CacheBatches,
    ImageCache,
    float_batch,
    image_layout,
    raised,
    to_float,
)
from engine.data.progress import Progress, Throttled
from engine.errors import UserError

__all__ = ["CachedImageSplit", "StreamedImageSplit", "decode_all", "default_workers", "to_float"]


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
        batch = raised(batch)
        out[done:done + len(batch)] = batch
        done += len(batch)
        throttled(done)
    throttled(len(files), final=True)
    return out


@dataclass(frozen=True)
class CachedImageSplit:
    """One split of a folder's images, read from its uint8 `ImageCache` (see the module docstring)."""

    cache: ImageCache
    rows: torch.Tensor  # int64: this split's images' rows in the cache
    classes: torch.Tensor  # class indices (unused for an autoencoder)
    mean: torch.Tensor | None = None  # [1, C, 1, 1]
    std: torch.Tensor | None = None
    autoencoder: bool = False  # the target is the input image
    shapes: tuple = (None, torch.float32, None, None)  # (reshape input, input dtype, reshape target, target dtype)
    workers: int = 0  # decoding (and augmenting) processes
    augment: torch.nn.Module | None = None  # applied to every batch (the training split's augmentation)
    device: torch.device = torch.device("cpu")
    state: dict = field(default_factory=dict)  # the worker DataLoader; the pixels on a non-CPU device

    def __len__(self) -> int:
        return self.rows.shape[0]

    @property
    def pixels(self) -> torch.Tensor:
        """This split's images as uint8 [N, C, H, W], decoding now what the cache lacks."""
        self.cache.fill(self.rows, self.workers)
        return self.cache.pixels.index_select(0, self.rows)

    @property
    def x(self) -> torch.Tensor:
        """Every input as the model gets it, unaugmented (a float copy of the whole split: for checks)."""
        return self._batch(self.pixels, self.classes, augment=False)[0]

    @property
    def y(self) -> torch.Tensor:
        return self._batch(self.pixels, self.classes, augment=False)[1] if self.autoencoder else self.classes

    def to(self, device) -> CachedImageSplit:
        return replace(self, device=torch.device(device), state={})

    def with_augment(self, augment: torch.nn.Module) -> CachedImageSplit:
        """The split with `augment` applied to every batch: in its worker processes on the CPU (off the
        training thread), else on the device as batches are made."""
        return replace(self, augment=augment, state={})

    def num_batches(self, batch_size: int, limit: int | None = None) -> int:
        return len(batch_bounds(len(self), batch_size, limit))

    def close(self) -> None:
        """End the worker processes (a later epoch that needs them starts new ones)."""
        self.state.pop("loader", None)
        self.state.pop("sampler", None)

    def _batch(self, x: torch.Tensor, y: torch.Tensor, augment: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        x, target = float_batch(x, self.mean, self.std, self.augment if augment else None, self.autoencoder)
        return self._conformed(x, target if self.autoencoder else y)

    def _conformed(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        reshape_input, input_dtype, reshape_target, target_dtype = self.shapes
        x = image_layout(_conform(x, reshape_input, input_dtype))
        return x, _conform(y, reshape_target, target_dtype or y.dtype)

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                limit: int | None = None, indices: torch.Tensor | None = None) -> Iterator:
        order = _order(len(self), shuffle, generator) if indices is None else indices.cpu()
        bounds = batch_bounds(len(order), batch_size, limit)
        if self.uses_worker_processes():
            yield from self._worker_batches([order[start:end].tolist() for start, end in bounds], generator)
            return
        self.close()
        if self.device.type != "cpu":
            if "pixels" not in self.state:
                self.state.update(pixels=self.pixels.to(self.device), classes=self.classes.to(self.device))
            pixels, classes = self.state["pixels"], self.state["classes"]
            order = order.to(self.device)
        for start, end in bounds:
            index = order[start:end]
            if self.device.type == "cpu":
                rows = self.rows.index_select(0, index)
                raised(self.cache.read(rows.tolist()))
                yield self._batch(self.cache.pixels.index_select(0, rows), self.classes.index_select(0, index))
            else:
                yield self._batch(pixels.index_select(0, index), classes.index_select(0, index))

    def uses_worker_processes(self) -> bool:
        """Whether the next pass's batches come from worker processes: while the cache fills, or for
        augmentation that runs there."""
        return self.device.type == "cpu" and self.workers > 0 and (not self._complete() or self._augment_in_workers())

    def _augment_in_workers(self) -> bool:
        """Whether the workers should augment the cached batches: only for transforms that cost more than the
        hand-over (kornia's); the batched ones run on the training thread (bench section 10: about 5% of a
        small CNN's step there, 13% in the workers, whose hand-over and processes share the 2 cores)."""
        return self.augment is not None and not getattr(self.augment, "cheap", False)

    def _complete(self) -> bool:
        if not self.state.get("complete"):
            self.state["complete"] = self.cache.complete(self.rows)
        return self.state["complete"]

    def _worker_batches(self, batches: list[list[int]], generator: torch.Generator | None) -> Iterator:
        """The batches made by persistent worker processes (see `CacheBatches`), seeded from `generator`."""
        if "loader" not in self.state:
            seed = int(torch.randint(0, 2**62, (), generator=generator))
            self.state["sampler"] = sampler = _EpochBatches()
            self.state["loader"] = torch.utils.data.DataLoader(
                CacheBatches(self.cache, self.rows, self.classes, self.mean, self.std, self.autoencoder, self.augment),
                sampler=sampler, batch_size=None, num_workers=self.workers, persistent_workers=True,
                generator=torch.Generator().manual_seed(seed))
        self.state["sampler"].batches = batches
        for batch in self.state["loader"]:
            x, y = raised(batch)
            yield self._conformed(x, torch.tensor(y, dtype=self.classes.dtype) if isinstance(y, list) else y)
        if not self._augment_in_workers() and self._complete():
            self.close()  # the cache serves the next pass: no workers need wait for it

    def sample(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.rows[i:i + 1]
        raised(self.cache.read(rows.tolist()))
        x, y = self._batch(self.cache.pixels.index_select(0, rows), self.classes[i:i + 1], augment=False)
        return x[0], y[0]

    def labels(self) -> torch.Tensor:
        return self.classes

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


class _AugmentedBatch:
    """Collates decoded images in a worker into a float batch, normalised and augmented (a training split's
    augmentation on the CPU, off the training thread)."""

    def __init__(self, mean, std, autoencoder: bool, augment: torch.nn.Module):
        self.mean, self.std, self.autoencoder, self.augment = mean, std, autoencoder, augment

    def __call__(self, items: list):
        batch = _collate_labelled(items)
        if isinstance(batch, UserError):
            return batch
        x, target = float_batch(batch[0], self.mean, self.std, self.augment, self.autoencoder)
        return x, target if self.autoencoder else batch[1]


@dataclass(frozen=True)
class StreamedImageSplit(StreamingSplit):
    """One split read from disk every epoch by persistent worker processes (pinned memory on CUDA)."""

    workers: int = 0
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    autoencoder: bool = False
    state: dict = field(default_factory=dict)  # the DataLoader and its sampler, made on first use, kept across epochs
    augment: torch.nn.Module | None = None  # the training split's augmentation

    def with_augment(self, augment: torch.nn.Module) -> StreamedImageSplit:
        """The split with `augment` applied to every batch: in its worker processes on the CPU, else on the
        device."""
        return replace(self, augment=augment, state={})

    def uses_worker_processes(self) -> bool:
        """Whether the batches come from worker processes (they read the files every epoch)."""
        return self.workers > 0

    def _in_workers(self) -> bool:
        """Whether the workers hand over batches already float and augmented."""
        return self.augment is not None and self.device.type == "cpu"

    def _loader(self) -> tuple[torch.utils.data.DataLoader, _EpochBatches]:
        key = (self.device.type, self.workers)
        if self.state.get("key") != key:
            sampler = _EpochBatches()
            collate = (_AugmentedBatch(self.mean, self.std, self.autoencoder, self.augment) if self._in_workers()
                       else _collate_labelled)
            loader = torch.utils.data.DataLoader(
                self.samples, batch_sampler=sampler, num_workers=self.workers, collate_fn=collate,
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
            x, y = raised(batch)
            if not self._in_workers():
                x, target = float_batch(x.to(self.device, non_blocking=pin), self.mean, self.std, self.augment,
                                        self.autoencoder)
                y = target if self.autoencoder else y.to(self.device, non_blocking=pin)
            x, y = self.transform(x, y) if self.transform is not None else (x, y)
            yield image_layout(x), y

    def sample(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = raised(_collate_labelled([self.samples[i]]))
        x = to_float(x, self.mean, self.std)
        y = x.clone() if self.autoencoder else y
        if self.transform is not None:
            x, y = self.transform(x, y)
        return x[0], y[0]


def channel_tensor(values: np.ndarray | None) -> torch.Tensor | None:
    return None if values is None else torch.from_numpy(np.asarray(values, dtype=np.float32).reshape(1, -1, 1, 1))
