"""Image augmentation declared in the dataset, and mixup/CutMix declared in the training settings.

The dataset's `"augment"` list names transforms the way torchvision.transforms.v2
spells them, e.g. `[{"type": "RandomResizedCrop", "size": [32, 32], "scale": [0.8, 1.0]},
{"type": "RandomHorizontalFlip"}, {"type": "ColorJitter", "brightness": 0.2}]`.
They run on whole batches, for the training split only
(validation and prediction see the images as they are): on the training device,
or, for an image folder trained on the CPU, in the data's worker processes, so the
training thread never waits for them (`TrainingAugment.hand_over`).
kornia.augmentation builds and checks every transform; the crops (RandomCrop with
constant padding, RandomResizedCrop), the flips and a brightness-only ColorJitter
then run as the batched torch modules of `engine.data.batch_transforms`, cheaper.
Transforms work on pixels in [0, 1]: a dataset normalised with mean/std is
un-normalised first and normalised again after. Random numbers come from
torch's global generator, which the trainer seeds from the run's seed (a worker's
from the run's shuffling generator), so a run is repeatable.

`"mixup": alpha` and `"cutmix": alpha` in the training settings blend pairs of
samples (and their labels, through the loss: `lam * loss(y) + (1 - lam) *
loss(y[perm])`); with both, each batch uses one of the two at random. They need
class labels and a CrossEntropyLoss or NLLLoss.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from engine.augment_names import ARGUMENTS, REQUIRED
from engine.data.batch_transforms import all_batched, batched_transform, fuse
from engine.errors import UserError
from graphs.errors import quoted

MIX_LOSSES = ("CrossEntropyLoss", "NLLLoss")


def _pair(value, what: str) -> tuple:
    """An int or a two-number list as a pair (torchvision accepts `size=32` for `[32, 32]`)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return tuple(value)
    raise ValueError(f"'{what}' must be a number or a list of two numbers, got {value!r}")


def _size(value) -> tuple[int, int]:
    size = _pair(value, "size")
    if not all(isinstance(v, int) and v >= 1 for v in size):
        raise ValueError(f"'size' must be [height, width] in whole pixels, got {value!r}")
    return size


def _tuple(name: str):
    return lambda value: _pair(value, name)


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float, list)):
        raise ValueError(f"expected a number or [low, high], got {value!r}")
    return tuple(value) if isinstance(value, list) else float(value)


def _plain(value):
    return value


# how each torchvision argument is read, whichever transform takes it
CONVERTERS: dict[str, Callable] = {
    "size": _size, "padding": _plain, "pad_if_needed": _plain, "fill": _plain, "padding_mode": _plain,
    "scale": _tuple("scale"), "ratio": _tuple("ratio"), "p": float, "degrees": _number, "brightness": _number,
    "contrast": _number, "saturation": _number, "hue": _number, "value": float,
}
# kornia applies some transforms to half the samples by default where torchvision applies them always: p=1.
KORNIA_DEFAULTS = {"RandomCrop": {"p": 1.0}, "RandomResizedCrop": {"p": 1.0}, "RandomRotation": {"p": 1.0},
                   "ColorJitter": {"p": 1.0}, "RandomGrayscale": {"p": 0.1}}


def _entry_name(index: int, entry) -> str:
    kind = entry.get("type") if isinstance(entry, dict) else None
    return f"augment entry {index}" + (f" ({quoted(kind)})" if isinstance(kind, str) else "")


def build_transform(index: int, entry) -> torch.nn.Module:
    """The kornia module for one entry of the list; a UserError names the entry (index and type)."""
    import kornia.augmentation as K

    name = _entry_name(index, entry)
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise UserError(f'{name} must be an object with a "type", e.g. {{"type": "RandomHorizontalFlip"}}')
    kind = entry["type"]
    if kind not in ARGUMENTS:
        raise UserError(f"{name}: unknown augmentation; choose one of: {', '.join(ARGUMENTS)}")
    accepted = ARGUMENTS[kind]
    arguments = {k: v for k, v in entry.items() if k != "type"}
    unknown = sorted(set(arguments) - set(accepted))
    if unknown:
        raise UserError(f"{name} has no argument {', '.join(quoted(u) for u in unknown)}; "
                        f"its arguments are: {', '.join(accepted) or 'none'}")
    missing = [r for r in REQUIRED.get(kind, ()) if r not in arguments]
    if missing:
        raise UserError(f"{name} needs the argument {', '.join(quoted(m) for m in missing)}")
    try:
        kwargs = {**KORNIA_DEFAULTS.get(kind, {}), **{k: CONVERTERS[k](v) for k, v in arguments.items()}}
        if "p" in arguments and not 0 <= kwargs["p"] <= 1:
            raise ValueError(f"'p' must be a probability from 0 to 1, got {arguments['p']!r}")
        module = getattr(K, kind)(**kwargs)  # kornia checks the arguments, in its own words
        return batched_transform(kind, kwargs) or module
    except (TypeError, ValueError, AssertionError, RuntimeError) as error:
        raise UserError(f"{name}: {error}") from None


class Augment(torch.nn.Module):
    """The dataset's augmentation list as one module over image batches [N, C, H, W] (any float scale
    given by `mean`/`std`); the output has the input's shape, checked when it is built."""

    def __init__(self, entries: list, image_shape: tuple[int, ...], normalization: dict | None = None):
        super().__init__()
        if not isinstance(entries, list):
            raise UserError('dataset option "augment" must be a list of transforms, e.g. '
                            '[{"type": "RandomHorizontalFlip"}]')
        if len(image_shape) != 3:
            raise UserError(f'dataset option "augment" needs images [channels, height, width], '
                            f"but the data's samples have shape {list(image_shape)}")
        self.image_shape = tuple(image_shape)
        self.transforms = torch.nn.ModuleList(build_transform(i, e) for i, e in enumerate(entries))
        channels = image_shape[0]
        mean, std = (normalization or {}).get("mean"), (normalization or {}).get("std")
        scale = mean is not None and len(mean) in (1, channels)
        self.scaled = scale  # un-normalise and normalise again around the transforms
        self.register_buffer("mean", torch.tensor(mean if scale else [0.0]).reshape(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std if scale else [1.0]).reshape(1, -1, 1, 1))
        self._check(entries)
        self.steps = fuse(list(self.transforms))  # what runs: the entries, with a crop and flip fused

    @property
    def cheap(self) -> bool:
        """Whether it runs only the batched transforms, about 0.5 ms a batch of 64 32x32 images on one thread:
        less than handing a batch over from a worker process costs the training thread."""
        return all_batched(self.steps)

    def _check(self, entries: list) -> None:
        """Run each transform once on a tiny batch so a bad argument fails now, naming its entry."""
        x = torch.rand(2, *self.image_shape)
        for index, (entry, transform) in enumerate(zip(entries, self.transforms)):
            try:
                out = transform(x)
            except Exception as error:  # noqa: BLE001 - kornia says what is wrong in its own words
                raise UserError(f"{_entry_name(index, entry)}: {error}") from None
            if tuple(out.shape[1:]) != self.image_shape:
                raise UserError(f"{_entry_name(index, entry)} turns {list(self.image_shape)} images into "
                                f"{list(out.shape[1:])}; the model takes {list(self.image_shape)}, so set its "
                                f"size to {list(self.image_shape[1:])}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        images = x.reshape(-1, *self.image_shape)
        if self.scaled:
            images = images * self.std + self.mean
        images = self.unit_range(images)
        if self.scaled:
            images = (images - self.mean) / self.std
        return images.reshape(shape)

    def unit_range(self, images: torch.Tensor) -> torch.Tensor:
        """The transforms on images [N, *image_shape] in [0, 1], before any normalisation: where the caller
        has the pixels unnormalised (an image cache), this spares the two passes `forward` makes to undo the
        normalisation and redo it."""
        for transform in self.steps:
            images = transform(images)
        return images

    def preview(self, x: torch.Tensor, seed: int) -> torch.Tensor:
        """`x` augmented with a generator seeded by `seed`, leaving torch's global generator as it was."""
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            return self(x)


def preview_images(entries: list, images: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Images as the data panel shows them ([H, W] or [H, W, C] floats in [0, 1]) augmented by `entries`,
    seeded by `seed` (torch's global generator is left as it was)."""
    if not images:
        return []
    x = torch.from_numpy(np.stack(images).astype(np.float32))
    x = x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2)
    out = Augment(entries, tuple(x.shape[1:])).preview(x, seed).clamp(0.0, 1.0)
    out = out[:, 0] if out.shape[1] == 1 else out.permute(0, 2, 3, 1)
    return list(out.numpy())


class Mixer:
    """Mixup and CutMix of a batch: `(x, y) -> (mixed x, (y[perm], lam))` or `(x, None)` when off."""

    def __init__(self, mixup: float | None, cutmix: float | None, seed: int):
        self.modes = [(mode, alpha) for mode, alpha in (("mixup", mixup), ("cutmix", cutmix)) if alpha]
        self.rng = np.random.default_rng(seed)

    def __bool__(self) -> bool:
        return bool(self.modes)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, tuple | None]:
        mode, alpha = self.modes[self.rng.integers(len(self.modes))]
        lam = float(self.rng.beta(alpha, alpha))
        perm = torch.from_numpy(self.rng.permutation(x.shape[0])).to(x.device)
        other = x.index_select(0, perm)
        if mode == "mixup":
            return x * lam + other * (1 - lam), (y.index_select(0, perm), lam)
        height, width = x.shape[-2], x.shape[-1]
        cut = math.sqrt(1 - lam)
        h, w = int(height * cut), int(width * cut)
        top, left = int(self.rng.integers(height - h + 1)), int(self.rng.integers(width - w + 1))
        x = x.clone()
        x[..., top:top + h, left:left + w] = other[..., top:top + h, left:left + w]
        return x, (y.index_select(0, perm), 1 - h * w / (height * width))


def check_mixing(task: str, loss_types: list[tuple[str, str]]) -> None:
    """Mixup/CutMix mix class labels through the loss: refuse what that means nothing for."""
    if task != "classification":
        raise UserError("mixup and cutmix blend class labels, so they need a classification dataset; "
                        "this one is regression (remove \"mixup\"/\"cutmix\" from the training settings)")
    wrong = [(node, kind) for node, kind in loss_types if kind not in MIX_LOSSES]
    if wrong:
        node, kind = wrong[0]
        raise UserError(f"mixup and cutmix need a cross-entropy loss ({', '.join(MIX_LOSSES)}) to mix the "
                        f"labels through; loss {quoted(node)} is {kind}")


def check_cutmix(input_shape: tuple) -> None:
    if len(input_shape) != 3:
        raise UserError(f"cutmix pastes patches of images [channels, height, width], but the data's samples "
                        f"have shape {list(input_shape)}; use mixup instead")


class TrainingAugment:
    """What the trainer applies to each training batch: the dataset's augmentation, then mixup/CutMix."""

    def __init__(self, augment: Augment | None, mixer: Mixer, sample_shape: tuple[int, ...]):
        self.augment, self.mixer, self.sample_shape = augment, mixer, tuple(sample_shape)

    def to(self, device) -> TrainingAugment:
        if self.augment is not None:
            self.augment.to(device)
        return self

    def hand_over(self, split) -> tuple[object, TrainingAugment | None]:
        """Give the dataset's augmentation to the training `split` when it can apply it as it makes batches
        (an image folder's cache: in its worker processes, off the training thread); returns the split and
        what the trainer still applies to each batch (mixup/CutMix, or None)."""
        if self.augment is None or not hasattr(split, "with_augment"):
            return split, self
        rest = TrainingAugment(None, self.mixer, self.sample_shape) if self.mixer else None
        return split.with_augment(self.augment), rest

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, tuple | None]:
        shape = x.shape  # the model's input shape; transforms see the images' own (e.g. before a flatten)
        x = x.reshape(-1, *self.sample_shape)
        if self.augment is not None:
            with torch.no_grad():
                x = self.augment(x)
        x, mix = self.mixer(x, y) if self.mixer else (x, None)
        return x.reshape(shape), mix


def mixed_loss(loss: Callable, outputs, y: torch.Tensor, mix: tuple | None) -> torch.Tensor:
    """`loss(outputs, y)`, or with mixed samples `lam * loss(outputs, y) + (1 - lam) * loss(outputs, y2)`."""
    if mix is None:
        return loss(outputs, y)
    other, lam = mix
    return loss(outputs, y) * lam + loss(outputs, other) * (1 - lam)


def training_augment(config, dataset, compiled) -> TrainingAugment | None:
    """The augmentation for a run (None when there is none); `dataset` as loaded (before it is fitted to the
    model, so its input shape is the images' own). Raises UserError for a bad list or setting."""
    entries = config.dataset.get("augment")
    mixup, cutmix = getattr(config, "mixup", None), getattr(config, "cutmix", None)
    if not entries and not mixup and not cutmix:
        return None
    augment = Augment(entries, dataset.input_shape, dataset.normalization) if entries else None
    if mixup or cutmix:
        check_mixing(dataset.task, [(spec.node_id, type(spec.module).__name__) for spec in compiled.losses])
        if cutmix:
            check_cutmix(dataset.input_shape)
    return TrainingAugment(augment, Mixer(mixup, cutmix, config.seed), dataset.input_shape)
