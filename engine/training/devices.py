"""Which device to train on: `auto` (CUDA, then Apple's MPS, then the CPU) or a named one.

`resolve_device` turns a setting ("auto", "cpu", "cuda", "cuda:1", "mps") into
a `torch.device` or raises a `UserError` saying why it can't be used here;
`list_devices` describes what this machine has, for the GUI's device menu.
`default_threads` and `bounded_threads` choose torch's CPU threads for a run.
"""

from __future__ import annotations

import os
import platform
import re

import torch

from engine.errors import UserError

_CUDA = re.compile(r"^cuda(?::(\d+))?$")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def resolve_device(name: str | None = "auto") -> torch.device:
    setting = (name or "auto").strip().lower()
    if setting == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps" if _mps_available() else "cpu")
    if setting == "cpu":
        return torch.device("cpu")
    if setting == "mps":
        if not _mps_available():
            raise UserError("device 'mps' (Apple GPU) is not available on this machine; use 'auto' or 'cpu'")
        return torch.device("mps")
    match = _CUDA.match(setting)
    if not match:
        raise UserError(f"unknown device '{name}'; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else "no GPU was found"
        raise UserError(f"device '{name}' is not available: CUDA can't be used here (torch {torch.__version__}, "
                        f"{build}); use 'auto' or 'cpu'")
    index = int(match.group(1) or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise UserError(f"device '{name}' does not exist: this machine has {count} CUDA device(s) "
                        f"(cuda:0 to cuda:{count - 1})")
    return torch.device("cuda", index)


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, as a job scheduler sets it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def default_threads() -> int:
    """torch threads for a run nobody chose them for: every core but one, at least one.

    On a 2-core machine with a core busy, 30 epochs of the digits CNN took (median of 3) 2.6 s on one
    thread and 7.1 s on two, torch's default: its threads wait on each other. The spare core also keeps
    the machine (and the GUI) usable."""
    return max(1, usable_cores() - 1)


def bounded_threads(requested: int) -> tuple[int, str | None]:
    """`requested` threads, at most one per usable core, and a note when it had to be lowered."""
    cores = usable_cores()
    if requested <= cores:
        return requested, None
    return cores, f"{requested} threads asked for, but this process may use {cores} cores; using {cores}"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def _ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def list_devices() -> list[dict]:
    """[{"id": "cpu", "name": ..., "memory": bytes or None}, {"id": "cuda:0", ...}, ...]."""
    devices = [{"id": "cpu", "name": f"{_cpu_name()} ({torch.get_num_threads()} threads)", "memory": _ram_bytes()}]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            properties = torch.cuda.get_device_properties(index)
            devices.append({"id": f"cuda:{index}", "name": torch.cuda.get_device_name(index),
                            "memory": properties.total_memory})
    if _mps_available():
        devices.append({"id": "mps", "name": "Apple GPU (MPS)", "memory": None})
    return devices
