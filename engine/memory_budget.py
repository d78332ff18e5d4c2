"""How much memory a model or a check needs, from the inferred shapes, before anything is allocated.

`parameter_problem(graph, shapes)` says when a model's parameters cannot fit in the
memory this computer has available (the compiler refuses such a graph instead
of failing inside torch's allocator). `tensor_bytes(shapes, batch)` estimates
what one forward pass at a batch size holds: the inputs plus every node's
outputs, an upper bound (torch frees most intermediates as it goes).
`check_budget()` is how much an export or import check may use for that.
This module imports no torch, so `check` can use it too.
"""

from __future__ import annotations

import math
import os

from engine.errors import UserError
from graphs.errors import GraphError, quoted

GB = 1e9  # messages speak decimal gigabytes, as file managers and vendors do
FLOAT_BYTES = 4  # parameters are float32
_ITEM_BYTES = {"float32": 4, "int64": 8}  # a tensor's bytes per element, by its TensorSpec dtype
_UNKNOWN_BUDGET = 2 * 2**30  # what a check may use where the available memory cannot be read


class TooLarge(UserError):
    """The model, or a check of it, needs more memory than there is; the message gives the size."""


def gigabytes(size: float) -> str:
    """17200000000 -> '17.2 GB'; small sizes keep two significant figures ('0.0012 GB')."""
    value = size / GB
    return f"{value:.1f} GB" if value >= 0.95 else f"{value:.2g} GB"


def available_bytes() -> int | None:
    """Memory a new allocation can get now (Linux MemAvailable), else the physical memory; None if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # Windows, or a platform without these names
        return None


def check_budget() -> int:
    """What one forward pass of an export or import check may take: a quarter of the available memory
    (2 GiB where it is unknown), as a check runs the model twice (in torch and in onnxruntime or the
    original) and the estimate leaves out what the runtimes keep besides. Checks run at the model's own
    size whenever that fits, which is the most faithful check."""
    available = available_bytes()
    return _UNKNOWN_BUDGET if available is None else available // 4


def _numel(shape) -> int:
    return math.prod(int(d) for d in shape)


def spec_bytes(spec, batch: int) -> int:
    """Bytes of a tensor of `spec` (a TensorSpec) at `batch`."""
    return batch * _numel(spec.shape) * _ITEM_BYTES.get(spec.dtype, FLOAT_BYTES)


def tensor_bytes(shapes, batch: int) -> int:
    """Bytes of every node's outputs (Input nodes included) for one forward pass at `batch`."""
    return sum(spec_bytes(spec, batch) for info in shapes.info.values() for spec in info.outputs.values())


def parameter_problem(graph, shapes, available: int | None = None) -> GraphError | None:
    """Why the parameters of the inferred graph cannot be allocated, on its largest layer, or None."""
    available = available_bytes() if available is None else available
    total = shapes.total_params * FLOAT_BYTES
    if available is None or total <= available:
        return None
    node_id, info = max(shapes.info.items(), key=lambda item: item[1].params)
    return GraphError(too_large_message(graph.node(node_id).type, node_id, info.params, total, available),
                      node=node_id)


def too_large_message(type_name: str, node_id: str, params: int, total: int, available: int | None) -> str:
    """"Linear 'fc' needs 17.2 GB for its 4,300,000,000 parameters ..." with what to do."""
    largest = params * FLOAT_BYTES
    whole = "" if largest == total else f" (the whole model needs {gigabytes(total)})"
    have = ("; there is not that much memory free" if available is None
            else f"; this computer has {gigabytes(available)} of memory available")
    return (f"{type_name} {quoted(node_id)} needs {gigabytes(largest)} for its {params:,} parameters{whole}"
            f"{have}. Make the layer smaller (fewer features or channels, or a pooling layer before a Flatten)")


# How allocators word running out: CUDA ("CUDA out of memory", torch.OutOfMemoryError), MPS and older
# CUDA builds, then torch's CPU allocator on Linux ("can't allocate memory: you tried to allocate N
# bytes") and on Windows ("not enough memory").
OUT_OF_MEMORY_WORDS = ("out of memory", "can't allocate memory", "not enough memory")
CPU_ALLOCATOR = "DefaultCPUAllocator"


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` is an allocator running out of memory, on the device or on the host (torch's
    OutOfMemoryError is a RuntimeError saying "out of memory", so no torch import is needed here)."""
    if isinstance(error, MemoryError):
        return True
    return isinstance(error, RuntimeError) and any(words in str(error) for words in OUT_OF_MEMORY_WORDS)
