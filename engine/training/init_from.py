"""Start a run from weights trained elsewhere (`"init_from"` in the training settings, `train --init-from`).

`load_matching(model, path)` copies from a safetensors file every tensor whose
name (the node id, then the torch attribute: `conv1.weight`) and shape match the
model, and leaves the rest as initialised. It returns an `InitReport` that says
what was loaded, what was kept random and why: a shape that differs ("fc.weight:
[10, 64] here, [1000, 64] in the file: kept random"), a tensor the file lacks, a
tensor of the file this model lacks. A file that fits nothing at all (weights
of another model entirely) is a `UserError` naming the file. The file is read
with safetensors only (`engine.weights.read_weights`), never unpickled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from engine.errors import UserError, listing
from engine.shape_rules import fmt
from engine.weights import read_weights, weight_mismatches
from graphs.errors import quoted

MAX_NOTES = 8  # skipped tensors told one by one in the run's notes; init.json lists them all


@dataclass
class InitReport:
    """What `load_matching` did with each tensor of the model and of the file."""

    path: Path
    loaded: list[str] = field(default_factory=list)
    # (name, shape here, shape in the file), or the dtype problem in place of the shapes
    mismatched: list[tuple[str, str]] = field(default_factory=list)
    missing_in_file: list[str] = field(default_factory=list)  # kept random
    not_in_model: list[str] = field(default_factory=list)  # ignored

    def loaded_nodes(self) -> set[str]:
        return {node_of(name) for name in self.loaded}

    def notes(self) -> list[str]:
        """Lines for the run's notes: a summary, then each tensor kept random and why (at most MAX_NOTES)."""
        total = len(self.loaded) + len(self.mismatched) + len(self.missing_in_file)
        lines = [f"initial weights from {quoted(str(self.path))}: loaded {len(self.loaded)} of {total} tensors"
                 + (f"; {len(self.not_in_model)} tensors of the file are not in this model and were ignored "
                    f"({listing(self.not_in_model, 4)})" if self.not_in_model else "")]
        skipped = [f"{reason}: kept random" for _, reason in self.mismatched]
        skipped += [f"{name}: not in the file: kept random" for name in self.missing_in_file]
        lines += skipped[:MAX_NOTES]
        if len(skipped) > MAX_NOTES:
            lines.append(f"and {len(skipped) - MAX_NOTES} more tensors kept random (see init.json in the run folder)")
        return lines

    def frozen_but_random(self, frozen: list[str]) -> list[str]:
        """A note for each frozen node that loaded nothing: it stays at its random initialisation."""
        kept = [name for name, _ in self.mismatched] + self.missing_in_file

        def has(names, node_id) -> bool:  # a node id may be a layer inside a unit: `layer1.0.conv1`
            return any(name == node_id or name.startswith(node_id + ".") for name in names)

        return [f"'{node_id}' is frozen but the initial weights had nothing for it: it keeps its random "
                "initialisation" for node_id in frozen if has(kept, node_id) and not has(self.loaded, node_id)]

    def as_dict(self) -> dict:
        """For init.json in the run folder."""
        return {"init_from": str(self.path), "loaded": self.loaded,
                "kept_random": [{"tensor": name, "reason": reason} for name, reason in self.mismatched]
                + [{"tensor": name, "reason": "not in the file"} for name in self.missing_in_file],
                "ignored": self.not_in_model}


def node_of(tensor_name: str) -> str:
    """The node a state_dict entry belongs to: the compiler names each submodule after its node id."""
    return tensor_name.split(".", 1)[0]


def resolve(path: str | os.PathLike, base_dir: Path) -> Path:
    """`path` as given in the settings: relative to the project's folder unless absolute."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else base_dir / path


def load_matching(model: nn.Module, path: str | os.PathLike) -> InitReport:
    """Copy every tensor of `path` whose name and shape match into `model`, in place; see the module docstring."""
    path = Path(path)
    tensors = read_weights(path)
    expected = model.state_dict()
    report = InitReport(path)
    matched: dict[str, torch.Tensor] = {}
    for name, tensor in expected.items():
        given = tensors.get(name)
        if given is None:
            report.missing_in_file.append(name)
            continue
        problem = weight_mismatches({name: tensor}, {name: given})
        if not problem:
            matched[name] = given
            report.loaded.append(name)
        elif tuple(given.shape) != tuple(tensor.shape):
            report.mismatched.append((name, f"{name}: {fmt(tensor.shape)} here, {fmt(given.shape)} in the file"))
        else:
            report.mismatched.append((name, problem[0].removeprefix("tensor ")))
    report.not_in_model = [name for name in tensors if name not in expected]
    if not any(expected[name].is_floating_point() for name in matched):
        raise UserError(
            f"no weight in {quoted(str(path))} fits this model: none of its {len(tensors)} tensors has the name "
            f"(node id) and shape of one of the model's {len(expected)} ({_examples(report)}).",
            "Were these weights saved from another model? Node ids must match the file's (rename the nodes, "
            "or import the model the weights came from).")
    with torch.no_grad():
        for name, given in matched.items():
            expected[name].copy_(given)  # state_dict shares storage with the model's parameters and buffers
    return report


def _examples(report: InitReport) -> str:
    if report.mismatched:
        return "; ".join(reason for _, reason in report.mismatched[:2])
    return f"the file holds {listing(report.not_in_model, 3)}; the model needs {listing(report.missing_in_file, 3)}"
