"""`import-torch --keep-custom`: a custom module the importer cannot map is kept whole, as a custom layer
node of its own class, so that a model with one exotic block imports instead of failing whole.

The import runs as usual first. When it is refused, every custom module holding a part with no node is
kept whole (not traced into) and the import runs again, until nothing more can be kept. A kept
module's class must come from a Python file: that file is copied beside the project and listed in its
`custom_code`, so the project runs it (with `--trust-code`) as any custom layer. The node's params are
the instance's attributes of the same names as `__init__`'s arguments (`self.reduction = reduction`);
an argument the instance does not keep takes its default, and the check against the module (run after
every import) catches a model that then computes otherwise. The weights are the module's own.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from torch import fx, nn

from engine.custom_layers.signature import node_type_for
from engine.errors import UserError
from engine.importers.common import GraphBuilder, ImportRefused, Refuse
from engine.importers.torch_mapping.importer import TorchImporter
from engine.importers.torch_mapping.tracing import trace_for_import
from graphs.custom_types import CodeFile, CustomTypes
from graphs.errors import GraphError

MAX_ROUNDS = 16


class _KeptTypes(CustomTypes):
    """The node types of the kept modules' classes, by class name, and the files they come from; filled
    as the import meets them."""

    def __init__(self):
        super().__init__()
        self._files: dict[Path, CodeFile] = {}

    @property
    def files(self) -> tuple[CodeFile, ...]:
        return tuple(self._files.values())

    @files.setter
    def files(self, _value) -> None:  # CustomTypes.__init__ sets it; the kept files are `_files`
        pass

    def spec_for(self, cls: type):
        if cls.__name__ in self._types:
            if self._types[cls.__name__].op.cls is not cls:
                raise Refuse(f": another kept class is also named {cls.__name__}")
            return self._types[cls.__name__]
        try:
            source = inspect.getsourcefile(cls)
        except TypeError:
            source = None
        if source is None or not Path(source).is_file():
            raise Refuse(": its class is not defined in a Python file that could be copied beside the project")
        path = Path(source).resolve()
        file = self._files.get(path) or CodeFile(path.name, path, path.read_text(encoding="utf-8"))
        try:
            spec = node_type_for(cls, file)
        except UserError as error:
            raise Refuse(f" cannot be kept as a custom layer: {error.message}") from None
        self._files[path] = file
        self._types[cls.__name__] = spec
        return spec


class _KeepingImporter(TorchImporter):
    """The torch importer, where a call of a kept custom module becomes one custom layer node."""

    def __init__(self, module, traced, name, untraceable, keep: set[str], kept: _KeptTypes):
        super().__init__(module, traced, name, untraceable)
        self.keep, self.kept = keep, kept
        self.builder = GraphBuilder(kept)

    def _handler(self, node, module):
        if node.op == "call_module" and (node.target in self.keep or node.target in self.untraceable):
            return self._kept
        return super()._handler(node, module)

    def _kept(self, node: fx.Node, module: nn.Module):
        spec = self.kept.spec_for(type(module))
        if node.kwargs or len(node.args) > len(spec.inputs):
            raise Refuse(": it is called with keyword or extra arguments; a custom layer takes its inputs in order")
        inputs = [self.tensor(arg) for arg in node.args]
        params = {}
        for param in spec.params:
            if hasattr(module, param.name):
                value = getattr(module, param.name)
                params[param.name] = list(value) if isinstance(value, tuple) else value
        try:
            spec.check_params(params, node.name)
        except GraphError as error:
            raise Refuse(f": its attribute does not fit its __init__ argument ({error.message})") from None
        return self.add(spec.name, params, inputs, node, dict(module.state_dict()))


def import_keeping_custom(module: nn.Module, input_shapes=None, name: str | None = None, input_dtypes=None):
    """`engine.importers.torch_import.import_module`, keeping the custom modules it cannot map as custom
    layer nodes (the project's `custom_code` lists the copies of their files)."""
    name = name or type(module).__name__
    keep: set[str] = set()
    kept = _KeptTypes()
    for _ in range(MAX_ROUNDS):
        traced, untraceable = trace_for_import(module, frozenset(keep))
        importer = _KeepingImporter(module, traced, name, untraceable, keep, kept)
        try:
            result = importer.run(input_shapes, input_dtypes)
        except ImportRefused:
            more = importer.unmapped.custom_paths - keep
            if not more:
                raise
            keep |= more
            continue
        return _with_code(result, kept)
    raise UserError(f"cannot import {type(module).__name__}: more than {MAX_ROUNDS} rounds of keeping custom modules")


def _with_code(result, kept: _KeptTypes):
    """The import's project, listing the files of the classes it kept (none kept: unchanged)."""
    if not kept.files:
        return result
    names = [file.listed for file in kept.files]
    result.project.custom_code = names
    result.notes.append(f"kept as custom layers: {', '.join(kept)} (the project runs {', '.join(names)}: "
                        "load it with --trust-code)")
    return result
