"""What the ONNX and PyTorch importers share: the graph builder, node ids, the result and its errors,
the batch symbol of shape arithmetic, and checking and writing an import.

An importer adds nodes to a `GraphBuilder` one at a time. Each node's output
shape is inferred right away with the engine's own shape rules, so a mapping
that Neurocanvas would compute differently fails on the node that causes it.
`GraphBuilder.finish` turns the pending nodes into a `Project` laid out left to
right, compiles it, and checks that the collected weights are exactly the
compiled model's `state_dict` (keys `<node_id>.<param>`), so
`compile_graph(project.graph).model.load_state_dict(result.weights)` works.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from engine.custom_layers.export import copy_code_beside
from engine.errors import UserError
from engine.output_paths import check_outputs
from engine.shape_rules import TensorSpec, infer_node
from graphs.catalogue import CATALOGUE
from graphs.custom_types import NO_CUSTOM_TYPES
from graphs.document import Graph
from graphs.layout import estimated_size, layered_positions
from graphs.names import MAX_LENGTH, id_problem
from graphs.project import Project, save_project

_MAX_LISTED = 12


class _BatchSymbol:
    def __repr__(self) -> str:
        return "batch"


BATCH = _BatchSymbol()  # the batch size in shape arithmetic (`x.size(0)`, ONNX `Shape`)
POISON = object()  # the value of an output whose node could not be mapped


class Refuse(Exception):
    """This part cannot be mapped; the message says why (the part is named by the caller)."""


def compact_ints(value):
    """Sizes as a node param: an int when all are equal (kernel_size=3), else a list ([3, 5])."""
    values = [int(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    return values[0] if len(set(values)) == 1 else values


class ImportRefused(UserError):
    """The model cannot be imported exactly. `unmapped` counts operators (or fx targets) that have no
    Neurocanvas node; `problems` says, for each other part that cannot be mapped, what and why."""

    def __init__(self, source: str, unmapped: dict[str, int], problems: list[str], what: str = "operator"):
        self.source = source
        self.unmapped = dict(unmapped)
        self.problems = list(problems)
        parts = []
        if unmapped:
            listed = ", ".join(f"{name} ({count})" for name, count in sorted(unmapped.items(), key=lambda i: (-i[1], i[0])))
            parts.append(f"unmapped {what}s (no Neurocanvas node): {listed}")
        if problems:
            shown = problems[:_MAX_LISTED]
            more = f"; and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
            parts.append(f"{len(problems)} part(s) that cannot be mapped: {'; '.join(shown)}{more}")
        super().__init__(f"cannot import {source}: {'. '.join(parts)}.", "Nothing was imported.")


@dataclass
class Value:
    """A tensor computed in the graph being built: the node (and port) producing it and its spec."""

    node: str
    spec: TensorSpec
    port: str = "out"


@dataclass
class PendingNode:
    id: str
    type: str
    params: dict
    inputs: list[Value]
    spec: TensorSpec | None = None
    weights: dict[str, torch.Tensor] = field(default_factory=dict)  # param name -> tensor ("": the node's own, a Parameter's)
    hint: str = ""  # where it came from, for messages
    origin: object = None  # what the importer was mapping when it made the node (an ONNX NodeProto)


def sanitize(name: str) -> str:
    """A valid node id made from any name (`/layer1/conv.0` -> `layer1_conv_0`), or '' if nothing is left."""
    text = re.sub(r"[^A-Za-z0-9_]+", "_", str(name)).strip("_")
    text = re.sub(r"_+", "_", text)[:MAX_LENGTH - 20]  # room for a prefix and a `_2` suffix
    if text and text[0].isdigit():
        text = f"n{text}"
    if text and id_problem(text):  # a Python or torch name such as `input` or `forward`
        text = f"{text}_"
    return text


class GraphBuilder:
    """Nodes being imported, with shapes inferred as they are added."""

    def __init__(self, custom_types=None):
        """`custom_types`: the types of the custom layers an import keeps (engine.custom_layers.keep)."""
        self.nodes: dict[str, PendingNode] = {}
        self._taken: set[str] = set()
        self.custom_types = custom_types if custom_types is not None else NO_CUSTOM_TYPES
        self.origin = None  # set by an importer: given to the nodes it makes (`PendingNode.origin`)

    def node_type(self, type_name: str):
        return CATALOGUE.get(type_name) or self.custom_types[type_name]

    # ---- ids -------------------------------------------------------------
    def new_id(self, hint: str, type_name: str) -> str:
        base = sanitize(hint) or sanitize(type_name.lower()) or "node"
        candidate, n = base, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{base}_{n}"
        self._taken.add(candidate)
        return candidate

    def rename(self, node_id: str, hint: str) -> str:
        """Give a node a nicer id (e.g. the ONNX output name); returns the id it ends up with."""
        base = sanitize(hint)
        if not base or base == node_id:
            return node_id
        self._taken.discard(node_id)
        new = self.new_id(base, self.nodes[node_id].type)
        self.nodes[node_id].id = new
        self.nodes = {(new if k == node_id else k): v for k, v in self.nodes.items()}
        for other in self.nodes.values():
            for value in other.inputs:
                if value.node == node_id:
                    value.node = new
        return new

    # ---- nodes -----------------------------------------------------------
    def add_input(self, hint: str, shape: tuple[int, ...], dtype: str) -> Value:
        node_id = self.new_id(hint, "input")
        params = {"shape": list(shape), "dtype": dtype}
        return self._commit(node_id, "Input", params, [], {}, hint)

    def add(self, type_name: str, params: dict, inputs: list[Value], hint: str = "",
            weights: dict[str, torch.Tensor] | None = None) -> Value:
        """Add a node; raise ShapeError/ParamError (with the engine's message) if it does not fit its inputs."""
        node_id = self.new_id(hint, type_name)
        try:
            return self._commit(node_id, type_name, params, inputs, weights or {}, hint)
        except Exception:
            self._taken.discard(node_id)
            raise

    def _commit(self, node_id, type_name, params, inputs, weights, hint) -> Value:
        spec_type = self.node_type(type_name)
        checked = spec_type.check_params(params, node_id)
        resolved = spec_type.resolve_params(checked, node_id)
        ports = spec_type.input_ports(resolved)
        required = [port for port in ports if port not in spec_type.optional]  # optional ones come last
        if not len(required) <= len(inputs) <= len(ports):
            raise ValueError(f"{type_name} takes {len(ports)} inputs, got {len(inputs)}")
        info = infer_node(node_id, type_name, resolved, {p: v.spec for p, v in zip(ports, inputs)}, spec_type.op)
        node = PendingNode(node_id, type_name, checked, [Value(v.node, v.spec, v.port) for v in inputs],
                           info.outputs.get("out", next(iter(info.outputs.values()))),  # Split: out0
                           {k: torch.as_tensor(w).detach().to(torch.float32).contiguous()
                            if torch.as_tensor(w).is_floating_point() else torch.as_tensor(w)
                            for k, w in weights.items()}, hint, self.origin)
        self.nodes[node_id] = node
        return Value(node_id, node.spec)

    def set_params(self, node_id: str, **changes) -> TensorSpec:
        """Change params of a pending node and re-infer its output spec (its consumers are not re-checked)."""
        node = self.nodes[node_id]
        params = {**node.params, **changes}
        spec_type = self.node_type(node.type)
        resolved = spec_type.resolve_params(params, node_id)
        ports = spec_type.input_ports(resolved)
        info = infer_node(node_id, node.type, resolved, {p: v.spec for p, v in zip(ports, node.inputs)}, spec_type.op)
        node.params = spec_type.check_params(params, node_id)
        node.spec = info.outputs.get("out", next(iter(info.outputs.values())))
        return node.spec

    def consumers(self, node_id: str) -> list[str]:
        return [n.id for n in self.nodes.values() if any(v.node == node_id for v in n.inputs)]

    def prune(self, keep: set[str]) -> None:
        """Drop nodes that feed none of `keep` (Input nodes stay)."""
        needed, stack = set(keep), list(keep)
        while stack:
            for value in self.nodes[stack.pop()].inputs:
                if value.node not in needed:
                    needed.add(value.node)
                    stack.append(value.node)
        self.nodes = {k: v for k, v in self.nodes.items() if k in needed or v.type == "Input"}

    def settle_recurrent(self, used: dict[str, set], last: str) -> list[str]:
        """Make each recurrent node of which only the last step (`last` in `used[node_id]`) is read output
        'last'; return the ids of those whose whole sequence and last step are both read."""
        both = []
        for node_id, kinds in used.items():
            if kinds == {last}:
                self.set_params(node_id, output="last")
            elif len(kinds) > 1:
                both.append(node_id)
        return both

    def prune_to_outputs(self, outputs: dict[str, str]) -> list[str]:
        """Drop nodes that feed no output. An output other nodes also read (a VAE's mu, a feature returned
        beside the logits) gets a same-shape Reshape of its own, since a model's outputs are its sinks;
        returns the names (keys of `outputs`) of such outputs that cannot have one (a node of several outputs)."""
        self.prune(set(outputs.values()))
        kept = []
        for name, node_id in outputs.items():
            node = self.nodes[node_id]
            if not self.consumers(node_id):
                continue
            if node.type == "Input" or len(self.node_type(node.type).output_ports(node.params)) != 1:
                kept.append(name)
                continue
            outputs[name] = self.add("Reshape", {"shape": list(node.spec.shape)}, [Value(node_id, node.spec)],
                                     f"{node_id}_out").node
        # the compiled model returns its sinks in document order: the outputs' own order
        sinks = [node_id for node_id in dict.fromkeys(outputs.values()) if not self.consumers(node_id)]
        self.nodes = {**{k: v for k, v in self.nodes.items() if k not in sinks}, **{k: self.nodes[k] for k in sinks}}
        return kept

    # ---- result ----------------------------------------------------------
    def graph(self) -> Graph:
        ids = list(self.nodes)
        edges = [(v.node, n.id) for n in self.nodes.values() for v in n.inputs]
        sizes = {n.id: estimated_size(n.type, n.id, n.params) for n in self.nodes.values()}
        positions = layered_positions(ids, edges, sizes)
        graph = Graph()
        graph.custom_types = self.custom_types
        for node in self.nodes.values():
            graph.add_node(node.type, node.params, node.id, positions[node.id])
        for node in self.nodes.values():
            spec_type = self.node_type(node.type)
            for port, value in zip(spec_type.input_ports(spec_type.resolve_params(node.params)), node.inputs):
                graph.connect(value.node, node.id, value.port, port, check=False)  # acyclic by construction
        return graph

    def finish(self, name: str, outputs: dict[str, str] | None = None, inputs: dict[str, str] | None = None,
               notes: list[str] | None = None) -> ImportResult:
        """The project, with its weights checked against the compiled model's state_dict."""
        from engine.compiler import CompileError, compile_graph

        graph = self.graph()
        try:
            with torch.random.fork_rng(devices=[]):  # the initial weights are replaced below
                compiled = compile_graph(graph)
        except CompileError as error:
            raise UserError(f"the imported graph does not compile: {error}") from None
        state = compiled.model.state_dict()
        given = {f"{n.id}.{k}" if k else n.id: w for n in self.nodes.values() for k, w in n.weights.items()}
        missing = [k for k in state if k not in given and not k.endswith("num_batches_tracked")]
        extra = [k for k in given if k not in state]
        wrong = [f"{k} {tuple(given[k].shape)} vs {tuple(state[k].shape)}" for k in given
                 if k in state and tuple(given[k].shape) != tuple(state[k].shape)]
        if missing or extra or wrong:  # a bug in a mapping, not the user's fault: say so plainly
            raise RuntimeError(f"importer produced weights that do not fit the graph: missing {missing}, "
                               f"unexpected {extra}, wrong shapes {wrong}")
        weights = {key: given[key].to(tensor.dtype).contiguous() if key in given
                   else torch.zeros(tensor.shape, dtype=tensor.dtype) for key, tensor in state.items()}
        compiled.model.load_state_dict(weights, assign=True)  # the imported tensors themselves, no copies
        compiled.model.eval()
        project = Project(graph=graph, name=name)
        return ImportResult(project, weights, dict(outputs or {}), dict(inputs or {}), list(notes or []), compiled)


@dataclass
class ImportResult:
    """An imported model: the project (graph laid out), its weights and how names map.

    `weights` holds the compiled model's full state_dict (keys `<node_id>.<param>`);
    `outputs`/`inputs` map the source model's names (ONNX value names, or fx names)
    to the node ids that carry them (`<node_id>_<port>` for the pieces of a Split, as
    `CompiledGraph.outputs` names them); `compiled` is the compiled model with the weights
    loaded, in eval mode.
    """

    project: Project
    weights: dict[str, torch.Tensor]
    outputs: dict[str, str]
    inputs: dict[str, str]
    notes: list[str]
    compiled: object = None

    def save(self, project_path: str | os.PathLike, weights_path: str | os.PathLike | None = None) -> tuple[Path, Path]:
        """Write the project JSON and its weights (`<project>.safetensors` beside it unless given): both
        appear, or neither."""
        from engine.output_paths import StagedOutputs
        from engine.weights import save_weights

        project_path = Path(project_path)
        weights_path = Path(weights_path) if weights_path else weights_path_for(project_path)
        if not project_path.parent.is_dir():
            raise UserError(f"cannot write {project_path}: the folder {project_path.parent} does not exist")
        with StagedOutputs() as staged:
            save_weights(self.compiled.model, staged.temporary(weights_path), metadata={"source": "neurocanvas import"})
            save_project(self.project, staged.temporary(project_path))
            copy_code_beside(self.project, project_path, staged)  # the classes of kept custom layers
        return project_path, weights_path


@dataclass(frozen=True)
class Verification:
    """How closely an imported graph reproduces the original model on the same random inputs."""

    difference: float  # largest absolute difference over all outputs (inf when shapes differ)
    largest: float  # largest absolute value among the original outputs
    against: str  # what the original ran in ("onnxruntime", "torch")

    TOLERANCE = 1e-4

    @property
    def ok(self) -> bool:
        return self.difference <= self.TOLERANCE * max(1.0, self.largest)


class ImportMismatch(UserError):
    """The imported graph computes something else than the original (a bug in a mapping): nothing is written."""

    def __init__(self, source: str, verification: Verification):
        self.verification = verification
        super().__init__(f"the graph imported from {source} does not reproduce it: outputs differ by up to "
                         f"{verification.difference:.3g} from {verification.against}; nothing was written",
                         "Please report this model.")


@dataclass(frozen=True)
class ImportedFiles:
    """What `import_onnx_file` / `import_torch_file` wrote."""

    result: ImportResult
    project_path: Path
    weights_path: Path
    verification: Verification | None


UNCHECKED = "Import it without the check (--no-verify), or give a smaller input shape."


def compare_outputs(pairs, against: str) -> Verification:
    """How far each (imported, original) output pair differs, the original having run in `against`."""
    worst, largest = 0.0, 0.0
    for got, want in pairs:
        if got.shape != want.shape:
            return Verification(math.inf, 0.0, against)
        if want.numel():
            worst = max(worst, float((got.double() - want.double()).abs().max()))
            largest = max(largest, float(want.double().abs().max()))
    return Verification(worst, largest, against)


def save_verified(result: ImportResult, verification: Verification | None, source: str, project_path,
                  weights_path=None) -> ImportedFiles:
    """Write the project and its weights, unless the verification found a mismatch (`ImportMismatch`)."""
    if verification is not None and not verification.ok:
        raise ImportMismatch(source, verification)
    check_outputs({"the model being imported": source},
                  {"the project": project_path, "the weights": weights_path or weights_path_for(project_path)})
    project, weights = result.save(project_path, weights_path)
    return ImportedFiles(result, project, weights, verification)


def weights_path_for(project_path: str | os.PathLike) -> Path:
    """Where an imported project's weights go: `PROJECT.safetensors` beside `PROJECT.json`."""
    return Path(project_path).with_suffix(".safetensors")
