"""The text metadata a run stores beside its checkpoint weights.

Weights themselves are written and read by `engine.weights` (safetensors,
atomic, never a pickle). Each checkpoint of a run also records, as safetensors
metadata, the epoch and its validation metrics, the input normalisation
(`{"mean": [...], "std": [...]}` as JSON) and the class names (JSON), so
whoever uses the weights can scale inputs and name predictions the same way.
"""

from __future__ import annotations

import os

from safetensors import SafetensorError, safe_open

from engine.errors import UserError, reason
from engine.weights import checked_file


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a safetensors file (reads only its header)."""
    path = checked_file(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError) as error:
        raise UserError(f"{path} is not a safetensors weights file ({reason(error)})") from None
