"""`explain PROJECT --weights W INPUT... --method saliency|integrated_gradients|gradcam [--layer NODE] --out DIR`.

Writes, for each input image, the model's explanation of its prediction as a heat map blended over
the image (`engine.explain`), one PNG per input in DIR (a new or empty folder). The images are
prepared as training prepared them: by the weights' stored preprocessing through
`engine.data.images.prepare_image_files` when there is one, else at the Input's shape with the
weights' stored normalisation. Exits 2 for bad input (not an image, a layer that is not there,
weights trained on other kinds of input).
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.custom_layers.trust import add_trust_flag, code_loader
from engine.errors import UserError
from engine.output_paths import StagedOutputs, check_outputs
from graphs.errors import printable, quoted
from graphs.project import load_project

METHODS = ("saliency", "integrated_gradients", "gradcam")
CHUNK = 16  # images explained at once, so many inputs never hold many images' gradients together
MIN_SIDE = 256  # overlays of small images are enlarged (pixel blocks kept) to at least this many pixels a side


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "explain", help="write heat maps of what an image model's predictions look at (PNG)",
        description="Explain a trained image model's predictions: saliency, Integrated Gradients or Grad-CAM "
                    "(for --layer, by default the last convolution), blended over each input image and "
                    "written to --out as INPUT-NAME.METHOD.png. Exits 0 on success, 2 for bad input.")
    parser.add_argument("project", help="project file (.json)")
    add_trust_flag(parser)  # engine.custom_layers: a project with its own code
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files to explain")
    parser.add_argument("--weights", required=True, metavar="FILE", help="trained weights (.safetensors)")
    parser.add_argument("--method", choices=METHODS, default="saliency", help="how to attribute (default saliency)")
    parser.add_argument("--layer", metavar="NODE", help="Grad-CAM's layer node id (default: the last convolution)")
    parser.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder for the PNG files")
    parser.set_defaults(handler=run)


def overlay_names(inputs: list[str], method: str) -> list[str]:
    """`NAME.METHOD.png` per input, numbered where two inputs share a name."""
    names, seen = [], set()
    for path in inputs:
        name, n = f"{Path(path).stem}.{method}.png", 1
        while name in seen:
            n += 1
            name = f"{Path(path).stem}-{n}.{method}.png"
        seen.add(name)
        names.append(name)
    return names


def _check_out(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {quoted(str(folder))} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise UserError(f"--out {quoted(str(folder))} is not empty; give a new or empty folder")


def prepare_images(metadata: dict[str, str], shape: tuple[int, int, int], paths: list[str]):
    """The input images as the model's input [N, C, H, W], prepared as in training."""
    import numpy as np
    import torch

    from engine.data.images import ImageReader

    preprocessing = _json(metadata, "preprocessing")
    if isinstance(preprocessing, dict):
        if preprocessing.get("kind") != "images":
            raise UserError(f"these weights were trained on {printable(str(preprocessing.get('kind')))} inputs, "
                            "not images; explain works on image models")
        try:
            from engine.data.images import prepare_image_files
        except ImportError:
            pass
        else:
            return prepare_image_files(preprocessing, paths)
    channels, height, width = shape
    if channels not in (1, 3):
        raise UserError(f"the model's Input takes {channels} channels; explain reads images as 1 (gray) or 3 (RGB)")
    normalization = _json(metadata, "normalization") or {}
    mean, std = normalization.get("mean"), normalization.get("std")
    per_channel = (lambda v: np.asarray(v, dtype=np.float32).reshape(-1, 1, 1)) if mean and std else None
    reader = ImageReader(Path.cwd(), (height, width), channels == 1,
                         per_channel(mean) if per_channel else None, per_channel(std) if per_channel else None)
    return torch.from_numpy(np.stack([reader.read(Path(path)) for path in paths]))


def _json(metadata: dict[str, str], key: str):
    try:
        return json.loads(metadata[key]) if key in metadata else None
    except ValueError:
        raise UserError(f"the weights' stored {key} is damaged; train the model again") from None


def _picture(path: str, size: tuple[int, int]):
    """The input as the user sees it (RGB uint8 [H, W, 3]) at the model's (height, width)."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize(size[::-1], Image.Resampling.BILINEAR))


def run(args) -> int:
    from engine.data_shapes import graph_as_trained
    from engine.export import prepare_model
    from engine.training.checkpoint import read_metadata

    if args.layer is not None and args.method != "gradcam":
        raise UserError("--layer applies only to --method gradcam")
    out = Path(args.out)
    names = overlay_names(args.inputs, args.method)
    inputs = {"the project": args.project, "the weights (--weights)": args.weights}
    inputs.update({f"input {quoted(path)}": path for path in args.inputs})
    check_outputs(inputs, {f"overlay {quoted(name)}": out / name for name in names})
    _check_out(out)
    project = load_project(args.project, code_loader(args.trust_code))
    metadata = read_metadata(args.weights)
    base_dir = project.path.parent if project.path else Path.cwd()
    graph, _ = graph_as_trained(project.graph, project.training, base_dir)
    compiled = prepare_model(graph, args.weights)
    return write_overlays(compiled, metadata, args, out, names)


def write_overlays(compiled, metadata: dict[str, str], args, out: Path, names: list[str]) -> int:
    import numpy as np
    from PIL import Image

    from engine import explain

    shape = explain.image_input(compiled)
    images = prepare_images(metadata, shape, args.inputs)
    parts = [explain.attribute(compiled, images[i:i + CHUNK], args.method, args.layer)
             for i in range(0, len(images), CHUNK)]
    maps, predicted = np.concatenate([m for m, _ in parts]), np.concatenate([p for _, p in parts])
    classes = _json(metadata, "class_names") or []
    scale = max(1, -(-MIN_SIDE // max(shape[1:])))
    with StagedOutputs() as staged:
        staged.make_folder(out)
        for path, name, heat, label in zip(args.inputs, names, maps, predicted):
            blended = explain.overlay(_picture(path, shape[1:]), heat)
            picture = Image.fromarray(np.ascontiguousarray(blended))
            if scale > 1:
                picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
            picture.save(staged.temporary(out / name), format="PNG")
            shown = classes[label] if label < len(classes) else f"class {label}"
            print(f"{printable(path)}: predicted {printable(str(shown))} -> {printable(str(out / name))}")
    return 0
