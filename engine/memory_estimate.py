"""The peak memory a training run will need, estimated from the inferred shapes before it starts.

`estimate_training(graph, shapes, training, batch_size)` adds up, in bytes:
- parameters (float32) and their gradients (one float32 each);
- the optimiser's state: SGD none (one buffer with momentum), Adam and AdamW two (three with
  amsgrad), RMSprop one (plus one with momentum, one more when centered);
- activations kept for backward: an output counts, once, when its node saves it as its result
  (ReLU, Sigmoid, Tanh...) or a node reading it saves it as its input (Linear, Conv, BatchNorm,
  MaxPool...; not Add, Concat, Dropout or a ReLU, which need nothing of their input). Views
  (Flatten, Reshape, Permute...) share their source's memory. Some types keep more: a Dropout its
  mask (one byte an element on a GPU, a float on the CPU: counted as a float), a MaxPool its
  indices (int64), a cross-entropy loss its input's log-probabilities, a recurrent layer its gates
  and states at each step, a Transformer layer its attention weights and feed-forward activations.
  Backward frees what each node kept as it passes it, while the gradients of that node's output
  and inputs are in flight: the activations' figure is the largest sum of the two along the way;
- the data batch: inputs and targets at the batch size.
Mixed precision (`amp`) halves the activations and the batch's float inputs (16-bit copies);
the float32 master parameters, gradients and optimiser state stay as they are.
Left out: the allocator's rounding and caching, CUDA's context and cuDNN's workspace, the
library's own code. The estimate is affine in the batch size, so `largest_batch` solves it.
`check_training_memory` refuses a run whose estimate exceeds what the device has now.
Torch is imported only to ask a CUDA device how much it has free.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass

from engine import memory_budget
from engine.errors import UserError
from engine.memory_budget import FLOAT_BYTES, GB, gigabytes, spec_bytes
from graphs.validate import topological_order

MAX_BATCH = 1 << 20  # engine.training.config's limit
VIEWS = frozenset({"Flatten", "Unflatten", "Reshape", "Permute", "Transpose", "Select", "Squeeze", "Unsqueeze",
                   "Identity", "Input", "Target", "Parameter"})
# bytes kept per output byte, besides the output itself (see the module docstring)
SAVES_OUTPUT = frozenset({"ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Exp"})
# types whose backward needs nothing of their input (besides a shape): what feeds them can be freed
SAVES_NO_INPUT = SAVES_OUTPUT | {"Add", "Subtract", "Concat", "Dropout", "Dropout2d", "AvgPool1d", "AvgPool2d",
                                 "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Sum", "Mean", "Scale",
                                 "Upsample"}
# losses that keep a new tensor the size of their input (log-probabilities) rather than the input
NEW_TENSOR_LOSSES = frozenset({"CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss"})
SAVES_NO_INPUT |= NEW_TENSOR_LOSSES
EXTRA = {"Dropout": 1.0, "Dropout2d": 1.0, "MaxPool1d": 2.0, "MaxPool2d": 2.0, "MaxPool3d": 2.0}
# hidden-sized tensors a recurrent layer keeps per step and layer: the gate pre-activations, the gates,
# the states and their products, as the CPU's unfused implementation saves them (cuDNN keeps fewer)
RECURRENT_STEP_TENSORS = {"LSTM": 18, "GRU": 14, "RNN": 3}
AMP_BYTES = 2  # bf16 and fp16
HEADROOM = 0.9  # the batch size offered leaves a tenth of the free memory for what the estimate leaves out


def size_text(size: int) -> str:
    """Bytes for a person: '1.2 GB', or '35.4 MB' below a gigabyte (decimal units, as memory_budget)."""
    return gigabytes(size) if size >= 0.95 * GB else f"{size / 1e6:.3g} MB"


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes of each part of a training step's peak, at `batch_size`."""

    batch_size: int
    parameters: int
    gradients: int
    optimizer_state: int
    activations: int
    data_batch: int

    @property
    def total(self) -> int:
        return self.parameters + self.gradients + self.optimizer_state + self.activations + self.data_batch

    def as_dict(self) -> dict:
        return {**asdict(self), "total": self.total}

    def describe(self) -> str:
        """'1.2 GB at batch size 64 (parameters 0.1 GB, gradients ..., data batch ...)'."""
        parts = ", ".join(f"{name.replace('_', ' ')} {size_text(getattr(self, name))}"
                          for name in ("parameters", "gradients", "optimizer_state", "activations", "data_batch"))
        return f"{size_text(self.total)} at batch size {self.batch_size:,} ({parts})"


def optimizer_buffers(optimizer) -> int:
    """How many parameter-sized buffers `optimizer` (the training setting, a dict or a name) keeps."""
    spec = {"type": optimizer} if isinstance(optimizer, str) else dict(optimizer or {"type": "Adam"})
    name = str(spec.get("type", "Adam")).lower()
    if name == "sgd":
        return 1 if spec.get("momentum", 0) else 0
    if name in ("adam", "adamw"):
        return 3 if spec.get("amsgrad") else 2
    if name == "rmsprop":
        return 1 + bool(spec.get("momentum", 0)) + bool(spec.get("centered"))
    return 2  # an optimiser this module does not know: assume Adam's


def _extra_bytes(node, info, inputs: list, batch: int, item_bytes: int) -> int:
    """What `node` keeps for backward at `batch` besides the outputs counted by `_kept_outputs`."""
    type_name = node.type
    if type_name in NEW_TENSOR_LOSSES:  # its input's log-probabilities: the input's size
        return sum(batch * _numel(spec.shape) for spec in inputs) * item_bytes
    elements = sum(batch * _numel(spec.shape) for spec in info.outputs.values())
    size = elements * item_bytes * EXTRA.get(type_name, 0.0)
    params = node.resolved_params()
    if type_name in RECURRENT_STEP_TENSORS:
        hidden = params.get("hidden_size", 1) * (2 if params.get("bidirectional") else 1)
        steps = inputs[0].shape[0] if inputs and inputs[0].shape else 1
        layers = params.get("num_layers", 1)
        size += batch * steps * hidden * layers * RECURRENT_STEP_TENSORS[type_name] * item_bytes
    elif type_name.startswith("Transformer") or type_name == "MultiheadAttention":
        size += _attention_bytes(params, inputs, batch, item_bytes, type_name)
    return int(size)


def _kept_outputs(graph, shapes, rank: dict[str, int]) -> dict[tuple[str, str], int]:
    """The (node, port) outputs that stay in memory until backward, each with the rank of the earliest
    node that keeps it (backward frees it once past that node): a node keeps its own result (ReLU,
    Sigmoid...) or its input (Linear, Conv, BatchNorm...). A view's output is its source's memory."""

    def owner(node_id: str, port: str) -> tuple[str, str]:
        edge = graph.edge_into(node_id, "in") if graph.node(node_id).type in VIEWS else None
        return owner(edge.source, edge.source_port) if edge is not None else (node_id, port)

    kept: dict[tuple[str, str], int] = {}

    def keep(output: tuple[str, str], by: str) -> None:
        if graph.node(output[0]).type not in VIEWS | {"Input", "Target"}:
            kept[output] = min(kept.get(output, rank[by]), rank[by])

    for node_id in shapes.info:
        type_name = graph.node(node_id).type
        if type_name in VIEWS:
            continue
        if type_name in SAVES_OUTPUT:
            keep(owner(node_id, "out"), node_id)
        if type_name not in SAVES_NO_INPUT:
            for edge in graph.in_edges(node_id):
                keep(owner(edge.source, edge.source_port), node_id)
    return kept


def _activation_peak(graph, shapes, batch: int, item_bytes: int) -> int:
    """The most activation memory alive at once: everything kept when backward starts, then, going back
    node by node, what is still kept plus the gradients in flight (of the node's output and inputs)."""
    order = [node_id for node_id in topological_order(graph) if node_id in shapes.info]
    rank = {node_id: i for i, node_id in enumerate(order)}
    freed = [0] * len(order)  # bytes backward frees once past each node
    for (node_id, port), by in _kept_outputs(graph, shapes, rank).items():
        spec = shapes.info[node_id].outputs.get(port)
        freed[by] += batch * _numel(spec.shape) * item_bytes if spec is not None else 0
    for node_id in order:
        node, info = graph.node(node_id), shapes.info[node_id]
        freed[rank[node_id]] += _extra_bytes(node, info, list(shapes.inputs.get(node_id, {}).values()), batch,
                                             item_bytes)
    # a gradient that waits: an output read by a node far downstream (a skip connection) has its gradient
    # from that node's backward until its producer's; counted at the nodes strictly in between
    waiting = [0] * (len(order) + 1)
    for edge in graph.edges():
        if edge.source in rank and edge.target in rank and rank[edge.target] - rank[edge.source] > 1:
            spec = shapes.info[edge.source].outputs.get(edge.source_port)
            if spec is not None and graph.node(edge.source).type not in ("Input", "Target", "Parameter"):
                size = batch * _numel(spec.shape) * item_bytes
                waiting[rank[edge.source] + 1] += size
                waiting[rank[edge.target]] -= size
    alive, peak, in_flight = sum(freed), 0, list(itertools.accumulate(waiting))
    for node_id in reversed(order):
        node = graph.node(node_id)
        if node.type not in VIEWS and not node.type.endswith("Loss"):
            specs = [*shapes.info[node_id].outputs.values(), *shapes.inputs.get(node_id, {}).values()]
            peak = max(peak, alive + in_flight[rank[node_id]]
                       + sum(batch * _numel(spec.shape) for spec in specs) * item_bytes)
        alive -= freed[rank[node_id]]
    return peak


def _attention_bytes(params: dict, inputs: list, batch: int, item_bytes: int, type_name: str) -> float:
    """A Transformer layer's saved tensors besides its output, times its layers: the attention scores and
    weights (and their dropout mask), about fourteen d_model-wide tensors (projections, heads, norms,
    residuals, dropout masks) and three dim_feedforward-wide ones (linear, activation, dropout)."""
    if not inputs or len(inputs[0].shape) < 2:
        return 0.0
    steps, width = inputs[0].shape[0], inputs[0].shape[-1]
    heads = params.get("nhead", params.get("num_heads", 1))
    attention = batch * heads * steps * steps * (2 * item_bytes + 1)  # scores, weights, dropout mask
    if type_name == "MultiheadAttention":
        return attention + batch * steps * width * 4 * item_bytes
    feedforward = params.get("dim_feedforward", 4 * width)
    per_layer = attention + batch * steps * (14 * width + 3 * feedforward) * item_bytes
    return per_layer * params.get("num_layers", 1)


def _numel(shape) -> int:
    total = 1
    for size in shape:
        total *= int(size)
    return total


def estimate_training(graph, shapes, training: dict, batch_size: int) -> MemoryEstimate:
    """The estimate (see the module docstring) for `graph` inferred as `shapes`, trained with the
    `training` settings (optimizer, amp) at `batch_size`."""
    amp = training.get("amp") or None
    item_bytes = AMP_BYTES if amp else FLOAT_BYTES
    params = shapes.total_params * FLOAT_BYTES
    data = 0
    for node_id, info in shapes.info.items():
        if graph.node(node_id).type in ("Input", "Target"):
            for spec in info.outputs.values():
                whole = spec_bytes(spec, batch_size)
                data += whole // 2 if amp and spec.dtype == "float32" else whole
    return MemoryEstimate(batch_size, params, params, params * optimizer_buffers(training.get("optimizer")),
                          _activation_peak(graph, shapes, batch_size, item_bytes), data)


def largest_batch(graph, shapes, training: dict, budget: int) -> int:
    """The largest batch size whose estimate fits in `budget` bytes (0 when not even one sample fits).
    The estimate is affine in the batch size, so its per-sample slope gives the answer directly."""
    fixed = estimate_training(graph, shapes, training, 0).total
    per_sample = estimate_training(graph, shapes, training, 1).total - fixed
    if budget < fixed + per_sample:
        return 0
    return MAX_BATCH if per_sample == 0 else min(MAX_BATCH, (budget - fixed) // per_sample)


FITS_PHRASE = "The largest batch size that fits is"


def batch_size_that_fits(message: str) -> int | None:
    """The batch size a NotEnoughMemory message offers (the GUI gets the message as text), else None."""
    match = re.search(re.escape(FITS_PHRASE) + r" ([\d,]+);", message)
    return int(match.group(1).replace(",", "")) if match else None


class NotEnoughMemory(UserError):
    """The run's estimated peak exceeds the device's free memory; `batch_size` is the largest that fits."""

    def __init__(self, message: str, estimate: MemoryEstimate, available: int, batch_size: int):
        super().__init__(message)
        self.estimate, self.available, self.batch_size = estimate, available, batch_size


def device_available(device) -> int | None:
    """Free bytes on `device` (a torch.device or its name): CUDA asks the driver, CPU reads the
    operating system's available memory; None where it cannot be known (MPS)."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(device)[0])
    return memory_budget.available_bytes() if kind == "cpu" else None


def memory_problem(graph, shapes, training: dict, batch_size: int, available: int | None,
                   device_name: str = "this computer") -> NotEnoughMemory | None:
    """The refusal for a run that does not fit in `available` bytes, or None when it fits (or it is unknown)."""
    estimate = estimate_training(graph, shapes, training, batch_size)
    if available is None or estimate.total <= available:
        return None
    fits = largest_batch(graph, shapes, training, int(available * HEADROOM))
    advice = (f"{FITS_PHRASE} {fits:,}; set it in the Training settings (batch_size)."
              if fits else "Not even a batch of one fits: make the model smaller.")
    return NotEnoughMemory(f"Training needs about {estimate.describe()}, but {device_name} has "
                           f"{size_text(available)} free, so the run was not started. {advice}",
                           estimate, available, fits)


def check_training_memory(graph, shapes, training: dict, batch_size: int, device, extra: int = 0) -> None:
    """Raise NotEnoughMemory when the run's estimate (plus `extra` bytes it will place on the device,
    such as a dataset moved to a GPU) exceeds what `device` has free now."""
    available = device_available(device)
    if available is not None:
        available = max(0, available - extra)
    name = "this computer" if getattr(device, "type", str(device)) == "cpu" else f"device {device}"
    problem = memory_problem(graph, shapes, training, batch_size, available, name)
    if problem is not None:
        raise problem


def _placed_bytes(dataset) -> int:
    """Bytes of the in-memory splits the trainer moves onto the device (streamed splits move batch by batch)."""
    return sum(int(t.nelement() * t.element_size()) for split in (dataset.train, dataset.val)
               for t in (getattr(split, "x", None), getattr(split, "y", None)) if t is not None)


def check_run_memory(trainer, graph, shapes) -> None:
    """The trainer's check before a run (`Trainer.prepare`): its batch size, optimiser and mixed
    precision on its device; on a GPU the in-memory dataset it will place there counts too (on the
    CPU it is already loaded, so the available memory has already gone down by it)."""
    config, device = trainer.config, trainer.device
    on_gpu = getattr(device, "type", "cpu") == "cuda"
    training = {"optimizer": config.optimizer, "amp": config.amp if on_gpu else None}
    check_training_memory(graph, shapes, training, config.batch_size, device,
                          extra=_placed_bytes(trainer.dataset) if on_gpu else 0)


def training_memory(project, graph, shapes, batch_size: int | None) -> MemoryEstimate | None:
    """`check --batch-size`'s estimate for `project` at `batch_size`; None without one (the report keeps
    its keys) or for an invalid graph. A batch size below 1 is a UserError."""
    if batch_size is None:
        return None
    if not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH:
        raise UserError(f"--batch-size must be a whole number from 1 to {MAX_BATCH}, got {batch_size}")
    return estimate_training(graph, shapes, project.training, batch_size) if shapes.valid else None
