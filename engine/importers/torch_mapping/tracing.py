"""Tracing a user's module with torch.fx for import, and naming its parts in the user's own words.

`trace_for_import(module)` traces through the user's own modules (a ResNet's
blocks, `nn.Sequential`, `nn.ModuleList`) down to torch's layers. A custom
module whose forward cannot be traced (Python control flow on a tensor, a call
torch.fx cannot follow) is kept whole and traced again, so that an import can
list every part it cannot map, not only the first; `untraceable` says where each
one failed. `custom_owner`, `source_line` and `attribute` name a traced part
as the user wrote it: `self.drop_path`, `model.py:12 (x = torch.rand(...))`.
"""

from __future__ import annotations

import os
import re
import traceback
from pathlib import Path

from torch import fx, nn

MAX_RETRACES = 64  # each retrace keeps one more custom module whole
MAX_CODE = 120  # characters of a source line quoted in a message
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in [^\n]*\n(?P<code>[^\n]*)')


def is_custom(kind: type) -> bool:
    """A module class the user (or a library other than torch) wrote."""
    return not kind.__module__.startswith("torch.")


def attribute(path: str) -> str:
    """`blocks.0.drop_path` -> `self.blocks[0].drop_path`, as the user's code reaches it."""
    return "self" + "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in path.split(".") if part)


class _ImportTracer(fx.Tracer):
    def __init__(self, whole: set[str]):
        super().__init__()
        self.record_stack_traces = True
        self.proxy_buffer_attributes = True  # `self.pe[:, :x.size(1)]` slices a buffer by a traced size
        self.whole = whole
        self.failed: str | None = None  # the innermost custom module whose forward raised

    def is_leaf_module(self, m: nn.Module, qualified_name: str) -> bool:
        return qualified_name in self.whole or super().is_leaf_module(m, qualified_name)

    def call_module(self, m, forward, args, kwargs):
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            path = self.path_of_module(m)
            if self.failed is None and path and is_custom(type(m)):
                self.failed = path
            raise


def trace_for_import(module: nn.Module, keep: frozenset = frozenset()) -> tuple[fx.GraphModule, dict[str, str]]:
    """The traced module and, for each custom module kept whole, where its forward could not be traced.
    Raises what tracing raised when the top-level forward itself cannot be traced. The submodules at the
    paths in `keep` are not traced into (`import-torch --keep-custom`)."""
    untraceable: dict[str, str] = {}
    for _ in range(MAX_RETRACES):
        tracer = _ImportTracer(set(untraceable) | set(keep))
        try:
            graph = tracer.trace(module)
        except Exception as error:
            if tracer.failed is None or tracer.failed in untraceable:
                raise
            failed_class, where = type(module.get_submodule(tracer.failed)), user_frame(error)
            for path, other in module.named_modules():  # the other instances of its class fail alike
                if type(other) is failed_class:
                    untraceable.setdefault(path, where)
            continue
        return fx.GraphModule(tracer.root, graph, type(module).__name__), untraceable
    raise RuntimeError(f"more than {MAX_RETRACES} custom modules cannot be traced")


def user_frame(error: BaseException) -> str:
    """` at model.py:12 (`x = torch.rand(...)`)`: the user's line that raised, or ''."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _users(f.filename)]
    if not frames:
        return ""
    frame = frames[-1]
    code = f" (`{_short(frame.line)}`)" if frame.line else ""
    return f" at {Path(frame.filename).name}:{frame.lineno}{code}"


def source_line(node: fx.Node) -> str:
    """` at model.py:12 (`code`)` for the user's line that made a traced node, or ''."""
    frames = [m for m in _FRAME.finditer(node.stack_trace or "") if _users(m["file"])]
    if not frames:
        return ""
    frame = frames[-1]
    return f" at {Path(frame['file']).name}:{frame['line']} (`{_short(frame['code'])}`)"


_IMPORTERS = str(Path(__file__).resolve().parents[1])  # engine/importers: frames of the import itself


def _users(filename: str) -> bool:
    """Whether a frame is the user's code, not torch's nor the importer's."""
    return f"{os.sep}torch{os.sep}" not in filename and not filename.startswith(_IMPORTERS)


def _short(code: str) -> str:
    code = code.strip()
    return code if len(code) <= MAX_CODE else code[:MAX_CODE - 3] + "..."


def custom_owner(node: fx.Node) -> tuple[str, type] | None:
    """(path, class) of the innermost custom module whose forward made `node` (not the top-level module)."""
    for path, kind in reversed(list((node.meta.get("nn_module_stack") or {}).values())):
        if path and is_custom(kind):
            return path, kind
    return None
