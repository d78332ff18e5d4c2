"""Batched torch versions of the augmentations that are only indexing or one factor per image.

kornia draws and checks its random parameters per call through general machinery
(transformation matrices, per-sample parameter dicts, shape checks) that costs
more than the work itself on small images: on a batch of 64 images 32x32 on one
CPU thread, its RandomCrop with padding took about 2.9 ms of CPU time, its
horizontal flip 0.5 ms and a brightness-only ColorJitter 2.1 ms, where the same
work done as one gather, one `where` and one multiply takes a few tenths of a
millisecond (figures: bench section 10). The training step it feeds takes about
34 ms, so kornia's cost there was the whole of the augmentation's.

`batched_transform` returns the batched module for an entry it covers (same
arguments, same meaning as torchvision's and kornia's transform, random numbers
from torch's global generator, so runs stay seeded), else None: kornia keeps
every other transform and setting (rotation, resized crop, erasing, the other
colour jitters, padding modes other than constant).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _padding(padding) -> tuple[int, int, int, int]:
    """torchvision's padding (an int, [left/right, top/bottom] or [left, top, right, bottom]) as
    (left, right, top, bottom), the order `F.pad` takes."""
    if padding is None:
        return (0, 0, 0, 0)
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[0], padding[1], padding[1])
    left, top, right, bottom = padding
    return (left, right, top, bottom)


class RandomCrop(torch.nn.Module):
    """torchvision's RandomCrop with constant padding, over a batch: each image gets its own offset, and
    with `flip_p` (a RandomHorizontalFlip that follows, fused in) its own mirror, in one gather."""

    def __init__(self, size: tuple[int, int], pad: tuple[int, int, int, int], fill: float = 0.0,
                 flip_p: float = 0.0):
        super().__init__()
        self.size, self.pad, self.fill, self.flip_p = tuple(size), pad, float(fill), flip_p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad, value=self.fill)
        n, (height, width), (crop_h, crop_w) = x.shape[0], x.shape[-2:], self.size
        if crop_h > height or crop_w > width:
            raise ValueError(f"the crop size {list(self.size)} is larger than the (padded) images, "
                             f"[{height}, {width}]; pad more or crop less")
        tops = torch.randint(0, height - crop_h + 1, (n, 1, 1))
        lefts = torch.randint(0, width - crop_w + 1, (n, 1, 1))
        columns = torch.arange(crop_w).view(1, 1, crop_w)
        if self.flip_p:
            flipped = torch.rand(n, 1, 1) < self.flip_p
            columns = torch.where(flipped, columns.flip(-1), columns)
        # each output pixel's place in its flattened (padded) image: one gather does crop and flip
        index = (tops + torch.arange(crop_h).view(1, crop_h, 1)) * width + lefts + columns
        index = index.view(n, 1, -1).expand(n, x.shape[1], -1).to(x.device)
        return x.reshape(n, x.shape[1], -1).gather(2, index).view(n, x.shape[1], crop_h, crop_w)


class RandomFlip(torch.nn.Module):
    """RandomHorizontalFlip (`dim` -1) or RandomVerticalFlip (`dim` -2): each image mirrored with probability p."""

    def __init__(self, dim: int, p: float = 0.5):
        super().__init__()
        self.dim, self.p = dim, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flipped = (torch.rand(x.shape[0], 1, 1, 1) < self.p).to(x.device)
        return torch.where(flipped, x.flip(self.dim), x)


class RandomBrightness(torch.nn.Module):
    """ColorJitter with brightness only: each image multiplied by a factor drawn from [low, high], clamped
    to [0, 1] (as torchvision and kornia do)."""

    def __init__(self, brightness):
        super().__init__()
        low, high = (max(0.0, 1 - brightness), 1 + brightness) if isinstance(brightness, float) else brightness
        self.low, self.high = float(low), float(high)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = torch.empty(x.shape[0], 1, 1, 1).uniform_(self.low, self.high).to(x.device)
        return x.clamp(0.0, 1.0).mul_(factor).clamp_(0.0, 1.0)


def batched_transform(kind: str, kwargs: dict) -> torch.nn.Module | None:
    """The batched module for transform `kind` with kornia's (already checked) arguments `kwargs`, or None
    where kornia keeps it."""
    if kind == "RandomCrop" and kwargs.get("padding_mode", "constant") == "constant" \
            and not kwargs.get("pad_if_needed") and isinstance(kwargs.get("fill", 0), (int, float)):
        return RandomCrop(kwargs["size"], _padding(kwargs.get("padding")), kwargs.get("fill", 0))
    if kind in ("RandomHorizontalFlip", "RandomVerticalFlip"):
        return RandomFlip(-1 if kind == "RandomHorizontalFlip" else -2, kwargs.get("p", 0.5))
    if kind == "ColorJitter" and set(kwargs) <= {"brightness", "p"} and kwargs.get("p", 1.0) == 1.0 \
            and "brightness" in kwargs:
        return RandomBrightness(kwargs["brightness"])
    return None


def fuse(transforms: list[torch.nn.Module]) -> list[torch.nn.Module]:
    """`transforms` with each batched RandomCrop followed by a batched horizontal flip made one gather."""
    fused: list[torch.nn.Module] = []
    for transform in transforms:
        previous = fused[-1] if fused else None
        if isinstance(transform, RandomFlip) and transform.dim == -1 and isinstance(previous, RandomCrop) \
                and not previous.flip_p:
            fused[-1] = RandomCrop(previous.size, previous.pad, previous.fill, transform.p)
        else:
            fused.append(transform)
    return fused
