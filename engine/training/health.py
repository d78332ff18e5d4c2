"""Live health of each node while a model trains: activation statistics and parameter gradient norms.

`HealthMonitor` samples one batch every `every` batches, at most one every `min_interval` seconds (a
live overlay shows no more than a few a second), and only while what sampling has cost stays under
`budget` (a fraction, default 3%) of the training time, so its cost to throughput stays bounded; the
first sample comes at the `every`-th batch whatever it costs, so the overlay shows something at once.
A sampled batch's cost is everything it takes beyond a plain batch: the hooks' work, the slower module
calls while hooks are installed, the gradient read, the one device sync and the hand-over of the event
(see `sample`), measured as the sampled batch's time less the moving average of plain batches. So on a
model whose steps are tiny, where a sample costs as much as a step, it samples less often than `every`.

On a sampled batch it puts forward hooks on the compiled model's submodules (named by node id, see
`engine.compiler`) that reduce each output to a few sums on the device: its sum and norm (mean, std and
whether it is finite follow from them), and for ReLU-like nodes the count of nonzero values and of units
nonzero for some sample of the batch (the zero and dead fractions). After backward, it reads the norm of
every parameter's gradient in one call. Everything is read in one device sync and told as an
`events.HealthSample`. Between samples no hook is installed.

The monitor also finds where a non-finite value first appears (`locate_non_finite`): the first node,
in execution order, whose output holds a NaN or an infinity.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from engine.training import events

RELU_LIKE = frozenset({"ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "SiLU", "Hardswish", "Mish"})
GAP = 4  # an interval this many times the usual one is a gap (validation, checkpoints), not training


def _first_tensor(output):
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        return next((t for t in output if isinstance(t, torch.Tensor)), None)
    return None


def output_sums(output: torch.Tensor, relu_like: bool) -> list[torch.Tensor]:
    """Scalars on `output`'s device: [sum, norm], and for ReLU-like nodes also [nonzero values, units
    nonzero for some sample] (units: the elements of one sample)."""
    x = output.detach()
    sums = [x.sum(dtype=torch.float32), torch.linalg.vector_norm(x, dtype=torch.float32)]
    if relu_like and x.dim() >= 1:
        size = x.abs()
        nonzero = size.sign().sum(dtype=torch.float32)  # several times faster than count_nonzero on a CPU
        sums += [nonzero, torch.count_nonzero(size.amax(dim=0)) if x.dim() >= 2 else nonzero]
    return sums


def node_health(node_id: str, sums: list[float], numel: int, units: int, grad: float | None) -> events.NodeHealth:
    """One node's health from its read `output_sums` (`units` per sample; `numel` in all) and gradient norm."""
    total, norm = sums[0], sums[1]
    mean = total / numel if numel else math.nan
    std = math.sqrt(max(norm * norm / numel - mean * mean, 0.0)) if numel else math.nan
    zero = dead = None
    if len(sums) == 4 and numel and math.isfinite(sums[2]):  # a NaN in the output leaves the counts unknown
        zero = 1.0 - sums[2] / numel
        dead = 1.0 - sums[3] / units if units != numel else zero
    finite = math.isfinite(total)  # a NaN or an infinity anywhere makes the sum non-finite
    return events.NodeHealth(node_id, mean, std, zero, dead, grad, finite and (grad is None or math.isfinite(grad)))


class HealthMonitor:
    """Samples node health on `model` (a GraphModule whose submodules are named by node id).

    `node_types` maps node ids to their type names (ReLU-like ones get zero/dead fractions). `first_batches`
    limits sampling to the run's first batches (distributed runs, on rank 0). `clock` is for tests."""

    def __init__(self, model: torch.nn.Module, node_types: dict[str, str], *, every: int = 10,
                 budget: float = 0.03, min_interval: float = 0.1, first_batches: int | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.model, self.every, self.budget, self.first_batches = model, max(1, every), budget, first_batches
        self.min_interval, self._clock = min_interval, clock
        children = dict(model.named_children())
        self.modules = {node_id: children[node_id] for node_id in node_types if node_id in children}
        self.relu_like = {node_id for node_id, kind in node_types.items() if kind in RELU_LIKE}
        self.parameters = [(node_id, p) for node_id, module in self.modules.items()
                           for p in module.parameters() if p.requires_grad]
        self._count = 0
        self._spent = 0.0  # seconds that sampling cost beyond plain batches
        self._trained = 0.0  # seconds between batches, without long gaps (validation, checkpoints)
        self._last: float | None = None
        self._interval = 0.0  # a moving average of the time between plain batches
        self._last_cost = 0.0  # what the last sample cost
        self._sampled_last = False  # the batch since the last `due` was sampled
        self._sample_started: float | None = None  # when the last sample began
        self._handles: list = []
        self._outputs: dict[str, tuple[list[torch.Tensor], int, int]] = {}  # node id -> (sums, numel, units)
        self._grad_norms: list[torch.Tensor] = []
        self._grad_owners: list[str] = []
        self._scale = 1.0
        self.armed = False

    # ---- the rate ----------------------------------------------------------------
    def due(self) -> bool:
        """Called once per training batch: True when this batch is to be sampled."""
        self._count += 1
        now = self._clock()
        if self._last is not None:
            interval = now - self._last
            usual = GAP * self._interval + (self._last_cost if self._sampled_last else 0.0)
            if not self._interval or interval < usual:
                self._trained += interval
                if not self._sampled_last:  # the average is of plain batches: a sample's cost is beyond it
                    self._interval = 0.9 * self._interval + 0.1 * interval if self._interval else interval
        self._last, self._sampled_last = now, False
        if self.first_batches is not None and self._count > self.first_batches:
            return False
        if self._count % self.every:
            return False
        if self._sample_started is None:
            return True  # the first sample comes early, whatever it costs: the overlay shows something at once
        if now - self._sample_started < self.min_interval:
            return False
        # the next sample is expected to cost what the last did, and must fit the budget
        return self._spent + self._last_cost <= self.budget * self._trained

    @property
    def spent_seconds(self) -> float:
        return self._spent

    @property
    def share(self) -> float:
        """What sampling cost over the training time so far (kept under `budget`, bar one sample)."""
        return self._spent / self._trained if self._trained else 0.0

    def _charge_since_arm(self) -> None:
        """Count what the sample took since `arm`, beyond a plain batch, against the budget."""
        seconds = max(self._clock() - self._sample_started - self._interval, 0.0)
        self._spent += seconds
        self._last_cost = seconds
        self._sampled_last = True

    # ---- one sample --------------------------------------------------------------
    def sample(self, train_step: Callable, x, y, tell: Callable[[events.HealthSample], None],
               epoch: int, batch: int, step: int):
        """`train_step(x, y)` with the hooks on; tells the HealthSample and returns what the step returned.
        All the sampled batch took beyond a plain one (the moving average) counts against the budget."""
        self.arm()
        try:
            loss = train_step(x, y)  # calls `read_gradients` after backward
        except BaseException:
            self.disarm()  # the run fails; no hook stays on the model
            raise
        tell(self.collect(epoch, batch, step, charge=False))
        self._charge_since_arm()
        return loss

    def arm(self) -> None:
        """Install the forward hooks for the next forward pass."""
        self._sample_started = self._clock()
        self._outputs, self._grad_norms, self._grad_owners = {}, [], []
        for node_id, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._hook(node_id)))
        self.armed = True

    def _hook(self, node_id: str):
        relu_like = node_id in self.relu_like

        def hook(_module, _inputs, output) -> None:
            tensor = _first_tensor(output)
            if tensor is not None and tensor.is_floating_point() and node_id not in self._outputs:
                numel = tensor.numel()
                units = numel // tensor.shape[0] if tensor.dim() >= 2 and tensor.shape[0] else numel
                self._outputs[node_id] = (output_sums(tensor, relu_like), numel, units)

        return hook

    def read_gradients(self, scale: float = 1.0) -> None:
        """After backward, before clipping: every parameter's gradient norm (on the device, in one call);
        `scale` is the mixed-precision loss scale the gradients carry."""
        grads, owners = [], []
        for node_id, parameter in self.parameters:
            if parameter.grad is not None:
                grads.append(parameter.grad.detach())
                owners.append(node_id)
        if grads:
            self._grad_norms = list(torch._foreach_norm(grads, 2, dtype=torch.float32))
        self._grad_owners, self._scale = owners, scale

    def disarm(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.armed = False

    def collect(self, epoch: int, batch: int, step: int, *, charge: bool = True) -> events.HealthSample:
        """Remove the hooks and read the sample in one device sync (charged since `arm`, unless `sample` does)."""
        self.disarm()
        order = list(self._outputs)  # execution order: hooks ran in it
        scalars = [s for n in order for s in self._outputs[n][0]] + self._grad_norms
        values = torch.stack(scalars).tolist() if scalars else []  # the one sync
        squares: dict[str, float] = {}
        for node_id, norm in zip(self._grad_owners, values[len(values) - len(self._grad_norms):]):
            squares[node_id] = squares.get(node_id, 0.0) + norm * norm
        nodes, first_bad, at = [], None, 0
        for node_id in order:
            sums, numel, units = self._outputs[node_id]
            grad = math.sqrt(squares[node_id]) / self._scale if node_id in squares else None
            read, at = values[at:at + len(sums)], at + len(sums)
            nodes.append(node_health(node_id, read, numel, units, grad))
            if first_bad is None and not math.isfinite(read[0]):  # a forward output: gradients follow from it
                first_bad = node_id
        self._outputs, self._grad_norms, self._grad_owners = {}, [], []
        if charge:
            self._charge_since_arm()
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
