"""What `check` says about a dataset's `"augment"` list before any data is loaded: the same refusals
`train` would give (an unknown transform or argument, a bad value, an output size the model can't take),
as errors of the project rather than of a node."""

from __future__ import annotations

from engine.errors import UserError
from graphs.errors import GraphError


def _image_shape(graph, result) -> tuple[int, ...] | None:
    """The samples' shape as the first Input node gives it (what the augmentation sees), if known."""
    for node in graph.nodes():
        if node.type != "Input":
            continue
        info = result.info.get(node.id)
        shapes = [s.shape for s in info.outputs.values()] if info else []
        return tuple(shapes[0]) if shapes else None
    return None


def augment_problems(training: dict, graph, result) -> list[GraphError]:
    """The problems `train` would find in the dataset's augmentation list (none when there is no list)."""
    entries = (training.get("dataset") or {}).get("augment")
    if entries is None:
        return []
    from engine.data.augment import Augment, build_transform  # torch and kornia, only for a list to check

    try:
        if not isinstance(entries, list):
            Augment(entries, (3, 1, 1))  # its message says what the option must be
        shape = _image_shape(graph, result)
        if shape is None:
            for index, entry in enumerate(entries):
                build_transform(index, entry)
        else:
            Augment(entries, shape)
    except UserError as error:
        return [GraphError(str(error))]  # it names the entry and its type
    return []
