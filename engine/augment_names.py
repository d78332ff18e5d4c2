"""The augmentation transforms a dataset's `"augment"` list may name, and their arguments (torchvision
v2 spelling), without importing torch: the GUI's augmentation editor offers these.
`engine.data.augment` builds them with kornia."""

from __future__ import annotations

# transform -> its arguments, the required ones first
ARGUMENTS: dict[str, tuple[str, ...]] = {
    "RandomCrop": ("size", "padding", "pad_if_needed", "fill", "padding_mode"),
    "RandomResizedCrop": ("size", "scale", "ratio"),
    "RandomHorizontalFlip": ("p",),
    "RandomVerticalFlip": ("p",),
    "RandomRotation": ("degrees",),
    "ColorJitter": ("brightness", "contrast", "saturation", "hue"),
    "RandomErasing": ("p", "scale", "ratio", "value"),
    "RandomGrayscale": ("p",),
}
REQUIRED: dict[str, tuple[str, ...]] = {"RandomCrop": ("size",), "RandomResizedCrop": ("size",),
                                        "RandomRotation": ("degrees",)}
# what a newly added entry starts with (a 32x32 image's usual settings; sizes follow the images in the GUI)
STARTERS: dict[str, dict] = {"RandomCrop": {"size": [32, 32], "padding": 4},
                             "RandomResizedCrop": {"size": [32, 32], "scale": [0.8, 1.0]},
                             "RandomRotation": {"degrees": 15}, "ColorJitter": {"brightness": 0.2}}
