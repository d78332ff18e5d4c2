"""Batched torch versions of the augmentations that are indexing, a resize or one factor per image.

kornia draws and checks its random parameters per call through general machinery
(transformation matrices, per-sample parameter dicts, shape checks) that costs
more than the work itself on small images: on a batch of 64 images 32x32 on one
CPU thread, its RandomCrop with padding took about 2.9 ms of CPU time, its
horizontal flip 0.5 ms, a brightness-only ColorJitter 2.1 ms and RandomResizedCrop
3.0 ms, where the same work done here takes 0.7 ms for crop and flip together (one
gather), 0.1 ms for the brightness and 1.7 ms for the resized crop (one
`grid_sample`). The training step it feeds takes about 34 ms.

`batched_transform` returns the batched module for an entry it covers (same
arguments, same meaning as torchvision's transform, random numbers from torch's
global generator, so runs stay seeded), else None: kornia keeps every other
transform and setting (rotation, erasing, grayscale, the other colour jitters,
padding modes other than constant).
"""

from __future__ import annotations

import math

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


class RandomResizedCrop(torch.nn.Module):
    """torchvision's RandomResizedCrop over a batch: each image's box drawn as torchvision draws it (up to 10
    tries of an area share in `scale` and an aspect ratio in `ratio`, else the central crop), then resized to
    `size` bilinearly, in one `grid_sample` for the whole batch."""

    ATTEMPTS = 10

    def __init__(self, size: tuple[int, int], scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
        super().__init__()
        self.size, self.scale, self.ratio = tuple(size), tuple(scale), tuple(ratio)

    def boxes(self, n: int, height: int, width: int) -> tuple[torch.Tensor, ...]:
        """(top, left, box height, box width) of each image's crop, as float tensors [n]."""
        shape = (n, self.ATTEMPTS)
        area = height * width * torch.empty(shape).uniform_(*self.scale)
        aspect = torch.exp(torch.empty(shape).uniform_(math.log(self.ratio[0]), math.log(self.ratio[1])))
        w, h = torch.sqrt(area * aspect).round(), torch.sqrt(area / aspect).round()
        fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
        first = fits.to(torch.uint8).argmax(1, keepdim=True)  # the first try that fits
        found = fits.any(1)
        central_h, central_w = self._central(height, width)
        h = torch.where(found, h.gather(1, first)[:, 0], float(central_h))
        w = torch.where(found, w.gather(1, first)[:, 0], float(central_w))
        top = torch.where(found, torch.floor(torch.rand(n) * (height - h + 1)), torch.floor((height - h) / 2))
        left = torch.where(found, torch.floor(torch.rand(n) * (width - w + 1)), torch.floor((width - w) / 2))
        return top, left, h, w

    def _central(self, height: int, width: int) -> tuple[int, int]:
        """torchvision's fallback box: the whole image, narrowed to the nearest allowed aspect ratio."""
        low, high = min(self.ratio), max(self.ratio)
        if width / height < low:
            return round(width / low), width
        if width / height > high:
            return height, round(height * high)
        return height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, height, width = x.shape[0], *x.shape[-2:]
        top, left, h, w = self.boxes(n, height, width)
        # the affine map from output to input coordinates in grid_sample's [-1, 1] units (align_corners=False)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2] = w / width, (2 * left + w) / width - 1
        theta[:, 1, 1], theta[:, 1, 2] = h / height, (2 * top + h) / height - 1
        # samples stay within the box's outer pixel centres: a resize of the crop alone, as torchvision's
        low = torch.stack([(2 * left + 1) / width, (2 * top + 1) / height], -1) - 1
        high = torch.stack([(2 * (left + w) - 1) / width, (2 * (top + h) - 1) / height], -1) - 1
        theta, low, high = (t.to(x.device, x.dtype) for t in (theta, low, high))
        grid = F.affine_grid(theta, [n, x.shape[1], *self.size], align_corners=False)
        grid = torch.max(torch.min(grid, high.view(n, 1, 1, 2)), low.view(n, 1, 1, 2))
        return F.grid_sample(x, grid, mode="bilinear", align_corners=False)


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
    if kind == "RandomResizedCrop":
        return RandomResizedCrop(kwargs["size"], kwargs.get("scale", (0.08, 1.0)), kwargs.get("ratio", (3 / 4, 4 / 3)))
    if kind in ("RandomHorizontalFlip", "RandomVerticalFlip"):
        return RandomFlip(-1 if kind == "RandomHorizontalFlip" else -2, kwargs.get("p", 0.5))
    if kind == "ColorJitter" and set(kwargs) <= {"brightness", "p"} and kwargs.get("p", 1.0) == 1.0 \
            and "brightness" in kwargs:
        return RandomBrightness(kwargs["brightness"])
    return None


BATCHED = (RandomCrop, RandomResizedCrop, RandomFlip, RandomBrightness)


def all_batched(transforms) -> bool:
    """Whether every one of `transforms` is one of these batched modules (cheaper on the training thread
    than a hand-over from worker processes; kornia's are not)."""
    return all(isinstance(transform, BATCHED) for transform in transforms)


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
