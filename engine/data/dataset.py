"""The `Dataset` a data source produces: a seeded train/validation split, ready to batch.

Each split is either a `TensorSplit` (everything in memory as tensors; the fast
path: moved to the training device once, batched by indexing a seeded
permutation, no per-sample work) or a `StreamingSplit` (files read lazily
through a `torch.utils.data.DataLoader`, for image folders that don't fit in
memory). Both offer the same small interface, so the trainer doesn't care which
it gets. A final batch of a single sample is merged into the one before it, so
BatchNorm never sees a batch of one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from engine.shape_rules import fmt

TORCH_DTYPES = {"float32": torch.float32, "int64": torch.int64}
Batch = tuple[torch.Tensor, torch.Tensor]


def batch_bounds(n: int, batch_size: int, limit: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each batch over n samples; a trailing batch of one joins the previous batch."""
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2] = (bounds[-2][0], n)
        bounds.pop()
    return bounds[:limit] if limit is not None else bounds


def _order(n: int, shuffle: bool, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randperm(n, generator=generator) if shuffle else torch.arange(n)


@dataclass(frozen=True)
class TensorSplit:
    """One split held in memory: inputs `x` [N, ...] and targets `y` [N, ...] on one device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device) -> TensorSplit:
        return TensorSplit(self.x.to(device), self.y.to(device))

    def uses_worker_processes(self) -> bool:
        """Whether the batches come from worker processes (the trainer's thread tuner waits for them to end)."""
        return False

    def num_batches(self, batch_size: int, limit: int | None = None) -> int:
        return len(batch_bounds(len(self), batch_size, limit))

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                limit: int | None = None, indices: torch.Tensor | None = None) -> Iterator[Batch]:
        """Batches already on the split's device; shuffled with `generator` when asked, or of the
        samples at `indices` in that order when given (e.g. one process's shard of the data)."""
        if indices is None and not shuffle:
            for start, end in batch_bounds(len(self), batch_size, limit):
                yield self.x[start:end], self.y[start:end]
            return
        order = (_order(len(self), True, generator) if indices is None else indices).to(self.x.device)
        x, y = self.x, self.y
        for start, end in batch_bounds(len(order), batch_size, limit):
            index = order[start:end]
            yield x.index_select(0, index), y.index_select(0, index)

    def sample(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i].cpu(), self.y[i].cpu()

    def labels(self) -> torch.Tensor:
        return self.y.cpu()

    def conformed(self, reshape_input: tuple | None, input_dtype, reshape_target: tuple | None,
                  target_dtype) -> TensorSplit:
        return TensorSplit(_conform(self.x, reshape_input, input_dtype), _conform(self.y, reshape_target, target_dtype))


def _conform(t: torch.Tensor, shape: tuple | None, dtype: torch.dtype) -> torch.Tensor:
    if shape is not None:
        t = t.reshape(t.shape[0], *shape)
    return t if t.dtype == dtype else t.to(dtype)


@dataclass(frozen=True)
class StreamingSplit:
    """One split read lazily: `samples` is a torch Dataset of (x, y) pairs (e.g. image files)."""

    samples: torch.utils.data.Dataset
    targets: torch.Tensor  # every sample's label, known without reading the files (for counts)
    device: torch.device = torch.device("cpu")
    transform: Callable[[torch.Tensor, torch.Tensor], Batch] | None = None

    def __len__(self) -> int:
        return len(self.targets)

    def to(self, device) -> StreamingSplit:
        return replace(self, device=torch.device(device))

    def uses_worker_processes(self) -> bool:
        """Whether the batches come from worker processes: not here (its loader reads in this process)."""
        return False

    def num_batches(self, batch_size: int, limit: int | None = None) -> int:
        return len(batch_bounds(len(self), batch_size, limit))

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                limit: int | None = None, indices: torch.Tensor | None = None) -> Iterator[Batch]:
        order = (_order(len(self), shuffle, generator) if indices is None else indices).tolist()
        index_batches = [order[start:end] for start, end in batch_bounds(len(order), batch_size, limit)]
        pin = self.device.type == "cuda"
        loader = torch.utils.data.DataLoader(self.samples, batch_sampler=index_batches, num_workers=0,
                                             pin_memory=pin)
        for x, y in loader:
            if self.transform is not None:
                x, y = self.transform(x, y)
            yield x.to(self.device, non_blocking=pin), y.to(self.device, non_blocking=pin)

    def sample(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.samples[i]
        if self.transform is not None:
            x, y = self.transform(x[None], y[None])
            x, y = x[0], y[0]
        return x, y

    def labels(self) -> torch.Tensor:
        return self.targets

    def conformed(self, reshape_input: tuple | None, input_dtype, reshape_target: tuple | None,
                  target_dtype) -> StreamingSplit:
        previous = self.transform

        def transform(x: torch.Tensor, y: torch.Tensor) -> Batch:
            if previous is not None:
                x, y = previous(x, y)
            return _conform(x, reshape_input, input_dtype), _conform(y, reshape_target, target_dtype)

        return replace(self, transform=transform)


Split = TensorSplit | StreamingSplit


@dataclass
class DataPreview:
    """What the GUI's data panel shows: the first samples and the class balance."""

    kind: str  # "table" | "images" | "audio" | "text" (audio: images holds spectrograms [bands, frames], low bands last)
    description: str
    labels: list[str]  # one per previewed sample
    columns: list[str] = field(default_factory=list)  # feature names ("table")
    rows: list[list[float]] = field(default_factory=list)  # feature values in the file's own units ("table")
    images: list[np.ndarray] = field(default_factory=list)  # [H, W] or [H, W, C] floats in [0, 1] ("images")
    class_counts: dict[str, int] | None = None  # over train and validation
    notes: list[str] = field(default_factory=list)  # what loading decided on its own (Dataset.notes)
    preprocessing: dict | None = None  # Dataset.preprocessing (a table's: each column's role and encoding)
    texts: list[str] = field(default_factory=list)  # each sample's text as its tokens spell it ("text")
    tokens: list[list[str]] = field(default_factory=list)  # each sample's token strings, padding left out ("text")
    lengths: list[int] = field(default_factory=list)  # tokens per text over the training split ("text")


def _in_memory(split: str, tensor: str) -> property:
    """A `Dataset` property: tensor `tensor` ("x" or "y") of split `split` if it is in memory, else None."""
    return property(lambda dataset: getattr(getattr(dataset, split), tensor, None))


@dataclass
class Dataset:
    """A loaded dataset, split into training and validation samples.

    `input_shape`/`target_shape` leave out the batch; dtypes are the graph's
    dtype names ("float32", "int64"). `normalization` records how inputs were
    scaled ({"mean": [...], "std": [...]} per feature or channel), so the same
    scaling can be applied when the trained model is used. `preprocessing` is
    the rest of what turns a raw input (an image file, a sentence, a WAV file, a
    CSV row) into the model's input the way training did: a JSON-able dict with
    a "kind" ("images" | "text" | "audio" | "table") and that kind's settings
    (image size and channels, the tokenizer, audio features, column transforms
    fitted on the training split). Runs store it with their weights.
    """

    name: str
    train: Split
    val: Split
    task: str  # "classification" | "regression"
    input_shape: tuple[int, ...]
    input_dtype: str
    target_shape: tuple[int, ...]
    target_dtype: str
    class_names: list[str] | None = None
    feature_names: list[str] | None = None
    modality: str = "table"  # "table" | "images" | "audio"
    normalization: dict | None = None
    notes: tuple[str, ...] = ()  # what loading decided that a person should know (a capped image size)
    preprocessing: dict | None = None

    # ---- the tensors of the fast path (None when streaming) -------------
    @property
    def streaming(self) -> bool:
        return isinstance(self.train, StreamingSplit)

    x_train = _in_memory("train", "x")
    y_train = _in_memory("train", "y")
    x_val = _in_memory("val", "x")
    y_val = _in_memory("val", "y")

    @property
    def vocab_size(self) -> int | None:
        """How many token ids a text dataset's inputs use (an Embedding's num_embeddings takes it), else None."""
        if isinstance(self.preprocessing, dict) and self.preprocessing.get("kind") == "text":
            return int(self.preprocessing["vocab_size"])
        return None

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.class_names is not None else None

    def to(self, device) -> Dataset:
        """The same dataset with its in-memory tensors on `device` (streamed batches go there too)."""
        return replace(self, train=self.train.to(device), val=self.val.to(device))

    # ---- for people ------------------------------------------------------
    def describe(self) -> str:
        """One line, e.g. `digits: 1437 train / 360 validation, input [1, 8, 8] float32, 10 classes`."""
        what = (f"{self.num_classes} classes" if self.task == "classification"
                else f"regression target {fmt(self.target_shape)}")
        streamed = ", streamed from disk" if self.streaming else ""
        return (f"{self.name}: {len(self.train)} train / {len(self.val)} validation, "
                f"input {fmt(self.input_shape)} {self.input_dtype}, {what}{streamed}")

    def label_name(self, y: torch.Tensor) -> str:
        if self.task == "classification" and self.class_names is not None and y.numel() == 1:
            return self.class_names[int(y.reshape(()))]
        values = y.reshape(-1).tolist()
        return ", ".join(f"{v:.4g}" for v in values[:4]) + (", ..." if len(values) > 4 else "")

    def class_counts(self) -> dict[str, int] | None:
        if self.task != "classification" or self.class_names is None:
            return None
        counts = Counter(torch.cat([self.train.labels().reshape(-1), self.val.labels().reshape(-1)]).tolist())
        return {name: counts.get(i, 0) for i, name in enumerate(self.class_names)}

    def preview(self, n: int = 8) -> DataPreview:
        """The first `n` training samples (rows or images, with their labels) and the class counts."""
        n = max(0, min(n, len(self.train)))
        samples = [self.train.sample(i) for i in range(n)]
        labels = [self.label_name(y) for _, y in samples]
        kind = self.modality if self.modality in ("images", "audio") else "table"
        preview = DataPreview(kind, self.describe(), labels, class_counts=self.class_counts(), notes=list(self.notes),
                              preprocessing=self.preprocessing)
        if self.modality == "text":
            from engine.data.text import preview_texts

            preview_texts(self, preview, [x for x, _ in samples])
        elif preview.kind == "images":
            preview.images = [self._image(x) for x, _ in samples]
        elif preview.kind == "audio":  # each input as a spectrogram picture
            from engine.data.audio_features import picture

            preview.images = [picture(x, self.preprocessing) for x, _ in samples]
        else:
            preview.columns = list(self.feature_names or [f"x{i}" for i in range(_width(self.input_shape))])
            preview.rows = [self._row(x) for x, _ in samples]
        return preview

    def _row(self, x: torch.Tensor) -> list[float]:
        values = x.reshape(-1).double().numpy()
        if self.normalization is not None:
            std, mean = np.asarray(self.normalization["std"]), np.asarray(self.normalization["mean"])
            values = values * std + mean
            values[np.abs(values) < 1e-6 * (np.abs(mean) + std)] = 0.0  # a 0 in the file, within float32 rounding
        return [float(f"{v:.7g}") for v in values]  # float32 precision, without binary noise

    def _image(self, x: torch.Tensor) -> np.ndarray:
        image = x.float().numpy()
        if self.normalization is not None:
            std = np.asarray(self.normalization["std"], dtype=np.float32).reshape(-1, 1, 1)
            mean = np.asarray(self.normalization["mean"], dtype=np.float32).reshape(-1, 1, 1)
            image = image * std + mean
        image = np.clip(image, 0.0, 1.0)
        return image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))


def _width(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape)) if shape else 1
