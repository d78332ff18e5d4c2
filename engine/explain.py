"""Explaining a trained image model's predictions, and looking inside it.

- `attribute`: a heat map per image of where the prediction came from, by Captum's
  Saliency, IntegratedGradients or LayerGradCam (for a chosen layer node; by default
  the last convolution), scaled to [0, 1] at the image's size; `overlay` blends one over the image.
- `activations` / `feature_grid`: a node's output for one sample, as one picture
  (channels as a grid of small maps, a sequence as a [time, feature] heat map).
- `embedding`: the penultimate layer's outputs on the validation split, projected to 2-D
  (PCA or t-SNE from scikit-learn), with each sample's true and predicted class.

Any node of the compiled graph can be looked at: `probed` copies the fx model with an
`nn.Identity` after that node, so forward hooks and Captum's layer methods see its output.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx, nn

from engine.errors import UserError, listing
from engine.inplace import out_of_place, without_inplace
from graphs.errors import quoted

METHODS = ("saliency", "integrated_gradients", "gradcam")
PROBE = "explain_probe"
CONV_TYPES = ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d", "DepthwiseConv2d")
IG_STEPS = 32
# black -> purple -> orange -> yellow, an "inferno"-like ramp for heat maps
RAMP = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32)


def node_names(compiled) -> list[str]:
    """The node ids whose output can be looked at, in the model's order."""
    ids = {node.id for node in compiled.graph.nodes()} if compiled.graph is not None else set()
    return [n.name for n in compiled.model.graph.nodes if n.name in ids and n.op != "placeholder"]


def conv_layers(compiled) -> list[str]:
    """The convolution nodes, in the model's order (Grad-CAM's layers)."""
    types = {node.id: node.type for node in compiled.graph.nodes()}
    return [name for name in node_names(compiled) if types.get(name) in CONV_TYPES]


def default_layer(compiled) -> str:
    layers = conv_layers(compiled)
    if not layers:
        raise UserError("Grad-CAM needs a convolution layer and this model has none; "
                        "choose a layer with --layer, or use saliency or integrated_gradients")
    return layers[-1]


def probed(model: fx.GraphModule, name: str) -> tuple[fx.GraphModule, nn.Module]:
    """A copy of `model` whose fx node `name` is followed by an `nn.Identity` (returned) that
    everything after it reads; raises UserError for a name that is not in the model."""
    nodes = {n.name: n for n in model.graph.nodes}
    if name not in nodes or nodes[name].op in ("placeholder", "output"):
        raise UserError(f"there is no layer {quoted(name)} in this model; layers: {listing(node_names_of(model))}")
    graph = fx.Graph()
    mapping: dict[fx.Node, fx.Node] = {}
    for node in model.graph.nodes:
        mapping[node] = graph.node_copy(node, lambda n: mapping[n])
        if node.name == name:
            mapping[node] = graph.call_module(PROBE, (mapping[node],))
    probe = nn.Identity()
    root: dict = {PROBE: probe}
    for node in graph.nodes:
        if node.op in ("call_module", "get_attr") and node.target != PROBE:
            root[node.target] = without_inplace(functools.reduce(getattr, node.target.split("."), model))
    out_of_place(graph)
    copy = fx.GraphModule(root, graph)
    copy.train(model.training)
    return copy, probe


def node_names_of(model: fx.GraphModule) -> list[str]:
    return [n.name for n in model.graph.nodes if n.op not in ("placeholder", "output")]


class Classifier(nn.Module):
    """The compiled model as Captum wants it: one image batch in, the scored output [N, classes] out."""

    def __init__(self, model: nn.Module, output_index: int):
        super().__init__()
        self.model, self.output_index = model, output_index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = self.model(x)
        output = outputs[self.output_index] if isinstance(outputs, tuple) else outputs
        return output.reshape(len(output), -1)


def image_input(compiled) -> tuple[int, int, int]:
    """The model's one image Input shape [C, H, W]; UserError for a model that does not take images."""
    if len(compiled.inputs) != 1:
        raise UserError(f"explain works on models with one image Input; this one has {len(compiled.inputs)} "
                        f"({listing(compiled.inputs)})")
    node = compiled.inputs[0]
    shapes = compiled.shapes.output_shapes(node) if compiled.shapes is not None else None
    dims = next(iter(shapes.values()), None) if shapes else None
    if dims is None or len(dims) != 3 or not all(isinstance(d, int) for d in dims):
        raise UserError(f"Input {quoted(node)} takes {_shape_text(dims)}, not images [C, H, W]; "
                        "explain works on image models")
    return tuple(dims)


def _shape_text(dims) -> str:
    return "inputs of unknown shape" if dims is None else f"inputs of shape [{', '.join(map(str, dims))}]"


def output_index(compiled) -> int:
    return compiled.losses[0].output_index if compiled.losses else 0


def attribute(compiled, images: torch.Tensor, method: str, layer: str | None = None,
              target: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Heat maps [N, H, W] in [0, 1] of how much each pixel of `images` [N, C, H, W] (prepared as in
    training) drives the predicted class (or `target`), and the predicted classes [N]."""
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Saliency

    if method not in METHODS:
        raise UserError(f"unknown method {quoted(method)}; choose one of {listing(METHODS)}")
    model = compiled.model
    was_training = model.training
    model.eval()
    try:
        if method == "gradcam":
            model, probe = probed(model, layer or default_layer(compiled))
        forward = Classifier(model, output_index(compiled)).eval()
        images = images.detach().float()
        with torch.no_grad():
            predicted = forward(images).argmax(dim=1)
        target = predicted if target is None else target
        if method == "saliency":
            maps = Saliency(forward).attribute(images.clone().requires_grad_(), target=target).abs().amax(dim=1)
        elif method == "integrated_gradients":
            maps = IntegratedGradients(forward).attribute(images, baselines=torch.zeros_like(images), target=target,
                                                          n_steps=IG_STEPS, internal_batch_size=IG_STEPS).abs().sum(dim=1)
        else:
            cam = _gradcam(LayerGradCam(forward, probe), images, target, layer or default_layer(compiled))
            maps = LayerAttribution.interpolate(cam, tuple(images.shape[2:]), interpolate_mode="bilinear")[:, 0]
    finally:
        compiled.model.train(was_training)
    return _unit(maps.detach()), predicted.numpy()


def _gradcam(gradcam, images, target, layer: str) -> torch.Tensor:
    try:
        cam = gradcam.attribute(images, target=target, relu_attributions=True)
    except (RuntimeError, AssertionError, IndexError) as error:
        raise UserError(f"Grad-CAM cannot use layer {quoted(layer)}: {str(error).splitlines()[0]}") from None
    if cam.dim() != 4:
        raise UserError(f"Grad-CAM needs a layer with [C, H, W] outputs, and layer {quoted(layer)} has none: "
                        "choose a convolution layer")
    return cam


def _unit(maps: torch.Tensor) -> np.ndarray:
    """Each map scaled to [0, 1] by its own largest value (an all-zero map stays zero)."""
    maps = maps.float().nan_to_num(0.0)
    peak = maps.flatten(1).amax(dim=1).clamp_min(1e-12).reshape(-1, *([1] * (maps.dim() - 1)))
    return (maps.clamp_min(0) / peak).numpy()


def colour(heat: np.ndarray) -> np.ndarray:
    """A [H, W] map in [0, 1] as RGB uint8 [H, W, 3] on the heat ramp."""
    position = np.clip(heat, 0.0, 1.0) * (len(RAMP) - 1)
    low = np.floor(position).astype(int).clip(0, len(RAMP) - 2)
    share = (position - low)[..., None]
    return (RAMP[low] * (1 - share) + RAMP[low + 1] * share).astype(np.uint8)


def overlay(image: np.ndarray, heat: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """`heat` [H, W] in [0, 1] blended over `image` (uint8 [H, W] or [H, W, 3]); the hotter, the more it shows."""
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    alpha = (strength * np.clip(heat, 0.0, 1.0))[..., None]
    return (rgb.astype(np.float32) * (1 - alpha) + colour(heat).astype(np.float32) * alpha).astype(np.uint8)


def activations(compiled, sample: torch.Tensor, node: str) -> torch.Tensor:
    """Node `node`'s output for one prepared `sample` (no batch axis), through a forward hook."""
    model, probe = probed(compiled.model, node)
    seen: list[torch.Tensor] = []
    handle = probe.register_forward_hook(lambda _module, _args, output: seen.append(output))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(sample[None].float())
    finally:
        handle.remove()
        model.train(was_training)  # its layers are the compiled model's own
    output = seen[0]
    if not isinstance(output, torch.Tensor):
        raise UserError(f"node {quoted(node)} gives no single tensor to show")
    return output[0].detach().float()


def feature_grid(activation: torch.Tensor, gap: int = 1) -> np.ndarray:
    """One [H, W] picture in [0, 1] of a sample's activation: [C, H, W] as a grid of channels (each scaled
    on its own), [T, F] (a sequence) as a heat map, [F] as one row, more axes flattened into channels."""
    a = activation.detach().float().nan_to_num(0.0)
    if a.dim() == 0:
        a = a.reshape(1)
    if a.dim() == 1:
        return _scaled(a[None]).numpy()
    if a.dim() == 2:
        return _scaled(a).numpy()
    a = a.reshape(-1, *a.shape[-2:])
    channels, height, width = a.shape
    columns = math.ceil(math.sqrt(channels))
    rows = math.ceil(channels / columns)
    grid = torch.zeros(rows * (height + gap) - gap, columns * (width + gap) - gap)
    for c in range(channels):
        r, k = divmod(c, columns)
        grid[r * (height + gap):r * (height + gap) + height, k * (width + gap):k * (width + gap) + width] = _scaled(a[c])
    return grid.numpy()


def _scaled(a: torch.Tensor) -> torch.Tensor:
    low, high = a.min(), a.max()
    return (a - low) / (high - low) if high > low else torch.zeros_like(a)


@dataclass
class Embedding:
    points: np.ndarray  # [N, 2]
    labels: np.ndarray  # true class per point
    predictions: np.ndarray  # predicted class per point
    class_names: list[str]
    layer: str  # the fx node whose output was projected
    method: str  # "pca" | "tsne"

    @property
    def wrong(self) -> np.ndarray:
        return self.labels != self.predictions


def penultimate(compiled) -> str:
    """The fx node feeding the model's last layer with weights (the features the classifier reads)."""
    nodes = list(compiled.model.graph.nodes)
    output = nodes[-1].args[0]
    node = output[output_index(compiled)] if isinstance(output, (tuple, list)) else output
    while isinstance(node, fx.Node) and not _has_weights(compiled.model, node):
        node = next((a for a in node.args if isinstance(a, fx.Node)), None)
    feeding = next((a for a in node.args if isinstance(a, fx.Node)), None) if node is not None else None
    if feeding is None or feeding.op == "placeholder":
        raise UserError("the embedding view needs a layer before the last one with weights; this model has none")
    return feeding.name


def _has_weights(model: nn.Module, node: fx.Node) -> bool:
    return node.op == "call_module" and any(True for _ in model.get_submodule(node.target).parameters())


def embedding(compiled, dataset, method: str = "pca", limit: int = 2000, seed: int = 0) -> Embedding:
    """The penultimate layer's outputs on (at most `limit` of) `dataset`'s validation samples, in 2-D.
    `dataset` is fitted to `compiled` (`engine.data.fit_dataset`); the model must classify."""
    from engine.training.metrics import ClassAccuracy, metric_for

    if dataset.task != "classification" or not compiled.losses:
        raise UserError("the embedding view is for classification models")
    if not len(dataset.val):
        raise UserError("there is no validation data to embed: val_split is 0")
    metric = metric_for(compiled.losses[0].module)
    if not isinstance(metric, ClassAccuracy):
        raise UserError("the embedding view is for classification models")
    layer = penultimate(compiled)
    model, probe = probed(compiled.model, layer)
    features, labels, predictions = [], [], []
    handle = probe.register_forward_hook(lambda _m, _a, out: features.append(out.detach().flatten(1).float().cpu()))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for x, y in dataset.val.batches(256, limit=None):
                output = Classifier(model, output_index(compiled))(x)
                predictions.append(metric.predict(output).cpu())
                labels.append(metric.labels(output, y).cpu())
                if sum(len(p) for p in predictions) >= limit:
                    break
    finally:
        handle.remove()
        model.train(was_training)
    points = project_2d(torch.cat(features)[:limit].numpy(), method, seed)
    names = list(dataset.class_names or []) or [str(i) for i in range(int(torch.cat(labels).max()) + 1)]
    return Embedding(points, torch.cat(labels)[:limit].numpy(), torch.cat(predictions)[:limit].numpy(),
                     names, layer, method)


def project_2d(features: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """[N, D] features as [N, 2] points by PCA or t-SNE."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if method not in ("pca", "tsne"):
        raise UserError(f"unknown projection {quoted(method)}; choose pca or tsne")
    if len(features) < 3 or features.shape[1] < 2:
        padded = np.zeros((len(features), 2), dtype=np.float32)
        padded[:, :min(2, features.shape[1])] = features[:, :2]
        return padded
    if method == "tsne":
        perplexity = float(min(30, len(features) - 1))
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)
    return PCA(2, random_state=seed).fit_transform(features)
