"""Training in several processes started by `torchrun`, with DistributedDataParallel.

torchrun starts one process per device and tells each where it stands through the
environment (`WORLD_SIZE`, `RANK`, `LOCAL_RANK`, and where to meet: `MASTER_ADDR`,
`MASTER_PORT`). `session(device)` joins the process group when there are two
processes or more (gloo on the CPU, NCCL on CUDA with one GPU per process,
`cuda:LOCAL_RANK`) and yields a `World`; otherwise it yields None and nothing
changes. The `Trainer` takes that `World` and:

- wraps the model in `DistributedDataParallel` (gradients averaged every step);
- gives each process its shard of each epoch's seeded permutation (`shard`): every
  process draws the same permutation from the same seed and takes every
  `size`-th sample from position `rank`, the tail cut so that all shards are
  equally long, hence all processes take the same number of steps (DDP needs it);
- treats `batch_size` as the global batch: each process takes `batch_size // size`
  samples a step, so one step of N processes sees the samples one step of a single
  process would (see docs/distributed.md);
- averages the training losses and sums the validation totals over the processes,
  so every process reports the same numbers, and only rank 0 (`is_main`) writes
  files and reports progress;
- averages the buffers (BatchNorm running statistics) after each epoch's training,
  which each process updates from its own samples, so every process validates and
  ends with the same model.

Collectives are only ever called at the same point of the loop on every process;
`agree` carries the losses and a stop flag in one all-reduce, so a stop asked of
any one process ends every process at the same batch. No Python object is
pickled between processes: only tensors (and text as bytes) travel.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
import torch.distributed as dist

from engine.data.dataset import batch_bounds
from engine.errors import UserError
from engine.training.devices import resolve_device

T = TypeVar("T", torch.Tensor, Sequence)


def launched_by_torchrun(environ: dict | None = None) -> bool:
    """True in a process torchrun started as one of two or more."""
    environ = os.environ if environ is None else environ
    try:
        return int(environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in environ
    except ValueError:
        return False


def shard(indices: T, rank: int, size: int, *, equal: bool = True) -> T:
    """This process's part of `indices`: every `size`-th item, starting at position `rank`.

    With `equal`, the `len(indices) % size` items at the end are left out, so that every
    shard holds `len(indices) // size` items; otherwise the shards cover all of `indices`
    (the first ones one item longer). Shards of different ranks never overlap.
    """
    if not 0 <= rank < size:
        raise ValueError(f"rank {rank} is not in a world of {size}")
    end = len(indices) // size * size if equal else len(indices)
    return indices[rank:end:size]


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one run, and the collectives the trainer uses."""

    rank: int
    size: int
    local_rank: int
    device: torch.device
    backend: str  # "gloo" | "nccl"
    sync_every: int = 10  # batches between the all-reduces of the training losses (and the stop flag)

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes the run folder and reports progress."""
        return self.rank == 0

    # ---- data -------------------------------------------------------------------
    def batch_size(self, global_batch: int) -> int:
        """Samples each process takes a step: `global_batch // size`, at least 1."""
        return max(1, global_batch // self.size)

    def num_batches(self, samples: int, global_batch: int, limit: int | None = None) -> int:
        """Steps per epoch, the same on every process."""
        return len(batch_bounds(samples // self.size, self.batch_size(global_batch), limit))

    def train_batches(self, split, global_batch: int, generator: torch.Generator,
                      limit: int | None = None) -> Iterator:
        """One epoch's batches of this process's shard of a seeded permutation of `split`."""
        order = shard(torch.randperm(len(split), generator=generator), self.rank, self.size)
        return split.batches(self.batch_size(global_batch), indices=order, limit=limit)

    def val_indices(self, samples: int) -> torch.Tensor:
        """This process's validation samples: shards covering them all, never one twice."""
        return shard(torch.arange(samples), self.rank, self.size, equal=False)

    def notes(self, global_batch: int) -> list[str]:
        per_process = self.batch_size(global_batch)
        notes = [f"distributed over {self.size} processes ({self.backend}); batch size {global_batch} is global: "
                 f"{per_process} samples per process a step"]
        if per_process * self.size != global_batch:
            notes.append(f"batch size {global_batch} does not divide by {self.size} processes; "
                         f"each step takes {per_process * self.size} samples")
        return notes

    # ---- the model ----------------------------------------------------------------
    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model under DistributedDataParallel (a static graph: parameters that no loss reaches are fine)."""
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids, static_graph=True)

    def average_buffers(self, model: torch.nn.Module) -> None:
        """Make the model's buffers (BatchNorm running statistics) the same on every process: float buffers
        averaged over the processes, the others (counters) as on rank 0."""
        for buffer in model.buffers():
            if buffer.is_floating_point():
                dist.all_reduce(buffer)
                buffer.div_(self.size)
            else:
                dist.broadcast(buffer, src=0)

    def replicas_identical(self, model: torch.nn.Module) -> bool:
        """Whether every process holds exactly the same weights (compares SHA-256 digests of the state)."""
        digest = hashlib.sha256()
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        mine = torch.tensor(list(digest.digest()), dtype=torch.uint8, device=self.device)
        gathered = [torch.empty_like(mine) for _ in range(self.size)]
        dist.all_gather(gathered, mine)
        return all(torch.equal(other, gathered[0]) for other in gathered)

    # ---- collectives ----------------------------------------------------------------
    def agree(self, losses: torch.Tensor, stop: bool) -> tuple[torch.Tensor, bool]:
        """The losses averaged over the processes, and whether any process asked to stop (one all-reduce).

        Every process steps on equally many samples, so the mean of their losses is the
        loss of the global batch."""
        values = torch.cat([losses.float().to(self.device), torch.tensor([float(stop)], device=self.device)])
        dist.all_reduce(values)
        return values[:-1] / self.size, bool(values[-1].item() > 0)

    def sum(self, values: list[float]) -> list[float]:
        """Each value summed over the processes (float64)."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def from_main(self, make: Callable[[], Path]) -> Path:
        """`make()` on rank 0, its path shared with every process (a UserError on rank 0 is raised everywhere)."""
        text, error = "", None
        if self.is_main:
            try:
                text = str(make())
            except UserError as problem:
                error = problem
        shared = self._broadcast_text(text)
        if error is not None:
            raise error
        if not shared:
            raise UserError("the main process (rank 0) could not create the run folder")
        return Path(shared)

    def _broadcast_text(self, text: str) -> str:
        data = torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8)
        length = torch.tensor([len(data)], dtype=torch.int64, device=self.device)
        dist.broadcast(length, src=0)
        if not length.item():
            return ""
        buffer = torch.zeros(int(length.item()), dtype=torch.uint8, device=self.device)
        if self.is_main:
            buffer.copy_(data)
        dist.broadcast(buffer, src=0)
        return bytes(buffer.cpu().tolist()).decode("utf-8")


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        raise UserError(f"environment variable {name} must be set to a whole number (torchrun sets it); "
                        f"start distributed training with torchrun") from None


def start(device_setting: str = "auto", timeout_minutes: float = 30.0) -> World:
    """Join the process group torchrun set up: NCCL on `cuda:LOCAL_RANK` when the device setting resolves
    to CUDA, gloo on the CPU otherwise. Raises UserError for settings that can't run distributed."""
    rank, size, local_rank = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    device = resolve_device(device_setting)
    if device.type == "mps":
        raise UserError("distributed training runs on CUDA GPUs or the CPU, not on Apple's MPS; use device 'cpu'")
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise UserError(f"process with LOCAL_RANK {local_rank} has no GPU: this node has {count}; "
                            f"start at most {count} processes per node (--nproc_per_node)")
        device, backend = torch.device("cuda", local_rank), "nccl"
        torch.cuda.set_device(device)
    else:
        backend = "gloo"
    timeout = datetime.timedelta(minutes=timeout_minutes)
    if backend == "nccl":
        dist.init_process_group(backend, timeout=timeout, device_id=device)
    else:
        dist.init_process_group(backend, timeout=timeout)
    return World(rank, size, local_rank, device, backend)


def finish(synchronize: bool = True) -> None:
    """Leave the process group (if this process is in one). With `synchronize`, wait first until
    every process has got here: a process that tears its connections down while another is
    still in its last collective (or in its own teardown) can make gloo abort that other process
    ("terminate called without an active exception"). Without it (leaving on an error), don't:
    the others may never arrive."""
    if dist.is_available() and dist.is_initialized():
        if synchronize:
            dist.barrier()
        dist.destroy_process_group()


@contextlib.contextmanager
def session(device_setting: str = "auto") -> Iterator[World | None]:
    """A `World` for the duration of the block when torchrun started 2+ processes, else None."""
    if not launched_by_torchrun():
        yield None
        return
    world = start(device_setting)
    try:
        yield world
    except BaseException:
        finish(synchronize=False)
        raise
    finish()
