"""What a training run says when something goes wrong, and what it frees afterwards. No Qt here.

`describe_graph_errors` words a graph that can't be compiled (the trainer
raises it as a `UserError` before training starts). Once training has started,
`failure_message` turns whatever ends the run (a loss that is no longer finite,
`LossNotFinite`; running out of memory; a `UserError` such as a streamed image
that can't be read; any other exception) into one message that says where it
happened and what to try, keeping the traceback only for the unexpected ones.
`release_memory` frees what a failed run still holds.
"""

from __future__ import annotations

import gc
import math
import threading
import traceback

import torch

from engine.errors import UserError
from engine.memory_budget import CPU_ALLOCATOR, is_out_of_memory
from engine.shapes import describe
from graphs.errors import GraphError


class LossNotFinite(Exception):
    """The loss became NaN or infinite: at `batch` of `epoch`, or in its validation when `batch` is None."""

    def __init__(self, epoch: int, batch: int | None, value: float):
        super().__init__(f"loss {value} at epoch {epoch}")
        self.epoch, self.batch, self.value = epoch, batch, value


def first_line(error: Exception) -> str:
    """An unexpected error in one line: torch's plain RuntimeErrors speak for themselves, others get their type."""
    lines = str(error).strip().splitlines()
    if type(error) is RuntimeError and lines:
        return lines[0]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def describe_graph_errors(errors: list[GraphError]) -> str:
    lines = [describe(error) for error in errors]
    if len(lines) == 1:
        return f"the graph is not valid: {lines[0]}"
    return f"the graph has {len(lines)} problems:\n  " + "\n  ".join(lines)


def place_in_run(epoch: int, batch: int, validating: bool) -> str:
    """Where a run is, for a failure's message: "at epoch 2, batch 3" (the batch that failed)."""
    if epoch == 0:
        return "before the first batch"
    if validating:
        return f"in the validation of epoch {epoch}"
    return f"at epoch {epoch}, batch {batch}"


def memory_ran_out(error: BaseException, device: torch.device) -> str:
    """Which memory `error` (see `is_out_of_memory`) ran out of: "CPU" for the host's, else the device's."""
    if isinstance(error, MemoryError) or CPU_ALLOCATOR in str(error):
        return "CPU"
    return device.type.upper()


def failure_message(error: Exception, *, place: str, device: torch.device, batch_size: int, samples: int,
                    optimizer: torch.optim.Optimizer | None, grad_clip: float | None) -> tuple[str, str]:
    """The message of a run that `error` ended at `place` (see `place_in_run`), and the traceback if unexpected ("").

    `samples` is the size of the training split, which caps the batch size that can be used."""
    if isinstance(error, LossNotFinite):
        return _not_finite_message(error, optimizer, grad_clip), ""
    if is_out_of_memory(error):
        return _out_of_memory_message(memory_ran_out(error, device), batch_size, samples, place), ""
    if isinstance(error, UserError):
        return str(error), ""
    return f"training failed {place}: {first_line(error)}", "".join(traceback.format_exception(error))


def _not_finite_message(problem: LossNotFinite, optimizer: torch.optim.Optimizer, grad_clip: float | None) -> str:
    kind = "NaN" if math.isnan(problem.value) else "infinite"
    at = f"epoch {problem.epoch}, batch {problem.batch}" if problem.batch else f"epoch {problem.epoch}"
    which = "loss" if problem.batch else "validation loss"
    lr = float(optimizer.param_groups[0]["lr"])
    clip = (f"a smaller grad_clip (now {grad_clip})" if grad_clip is not None
            else "gradient clipping (grad_clip)")
    return f"{which} became {kind} at {at}; try a lower learning rate (now {lr}) or {clip}"


def _out_of_memory_message(memory: str, batch_size: int, samples: int, place: str) -> str:
    """Advice with a batch size below the one used, which is never above the training split's size."""
    used = min(batch_size, samples)
    size = f"batch size {batch_size}" + (f" (every one of the {samples} training samples)" if used < batch_size
                                         else "")
    advice = (f"try a smaller batch size, e.g. {used // 2}, or a smaller model" if used > 1
              else "a batch is a single sample already: try a smaller model")
    return f"out of {memory} memory {place} with {size}; {advice}"


def release_memory(optimizer: torch.optim.Optimizer | None, device: torch.device) -> None:
    """Free what a failed run holds: its gradients, its garbage (on the main thread only), CUDA's cache."""
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
    if threading.current_thread() is threading.main_thread():
        # Not in a worker thread: in a Qt process a collection there can destroy the GUI's Qt objects
        # and deadlock with the GUI thread (seen with the workbench). The tensors go by refcount anyway.
        gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
