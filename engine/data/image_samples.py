"""Generated image folders that stand in for a person's own photos (`"sample": "shapes"`).

`shapes`: 32x32 PNG images of one coloured circle, square or triangle each (one
class subfolder per shape), of random size, place, colour and background,
seeded, so every machine generates the same files. They are written once into
the sample cache (see `engine.data.samples`) and read as any image folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.data.samples import sample_dir

SHAPES_PER_CLASS = 1000
SHAPES_SIZE = 32
SHAPE_CLASSES = ("circle", "square", "triangle")


def write_shapes(folder: Path, per_class: int = SHAPES_PER_CLASS, size: int = SHAPES_SIZE, seed: int = 0,
                 start: int = 0) -> None:
    """Write `per_class` PNG images of each shape into `folder/<shape>/NNNNN.png`, numbered from `start`
    (several processes may each write their own range)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng([seed, start])
    for shape in SHAPE_CLASSES:
        (folder / shape).mkdir(parents=True, exist_ok=True)
    for i in range(start, start + per_class):
        for shape in SHAPE_CLASSES:
            background = tuple(int(v) for v in rng.integers(0, 110, 3))
            colour = tuple(int(v) for v in rng.integers(120, 256, 3))
            image = Image.new("RGB", (size, size), background)
            draw = ImageDraw.Draw(image)
            side = rng.uniform(0.35, 0.7) * size
            left, top = rng.uniform(0, size - side, 2)
            box = (left, top, left + side, top + side)
            if shape == "circle":
                draw.ellipse(box, fill=colour)
            elif shape == "square":
                draw.rectangle(box, fill=colour)
            else:
                draw.polygon([(left + side / 2, top), (left, top + side), (left + side, top + side)], fill=colour)
            image.save(folder / shape / f"{i:05d}.png")


SAMPLES = {"shapes": (1, write_shapes)}  # name -> (version, generator)


def sample_folder(name: str) -> Path:
    """The generated image folder `name` (one of SAMPLES), written the first time it is asked for."""
    version, generate = SAMPLES[name]
    return sample_dir(f"images-{name}", version, generate)
