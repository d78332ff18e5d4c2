"""The batched crops, flips and brightness that replace kornia's for the settings they cover."""

from __future__ import annotations

import kornia.augmentation as K
import pytest
import torch
import torch.nn.functional as F

from engine.data.augment import Augment, build_transform
from engine.data.batch_transforms import RandomBrightness, RandomCrop, RandomFlip, RandomResizedCrop
from engine.errors import UserError

CROP_FLIP = [{"type": "RandomCrop", "size": [8, 8], "padding": 2}, {"type": "RandomHorizontalFlip"}]


def windows(padded: torch.Tensor, size: int) -> list[torch.Tensor]:
    """Every size x size window of one padded image [C, H, W]."""
    height, width = padded.shape[-2:]
    return [padded[:, top:top + size, left:left + size]
            for top in range(height - size + 1) for left in range(width - size + 1)]


def test_each_image_is_its_own_window_of_the_padded_image_mirrored_or_not():
    torch.manual_seed(0)
    x = torch.rand(32, 3, 8, 8)
    augment = Augment(CROP_FLIP, (3, 8, 8))
    assert [type(step) for step in augment.steps] == [RandomCrop]  # crop and flip are one gather
    out = augment(x)
    padded = F.pad(x, (2, 2, 2, 2))
    mirrored = 0
    for image, source in zip(out, padded):
        plain = any(torch.equal(image, window) for window in windows(source, 8))
        flipped = any(torch.equal(image, window.flip(-1)) for window in windows(source, 8))
        assert plain or flipped
        mirrored += flipped and not plain
    assert 4 < mirrored < 28  # about half, p = 0.5
    offsets = {tuple(image[0, :, 0].tolist()) for image in out}
    assert len(offsets) > 8  # the images are cropped at different places, not one offset for the batch


def test_the_padding_follows_torchvision_left_top_right_bottom_and_the_fill():
    x = torch.ones(2, 1, 4, 4)
    out = build_transform(0, {"type": "RandomCrop", "size": [7, 4], "padding": [0, 3, 0, 0], "fill": 0.5})(x)
    assert torch.equal(out[:, :, :3], torch.full((2, 1, 3, 4), 0.5)) and torch.equal(out[:, :, 3:], x)


@pytest.mark.parametrize(("p", "flipped"), [(1.0, True), (0.0, False)])
def test_flips_follow_their_probability(p, flipped):
    x = torch.rand(8, 3, 5, 6)
    horizontal = Augment([{"type": "RandomHorizontalFlip", "p": p}], (3, 5, 6))(x)
    vertical = Augment([{"type": "RandomVerticalFlip", "p": p}], (3, 5, 6))(x)
    assert torch.equal(horizontal, x.flip(-1) if flipped else x)
    assert torch.equal(vertical, x.flip(-2) if flipped else x)


def test_brightness_scales_each_image_by_one_factor_in_range_and_clamps():
    torch.manual_seed(1)
    x = torch.rand(64, 3, 4, 4) * 0.5  # no pixel reaches 1 when scaled by at most 1.2
    out = Augment([{"type": "ColorJitter", "brightness": 0.2}], (3, 4, 4))(x)
    factors = out.flatten(1) / x.flatten(1)
    assert torch.allclose(factors, factors[:, :1].expand_as(factors), rtol=1e-5)
    assert factors.min() >= 0.8 - 1e-6 and factors.max() <= 1.2 + 1e-6 and factors.std() > 0.05
    assert torch.equal(Augment([{"type": "ColorJitter", "brightness": [2.0, 2.0]}], (3, 4, 4))(x + 0.5).max(),
                       torch.tensor(1.0))


def test_the_same_seed_gives_the_same_batch_and_another_seed_another():
    augment = Augment([*CROP_FLIP, {"type": "ColorJitter", "brightness": 0.3}], (3, 8, 8))
    x = torch.rand(16, 3, 8, 8)
    assert torch.equal(augment.preview(x, 3), augment.preview(x, 3))
    assert not torch.equal(augment.preview(x, 3), augment.preview(x, 4))


@pytest.mark.parametrize("entry", [
    {"type": "RandomCrop", "size": [8, 8], "padding": 2, "padding_mode": "reflect"},
    {"type": "RandomCrop", "size": [8, 8], "pad_if_needed": True},
    {"type": "ColorJitter", "brightness": 0.2, "contrast": 0.2},
    {"type": "RandomRotation", "degrees": 10},
    {"type": "RandomErasing", "p": 1.0},
])
def test_kornia_keeps_what_the_batched_transforms_do_not_cover(entry):
    assert isinstance(build_transform(0, entry), K.AugmentationBase2D)


def test_the_batched_transforms_replace_kornias_where_they_cover_it():
    built = [build_transform(i, e) for i, e in enumerate([*CROP_FLIP, {"type": "RandomVerticalFlip", "p": 0.2},
                                                          {"type": "ColorJitter", "brightness": 0.2},
                                                          {"type": "RandomResizedCrop", "size": 8}])]
    assert [type(t) for t in built] == [RandomCrop, RandomFlip, RandomFlip, RandomBrightness, RandomResizedCrop]


def test_a_crop_larger_than_the_padded_images_names_the_entry():
    with pytest.raises(UserError, match=r"augment entry 1 \('RandomCrop'\): the crop size \[12, 12\] is larger "
                                        r"than the \(padded\) images, \[10, 10\]"):
        Augment([{"type": "RandomHorizontalFlip"}, {"type": "RandomCrop", "size": [12, 12], "padding": 1}],
                (3, 8, 8))


def test_bad_arguments_are_still_refused_in_kornias_words():
    with pytest.raises(UserError, match=r"augment entry 0 \('ColorJitter'\)"):
        Augment([{"type": "ColorJitter", "brightness": -1}], (3, 8, 8))


def test_a_resized_crop_is_a_bilinear_resize_of_a_box_of_the_image():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 8, 8)
    out = Augment([{"type": "RandomResizedCrop", "size": [8, 8], "scale": [0.25, 0.25], "ratio": [1.0, 1.0]}],
                  (3, 8, 8))(x)
    for image, source in zip(out, x):  # a 4x4 box, twice as large, as torchvision's resize makes it
        resized = [F.interpolate(window[None], size=(8, 8), mode="bilinear", align_corners=False)[0]
                   for window in windows(source, 4)]
        assert any(torch.allclose(image, r, atol=1e-5) for r in resized)
    whole = Augment([{"type": "RandomResizedCrop", "size": 8, "scale": [1.0, 1.0], "ratio": [1.0, 1.0]}], (3, 8, 8))
    assert torch.allclose(whole(x), x, atol=1e-6)


def test_a_resized_crop_with_no_box_that_fits_takes_torchvisions_central_crop():
    x = torch.rand(2, 1, 8, 8)
    out = Augment([{"type": "RandomResizedCrop", "size": [8, 8], "scale": [1.0, 1.0], "ratio": [4.0, 4.0]}],
                  (1, 8, 8))(x)  # a 16 x 4 box never fits: the central 2 rows at ratio 4
    assert torch.allclose(out, F.interpolate(x[:, :, 3:5], size=(8, 8), mode="bilinear", align_corners=False),
                          atol=1e-6)
