"""Live health of each node while a model trains: activation statistics and parameter gradient norms.

`HealthMonitor` samples one batch every `every` batches, and only while the time it has spent stays
under `budget` (a fraction, default 3%) of the training time, so its cost to throughput stays bounded.
On a sampled batch it puts forward hooks on the compiled model's submodules (named by node id, see
`engine.compiler`) that reduce each output to a few numbers on the device: mean, std, the fraction of
zeros and of dead units (zero for every sample of the batch) for ReLU-like nodes, and whether it is
finite. After backward, it reads the gradient norm of each node's parameters. Everything is read in
one device sync and told as an `events.HealthSample`. Between samples no hook is installed.

The monitor also finds where a non-finite value first appears (`locate_non_finite`): the first node,
in execution order, whose output holds a NaN or an infinity.
"""

from __future__ import annotations

import math
import time

import torch

from engine.training import events

RELU_LIKE = frozenset({"ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "SiLU", "Hardswish", "Mish"})
STATS = 5  # mean, std, zero fraction, dead fraction, finite


def _first_tensor(output):
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        return next((t for t in output if isinstance(t, torch.Tensor)), None)
    return None


def output_stats(output: torch.Tensor, relu_like: bool) -> torch.Tensor:
    """[mean, std, zero fraction, dead fraction, finite] of one output, on its device (NaN where not measured)."""
    x = output.detach().float()
    nan = torch.full((), math.nan, device=x.device)
    mean = x.mean()
    std = (x.square().mean() - mean.square()).clamp_min(0).sqrt()  # much faster than torch.std on a CPU
    finite = torch.isfinite(mean).float()  # a NaN or an infinity anywhere makes the mean non-finite
    if relu_like and x.dim() >= 1 and x.numel():
        nonzero = x != 0
        zero = 1.0 - nonzero.float().mean()
        dead = 1.0 - nonzero.any(dim=0).float().mean() if x.dim() >= 2 else zero
    else:
        zero = dead = nan
    return torch.stack([mean, std, zero, dead, finite])


class HealthMonitor:
    """Samples node health on `model` (a GraphModule whose submodules are named by node id).

    `node_types` maps node ids to their type names (ReLU-like ones get zero/dead fractions). `first_batches`
    limits sampling to the run's first batches (distributed runs, on rank 0)."""

    def __init__(self, model: torch.nn.Module, node_types: dict[str, str], *, every: int = 10,
                 budget: float = 0.03, first_batches: int | None = None):
        self.model, self.every, self.budget, self.first_batches = model, max(1, every), budget, first_batches
        children = dict(model.named_children())
        self.modules = {node_id: children[node_id] for node_id in node_types if node_id in children}
        self.relu_like = {node_id for node_id, kind in node_types.items() if kind in RELU_LIKE}
        self.parameters = {node_id: [p for p in module.parameters() if p.requires_grad]
                           for node_id, module in self.modules.items()}
        self._count = 0
        self._spent = 0.0  # seconds spent sampling
        self._trained = 0.0  # seconds between batches, without long gaps (validation, checkpoints)
        self._last: float | None = None
        self._interval = 0.0  # a moving average of the time between batches
        self._last_cost = 0.0  # what the last sample took
        self._sample_started = 0.0
        self._handles: list = []
        self._outputs: dict[str, torch.Tensor] = {}
        self._grads: dict[str, torch.Tensor] = {}
        self.armed = False

    # ---- the rate ----------------------------------------------------------------
    def due(self) -> bool:
        """Called once per training batch: True when this batch is to be sampled."""
        self._count += 1
        now = time.perf_counter()
        if self._last is not None:
            interval = now - self._last
            if not self._interval or interval < 4 * self._interval:  # a gap between epochs is not training
                self._trained += interval
                self._interval = 0.9 * self._interval + 0.1 * interval if self._interval else interval
        self._last = now
        if self.first_batches is not None and self._count > self.first_batches:
            return False
        if self._count % self.every:
            return False
        # the next sample is expected to cost what the last did (at first: one batch), and must fit the budget
        return self._spent + max(self._last_cost, self._interval) <= self.budget * self._trained

    @property
    def spent_seconds(self) -> float:
        return self._spent

    @property
    def share(self) -> float:
        """The time spent sampling over the training time so far (kept under `budget`, bar one sample)."""
        return self._spent / self._trained if self._trained else 0.0

    # ---- one sample --------------------------------------------------------------
    def arm(self) -> None:
        """Install the forward hooks for the next forward pass."""
        began = self._sample_started = time.perf_counter()
        self._outputs, self._grads = {}, {}
        for node_id, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._hook(node_id)))
        self.armed = True
        self._spent += time.perf_counter() - began

    def _hook(self, node_id: str):
        relu_like = node_id in self.relu_like

        def hook(_module, _inputs, output) -> None:
            began = time.perf_counter()
            tensor = _first_tensor(output)
            if tensor is not None and tensor.is_floating_point() and node_id not in self._outputs:
                self._outputs[node_id] = output_stats(tensor, relu_like)
            self._spent += time.perf_counter() - began

        return hook

    def read_gradients(self, scale: float = 1.0) -> None:
        """After backward, before clipping: each node's parameter gradient norm (on the device); `scale` is
        the mixed-precision loss scale the gradients carry."""
        began = time.perf_counter()
        for node_id, params in self.parameters.items():
            grads = [p.grad for p in params if p.grad is not None]
            if grads:
                norms = torch._foreach_norm([g.detach().float() for g in grads])
                self._grads[node_id] = torch.linalg.vector_norm(torch.stack(norms)) / scale
        self._spent += time.perf_counter() - began

    def disarm(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.armed = False

    def collect(self, epoch: int, batch: int, step: int) -> events.HealthSample:
        """Remove the hooks and read the sample in one device sync."""
        began = time.perf_counter()
        self.disarm()
        order = list(self._outputs)  # execution order: hooks ran in it
        rows = [self._outputs[n] for n in order]
        grads = [self._grads.get(n) for n in order]
        grad_values = [g for g in grads if g is not None]
        tensors = [torch.stack(rows).flatten()] if rows else []
        if grad_values:
            tensors.append(torch.stack(grad_values))
        values = torch.cat(tensors).tolist() if tensors else []  # the one sync
        stats, grad_list = values[:len(rows) * STATS], iter(values[len(rows) * STATS:])
        nodes, first_bad = [], None
        for i, node_id in enumerate(order):
            mean, std, zero, dead, finite = stats[i * STATS:(i + 1) * STATS]
            grad = next(grad_list) if grads[i] is not None else None
            ok = finite == 1.0 and (grad is None or math.isfinite(grad))
            if finite != 1.0 and first_bad is None:  # a forward output: gradients follow from it
                first_bad = node_id
            nodes.append(events.NodeHealth(node_id, mean, std, None if math.isnan(zero) else zero,
                                           None if math.isnan(dead) else dead, grad, ok))
        self._outputs, self._grads = {}, {}
        self._spent += time.perf_counter() - began
        self._last_cost = time.perf_counter() - self._sample_started - self._interval  # beyond a plain batch
        return events.HealthSample(epoch, batch, step, tuple(nodes), first_bad)

    # ---- after a non-finite loss -------------------------------------------------
    def locate_non_finite(self, forward, x) -> str | None:
        """The first node, in execution order, whose output on `x` is not finite (None if all are)."""
        found: list[str] = []

        def hook_for(node_id):
            def hook(_module, _inputs, output):
                tensor = _first_tensor(output)
                if not found and tensor is not None and tensor.is_floating_point() and \
                        not bool(torch.isfinite(tensor).all()):
                    found.append(node_id)
            return hook

        handles = [module.register_forward_hook(hook_for(node_id)) for node_id, module in self.modules.items()]
        try:
            with torch.no_grad():
                forward(x)
        except Exception:  # noqa: BLE001 - a diagnosis only; the run has already failed
            pass
        finally:
            for handle in handles:
                handle.remove()
        return found[0] if found else None
