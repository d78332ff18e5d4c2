"""Which weights train, and how fast: frozen nodes and per-node learning-rate multipliers.

A node with `trainable` False (see `graphs.document.Node`) is frozen: its
parameters get `requires_grad` False, so they get no gradient, and they are left
out of the optimiser, so they get no optimiser state either. With
`freeze_batchnorm` (the default) its normalisation layers that keep running
statistics (BatchNorm, InstanceNorm with `track_running_stats`) also stay in
evaluation mode while the rest trains, so those statistics stay as loaded.

A node's `lr_mult` scales the learning rate of its parameters (discriminative
fine-tuning): the optimiser gets one param group per distinct multiplier, with
`lr` = the optimiser's `lr` x the multiplier; schedules then scale every group
alike. A node that uses another's weights (`shares`) follows that node's
settings, since the weights are the owner's.

A model with units is tuned on its expansion (`CompiledGraph.graph`), whose layers have dotted ids
(`layer1.0.conv1`): each layer gets its inner node's settings combined with those of the instances
around it (`graphs.units.expand`: an instance frozen freezes all its layers, multipliers multiply),
and a tensor belongs to the layer whose id is the longest prefix of its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from engine.errors import UserError, listing
from engine.training.init_from import node_of
from graphs.document import Graph


@dataclass
class FineTuning:
    """The frozen nodes and learning-rate multipliers of one compiled model."""

    frozen: list[str] = field(default_factory=list)  # node ids whose parameters are frozen
    lr_mults: dict[str, float] = field(default_factory=dict)  # node id -> multiplier, where not 1
    held_norms: list[nn.Module] = field(default_factory=list)  # kept in eval mode while training
    node_ids: frozenset = frozenset()  # the layers of the graph tuned (dotted in an expansion)

    def hold_norms(self) -> None:
        """After `model.train()`: the frozen nodes' running statistics stay as they are."""
        for module in self.held_norms:
            module.eval()

    def param_groups(self, model: nn.Module, lr: float) -> list[dict]:
        """The trainable parameters in one group per multiplier (multiplier 1 first, so it is the reported lr)."""
        groups: dict[float, list[nn.Parameter]] = {}
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                groups.setdefault(self.lr_mults.get(layer_of(name, self.node_ids), 1.0), []).append(parameter)
        order = sorted(groups, key=lambda mult: (mult != 1.0, mult))
        return [{"params": groups[mult], "lr": lr * mult, "lr_mult": mult} for mult in order]

    def notes(self, parameters: dict[str, int]) -> list[str]:
        """Lines for the run's notes; `parameters` counts the parameters of each node."""
        lines = []
        if self.frozen:
            count = sum(parameters.get(node_id, 0) for node_id in self.frozen)
            lines.append(f"frozen: {listing(self.frozen, 8)} ({count:,} parameters get no gradient"
                         f"{'; their BatchNorm statistics are kept' if self.held_norms else ''})")
        if self.lr_mults:
            lines.append("learning-rate multipliers: " + ", ".join(
                f"{node_id} x{mult:g}" for node_id, mult in sorted(self.lr_mults.items())))
        return lines


def layer_of(tensor_name: str, node_ids) -> str:
    """The layer a parameter belongs to: the longest of `node_ids` that is a dotted prefix of its name
    (`layer1.0.conv1` for `layer1.0.conv1.weight`); its first part when none is."""
    parts = tensor_name.split(".")
    for end in range(len(parts), 0, -1):  # the full name too: a node may be a Parameter itself
        prefix = ".".join(parts[:end])
        if prefix in node_ids:
            return prefix
    return node_of(tensor_name)


def apply_fine_tuning(model: nn.Module, graph: Graph, freeze_batchnorm: bool = True) -> FineTuning:
    """Freeze the frozen nodes' parameters in `model` (compiled from `graph`: with units, the expansion
    the compiler made, `CompiledGraph.graph`) and collect the multipliers."""
    owners = {node.id: graph.node(node.shares) if node.shares and graph.has_node(node.shares) else node
              for node in graph.nodes()}
    tuning = FineTuning(node_ids=frozenset(owners))
    counts = parameter_counts(model)
    modules = dict(model.named_modules())
    for node_id, owner in owners.items():
        if node_id != owner.id or not counts.get(node_id):
            continue  # a sharing node (its owner's settings hold), or one without weights
        if not owner.trainable:
            tuning.frozen.append(node_id)
        elif owner.lr_mult != 1.0:
            tuning.lr_mults[node_id] = owner.lr_mult
    frozen = set(tuning.frozen)
    for name, parameter in model.named_parameters():
        if layer_of(name, tuning.node_ids) in frozen:
            parameter.requires_grad_(False)
    if frozen and not any(p.requires_grad for p in model.parameters()):
        raise UserError(f"every node with weights is frozen ({listing(tuning.frozen, 6)}): there is nothing "
                        "to train; make at least one trainable")
    if freeze_batchnorm:
        tuning.held_norms = [module for node_id in tuning.frozen if node_id in modules
                             for module in modules[node_id].modules()
                             if _keeps_running_stats(module)]
    return tuning


def _keeps_running_stats(module: nn.Module) -> bool:
    """BatchNorm, InstanceNorm with track_running_stats and the like: statistics that training updates."""
    return bool(getattr(module, "track_running_stats", False)) and getattr(module, "running_mean", None) is not None


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """How many parameters each module (or Parameter) holds, by every dotted prefix of the tensor names
    (`layer1`, `layer1.0`, `layer1.0.conv1`...), so a node of the model and a layer of its expansion both count."""
    counts: dict[str, int] = {}
    for name, parameter in model.named_parameters():
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            counts[prefix] = counts.get(prefix, 0) + parameter.numel()
    return counts
