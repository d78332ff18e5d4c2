"""A limit on the address space of the test process, so that an allocation sized from a huge or hostile
claim (gigabytes of sample inputs, a tensor of [1e5, 1e5]) fails the test instead of the machine."""

from __future__ import annotations

import resource
from contextlib import contextmanager


def virtual_memory_size() -> int:
    """Bytes of address space the process uses now (Linux)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))


@contextmanager
def address_space_limit(extra: int = 2 * 2**30):
    """At most `extra` bytes more address space than the process uses now, inside the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (virtual_memory_size() + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
