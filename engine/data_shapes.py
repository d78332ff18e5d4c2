"""The shapes Input and Target nodes take from the data, the same way for `check` and `train`.

An Input or Target node whose `shape` is left out takes the shape and dtype of
the project's dataset. `graph_as_trained` gives the graph as training sees it;
`check` calls it too, so the two never disagree about a node left without a
shape. Importing this module is cheap (no torch): the data is loaded, and
torch (and scikit-learn for its bundled sets) imported, only when a node
actually needs a shape from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import UserError

if TYPE_CHECKING:
    from engine.data import Dataset
    from engine.training.config import TrainingConfig
    from graphs.document import Graph

DATA_NODES = ("Input", "Target")
SIZED_BY_DATA = (*DATA_NODES, "Embedding")  # the node types `shapeless_data_nodes` looks at


def shapeless_data_nodes(graph: Graph) -> list[str]:
    """The nodes that leave a size to the data: Input and Target nodes without a shape, and Embeddings
    whose num_embeddings is None (a text dataset's vocabulary size)."""
    found = [node_id for type_name in DATA_NODES for node_id in graph.node_ids_of_type(type_name)
             if graph.node(node_id).params.get("shape") is None]
    found += [node_id for node_id in graph.node_ids_of_type("Embedding")
              if graph.node(node_id).params.get("num_embeddings", 0) is None]
    if len(found) < 2:  # the editor asks after every edit: looks at the few nodes of these types only
        return found
    return sorted(found, key=graph.places_of(found).__getitem__)  # in node order


def load_training_data(config: TrainingConfig, base_dir: Path, progress=None) -> Dataset:
    """The dataset `config` names, split as configured; running out of memory is a UserError with advice.
    `progress(done, total)` hears how far a file has been read (see `engine.data.load_dataset`)."""
    from engine.data import load_dataset
    from engine.memory_budget import is_out_of_memory
    from engine.training.failures import first_line

    try:
        return load_dataset(config.dataset, base_dir, config.val_split, config.seed, progress)
    except (MemoryError, RuntimeError) as error:
        if not is_out_of_memory(error):
            raise
        raise UserError(f"out of CPU memory while loading dataset '{config.dataset['name']}' "
                        f"({first_line(error)}); use less data, or for an image folder \"stream\": true") from None


def graph_as_trained(graph: Graph, training: dict, base_dir: Path,
                     dataset: Dataset | None = None) -> tuple[Graph, Dataset | None]:
    """`graph` with its shapeless Input/Target nodes given the dataset's shapes, and the dataset.

    `dataset` is the project's data if already loaded; otherwise it is loaded with the `training`
    settings only when a node needs a shape and a dataset is set (else `graph` comes back as it is,
    and shape inference says what is missing). Raises UserError when the data can't be loaded."""
    from_data = shapeless_data_nodes(graph)
    has_data = isinstance(training, dict) and isinstance(training.get("dataset"), dict)
    if dataset is None and (not from_data or not has_data):
        return graph, None
    from engine.data import fill_shapes
    from engine.training.config import TrainingConfig

    if dataset is None:
        dataset = load_training_data(TrainingConfig.from_dict(training), base_dir)
    return fill_shapes(graph, dataset), dataset
