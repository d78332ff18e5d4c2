"""How far loading a dataset has come, told to whoever asks: a CLI bar, a GUI dialog.

A data source takes an optional `progress(done, total)` callable and calls it through
`Throttled`: first with (0, total), then at most every PROGRESS_SECONDS, last with
(total, total). The units are the source's own: bytes of a CSV file, images of a folder.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

PROGRESS_SECONDS = 0.1  # the least time between two calls
Progress = Callable[[int, int], None]


class Throttled:
    """Calls `progress(done, total)` at most every PROGRESS_SECONDS, and always at the end."""

    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total, self.last = progress, total, -math.inf
        self.told = 0  # never go back: a reader's position may be estimated from bytes read ahead

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if self.progress is not None and (final or now - self.last >= PROGRESS_SECONDS):
            self.last = now
            self.told = max(self.told, min(done, self.total))
            self.progress(self.told, self.total)
