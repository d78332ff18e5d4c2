"""Shared benchmark tools: interleaved timing, ratios with spread, machine description."""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import asdict, dataclass, field


@dataclass
class Row:
    """One line of the results table."""

    section: str
    name: str
    value: float | None  # the headline figure (a ratio, or milliseconds for absolute goals)
    unit: str  # "x" for ratios, "ms", "s", ...
    goal: str  # e.g. ">= 0.98", "< 300 ms"
    met: bool | None  # None when there is no goal or the row was skipped
    spread: str = ""  # e.g. "0.97-1.01 over 5 repeats"
    note: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def timed(fn, repeats: int = 1) -> float:
    """Seconds per call of fn, best of nothing: one wall-clock measurement of `repeats` calls."""
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def interleaved(baseline, candidate, rounds: int = 5) -> list[float]:
    """Run baseline and candidate alternately (ABBA order); return candidate/baseline
    throughput ratios (baseline_time / candidate_time), one per round."""
    ratios = []
    for i in range(rounds):
        if i % 2 == 0:
            base, cand = baseline(), candidate()
        else:
            cand, base = candidate(), baseline()
        ratios.append(base / cand)
    return ratios


def summarise(values: list[float], digits: int = 3) -> tuple[float, str]:
    """Median and a 'min-max over n repeats' spread string."""
    median = statistics.median(values)
    return median, f"{min(values):.{digits}f}-{max(values):.{digits}f} over {len(values)} repeats"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def machine() -> dict:
    import torch

    info = {"cpu": _cpu_name(), "cores": _cores(), "python": platform.python_version(), "torch": torch.__version__,
            "platform": platform.platform(), "gpu": None}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
