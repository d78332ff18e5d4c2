"""Where each node of an ONNX import was made: the source model's modules around it (for `unit_grouping`).

torch's dynamo exporter (`torch.onnx.export(..., dynamo=True)`, the default) writes, on every node,
the module path of each scope around it and that module's class (`pkg.torch.onnx.name_scopes` and
`pkg.torch.onnx.class_hierarchy`). The classes that are not torch's are the instances that may
become units, as in `import-torch`; `nn.Sequential` and `nn.ModuleList` scopes may become Repeats.
torch's TorchScript exporter keeps the module paths in its node names only (`/layer1/layer1.0/conv1/Conv`),
without the classes: `scope_name_placements` reads those. Files with neither import flat.
"""

from __future__ import annotations

import ast
import re

from engine.importers.common import GraphBuilder, sanitize
from engine.importers.unit_grouping import Placement

SCOPES, CLASSES = "pkg.torch.onnx.name_scopes", "pkg.torch.onnx.class_hierarchy"
_CONTAINERS = ("torch.nn.modules.container.Sequential", "torch.nn.modules.container.ModuleList")


def placements(builder: GraphBuilder) -> tuple[dict[str, Placement], set[str]]:
    """(node id -> its Placement, the paths of the containers whose items may become a Repeat)."""
    if not any(_scopes(pending.origin) for pending in builder.nodes.values()):
        return scope_name_placements(builder)
    found, sequences = {}, set()
    for node_id, pending in builder.nodes.items():
        scopes = _scopes(pending.origin)
        if scopes is None:
            continue
        sequences.update(path for path, cls in scopes if cls in _CONTAINERS)
        owners = tuple((path, sanitize(cls.rpartition(".")[2]) or "Block") for path, cls in scopes[1:-1]
                       if path and not cls.startswith(("torch.", "aten.")))
        owner = owners[-1][0] if owners else ""
        layer = next((path for path, cls in reversed(scopes[1:-1]) if cls.startswith("torch.nn.modules.")
                      and cls not in _CONTAINERS), None)
        if layer is not None and len(layer) > len(owner):
            name = layer[len(owner) + 1:] if owner else layer
        else:
            name = re.sub(r"_\d+$", "", scopes[-1][0])
        found[node_id] = Placement(owners, name)
    return found, sequences


def _scopes(node) -> list[tuple[str, str]] | None:
    """[(module path, class)] from the outermost (the model) to the operator, or None without metadata."""
    props = {prop.key: prop.value for prop in getattr(node, "metadata_props", ())}
    if SCOPES not in props or CLASSES not in props:
        return None
    try:
        paths, classes = ast.literal_eval(props[SCOPES]), ast.literal_eval(props[CLASSES])
    except (ValueError, SyntaxError):
        return None
    if not (isinstance(paths, list) and isinstance(classes, list) and len(paths) == len(classes) >= 2):
        return None
    return [(str(path), str(cls)) for path, cls in zip(paths, classes)]


def scope_name_placements(builder: GraphBuilder) -> tuple[dict[str, Placement], set[str]]:
    """Placements from scoped node names alone (`/layer1/layer1.0/conv1/Conv`, as torch's TorchScript
    exporter writes them), which name the modules but not their classes. A module that holds others is
    an instance, or a container when all it holds are numbered items (`layer1.0`, `layer1.1`); instances
    of one structure are one unit, named `Block` (`Block`, `Block_downsample` for another structure)."""
    chains = {node_id: _chain(getattr(pending.origin, "name", "")) for node_id, pending in builder.nodes.items()}
    inner = {path for chain in chains.values() for path in chain[:-1]}  # modules holding other modules
    children: dict[str, set[str]] = {}
    for chain in chains.values():
        for parent, child in zip(chain, chain[1:]):
            children.setdefault(parent, set()).add(child)
    sequences = {path for path, held in children.items() if all(c.rpartition(".")[2].isdigit() for c in held)}
    found = {}
    for node_id, chain in chains.items():
        if not chain:
            continue
        holders = [path for path in chain if path in inner or path is not chain[-1]]
        leaf = chain[-1] if chain[-1] not in inner else None
        owners = tuple((path, "Block") for path in holders if path != leaf and path not in sequences)
        owner = owners[-1][0] if owners else ""
        op = getattr(builder.nodes[node_id].origin, "name", "").rstrip("/").rpartition("/")[2]
        if leaf is not None:
            name = leaf[len(owner) + 1:] if owner and leaf.startswith(owner + ".") else leaf
        else:
            name = re.sub(r"_\d+$", "", op).lower() or "node"
        found[node_id] = Placement(owners, name)
    return found, sequences


def _chain(name: str) -> list[str]:
    """The module paths of a scoped node name: `/layer1/layer1.0/conv1/Conv` -> layer1, layer1.0,
    layer1.0.conv1 (the last part is the operator)."""
    if not name.startswith("/"):
        return []
    parts = [part for part in name.split("/") if part][:-1]
    paths: list[str] = []
    for part in parts:
        parent = paths[-1] if paths else ""
        head, _, last = parent.rpartition(".")
        if part.startswith(last + ".") and last:  # a container's item is named `downsample.0`, not `0`
            paths.append(f"{head}.{part}" if head else part)
        else:
            paths.append(f"{parent}.{part}" if parent else part)
    return paths
