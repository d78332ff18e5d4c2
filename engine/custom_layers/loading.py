"""Executing a project's (trusted) code files and turning their `nn.Module` classes into node types.

Each file runs once per content as its own module, `neurocanvas_custom.<stem>_<hash>` in
`sys.modules` (so its classes pickle, deep-copy and show their source); the same text loaded again
reuses that module. The classes it defines itself (not those it imports), whose names do not start
with `_`, become node types (`engine.custom_layers.signature`). Every failure is a `UserError` naming
the file and the line: a syntax error, an exception while the file runs, a class whose arguments
cannot be node params (said when a node uses it: the file's other classes still load), a name a
built-in type or another file already has.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
import types

from torch import nn

from engine.custom_layers.signature import node_type_for
from engine.errors import UserError, reason
from graphs.catalogue import CATALOGUE
from graphs.custom_types import CodeFile, CustomTypes
from graphs.errors import printable

PACKAGE = "neurocanvas_custom"
_LOADED: dict[tuple[str, str], types.ModuleType] = {}  # (path, digest) -> the module its text made


def load_code(files: list[CodeFile]) -> CustomTypes:
    """The node types the files define, by class name."""
    found: dict[str, tuple] = {}
    for file in files:
        module = run_file(file)
        for cls in module_classes(module):
            if cls.__name__ in CATALOGUE:
                raise UserError(f"{_where(file, cls)}: class {cls.__name__} has the name of a built-in node type; "
                                "rename the class")
            if cls.__name__ in found:
                raise UserError(f"{_where(file, cls)}: class {cls.__name__} is also defined in "
                                f"{printable(str(found[cls.__name__][1].path))}; rename one of them")
            found[cls.__name__] = (cls, file)
    types, problems = [], {}
    for name, (cls, file) in found.items():
        try:
            types.append(node_type_for(cls, file))
        except UserError as error:  # said on the nodes that use it: the file's other classes still serve
            problems[name] = error.message
    return CustomTypes(types, files, problems)


def module_name(file: CodeFile) -> str:
    stem = "".join(c if c.isalnum() else "_" for c in file.path.stem) or "code"
    return f"{PACKAGE}.{stem}_{file.digest[:12]}"


def run_file(file: CodeFile) -> types.ModuleType:
    """The module `file`'s text makes, executing it the first time."""
    key = (str(file.path), file.digest)
    if key in _LOADED:
        return _LOADED[key]
    sys.modules.setdefault(PACKAGE, types.ModuleType(PACKAGE))
    name = module_name(file)
    spec = importlib.util.spec_from_loader(name, loader=None, origin=str(file.path))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(file.path)
    where = printable(str(file.path))
    try:
        code = compile(file.text, str(file.path), "exec")
    except SyntaxError as error:
        raise UserError(f"{where}: line {error.lineno}: {printable(error.msg or 'invalid syntax')}") from None
    sys.modules[name] = module  # before running: a dataclass or a class's own pickling looks the module up
    try:
        exec(code, module.__dict__)
    except BaseException as error:
        sys.modules.pop(name, None)
        if isinstance(error, KeyboardInterrupt):
            raise
        raise UserError(f"{where}: line {_failing_line(error, file)}: {type(error).__name__}: {reason(error)}") from None
    _LOADED[key] = module
    return module


def module_classes(module: types.ModuleType) -> list[type]:
    """The public `nn.Module` subclasses the module defines itself, in the order they appear."""
    classes = [value for name, value in vars(module).items()
               if isinstance(value, type) and issubclass(value, nn.Module) and value.__module__ == module.__name__
               and not name.startswith("_") and name == value.__name__]
    return sorted(classes, key=_line)


def _line(cls: type) -> int:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return 0


def _where(file: CodeFile, cls: type) -> str:
    return f"{printable(str(file.path))}: line {_line(cls)}"


def _failing_line(error: BaseException, file: CodeFile) -> str:
    """The line of the file where `error` was raised (its innermost frame in the file)."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == str(file.path)]
    return str(lines[-1]) if lines else "?"
