"""Custom layers in the exports: the Python export imports each class from a copy of its file written
beside the model (`from custom_layers import SqueezeExcite`), and a run folder keeps a copy of the code
its project ran, so the run can be predicted from, compared and exported later.

A copy is never written over a file it did not create: a file of that name already beside the model
is left as it is when it holds the same text, and refused (a `UserError` naming it) when it differs.
"""

from __future__ import annotations

import contextlib
import copy
import sys
from pathlib import Path

from engine.errors import UserError
from graphs.custom_types import DEFAULT_FILE, CodeFile
from graphs.errors import printable
from graphs.project import Project, atomic_write


def custom_nodes(graph) -> list:
    """The custom layer nodes of `graph` and of its units' inner graphs."""
    graphs = [graph, *(definition.graph for definition in graph.units.values())]
    return [node for g in graphs for node in g.nodes() if g.is_layer(node.type) and node.spec.op is not None]


def used_files(graph) -> dict[str, CodeFile]:
    """The code files the custom nodes of `graph` (and of its units) come from, by the module name their copy takes."""
    files = {}
    for node in custom_nodes(graph):
        files.setdefault(copy_name(node.spec.op.file), node.spec.op.file)
    return files


def copy_name(file: CodeFile) -> str:
    """The module name of a file's copy: its stem when that is a Python name, else `custom_layers`."""
    stem = Path(file.listed).stem
    return stem if stem.isidentifier() else Path(DEFAULT_FILE).stem


def import_lines(graph) -> list[str]:
    """`from custom_layers import A, B` for each file the graph's custom nodes (and its units') use."""
    classes: dict[str, set[str]] = {}
    for node in custom_nodes(graph):
        op = node.spec.op
        classes.setdefault(copy_name(op.file), set()).add(op.cls.__name__)
    return [f"from {module} import {', '.join(sorted(names))}  # custom layers, copied beside this file"
            for module, names in sorted(classes.items())]


def onnx_hint(graph) -> str:
    """What to add to a failed ONNX export's message when the graph holds custom layers ("" when none)."""
    classes = sorted({f"{node.type} ({node.spec.op.file.listed})" for node in custom_nodes(graph)}) \
        if graph is not None else []
    if not classes:
        return ""
    return (f". The model holds custom layers ({printable(', '.join(classes))}), which torch's ONNX exporter may "
            "not be able to trace: export it as Python code (--python) instead, or write their forward with "
            "operations ONNX supports")


def init_call(node, inputs: dict) -> tuple[str, list[str]]:
    """(class name, `name=value` arguments) that build the custom node's module, as the compiler did."""
    class_name, arguments = init_arguments(node, inputs)
    return class_name, [f"{name}={value}" for name, value in arguments]


def init_arguments(node, inputs: dict) -> tuple[str, list[tuple[str, str]]]:
    """(class name, (argument name, value as Python) pairs) that build the custom node's module."""
    from engine.export.forward_code import literal  # engine.export imports this module

    op = node.spec.op
    kwargs = op.arguments(node.resolved_params(), inputs)
    return op.cls.__name__, [(name, literal(tuple(v) if isinstance(v, list) else v)) for name, v in kwargs.items()]


def write_copies(graph, model_path: Path, staged) -> None:
    """The files the graph's custom nodes come from, written beside `model_path` (through `staged`)."""
    for module, file in used_files(graph).items():
        _write_copy(file, model_path.with_name(f"{module}.py"), staged, "export to another folder, or remove it")


def _write_copy(file: CodeFile, target: Path, staged, advice: str) -> None:
    """`file`'s text at `target` (through `staged`); left as it is when `target` already holds that text, and a
    UserError naming it when it holds another."""
    if target.exists():
        try:
            same = target.read_text(encoding="utf-8") == file.text
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            raise UserError(f"{printable(str(target))} exists and differs from the custom layers file "
                            f"{printable(str(file.path))}; {advice}")
        return
    staged.temporary(target).write_text(file.text, encoding="utf-8")


@contextlib.contextmanager
def importable(graph):
    """While it lasts, `import custom_layers` (each copied module's name) gives the loaded code of the
    graph's custom nodes, so a generated file can be checked before its copies are in place."""
    files = used_files(graph) if graph is not None else {}
    saved = {name: sys.modules.get(name) for name in files}
    try:
        for name, file in files.items():
            from engine.custom_layers.loading import run_file

            sys.modules[name] = run_file(file)
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def copy_code_beside(project: Project, project_path: Path, staged) -> None:
    """The project's code files written where its `custom_code` says, relative to `project_path` (through
    `staged`), unless the very file is there already (an import beside the module's own source)."""
    for file in project.graph.custom_types.files:
        _write_copy(file, Path(project_path).parent / file.listed, staged, "write the project into another folder")


def staged_code_beside(project: Project, folder: Path, staged) -> Project:
    """`project` as its copy in `folder` lists its code: copies of its code files written there (through
    `staged`, never over another file) and `custom_code` naming them; unchanged when it runs no code."""
    files = project.graph.custom_types.files
    if not files:
        return project
    names = _copy_names(files)
    for file, name in zip(files, names):
        _write_copy(file, folder / name, staged, "write into another folder")
    moved = copy.copy(project)
    moved.custom_code = names
    return moved


def _copy_names(files) -> list[str]:
    """A distinct file name for each copy: the file's own name, prefixed with `_` where two share one."""
    names: list[str] = []
    for file in files:
        name = Path(file.listed).name
        while name in names:
            name = f"_{name}"
        names.append(name)
    return names


def with_code_beside(project: Project, folder: Path) -> Project:
    """`project` as it goes into `folder` (a run folder): with copies of its code files there and
    `custom_code` naming them; unchanged when it runs no code."""
    files = project.graph.custom_types.files
    if not files:
        return project
    names = _copy_names(files)
    for file, name in zip(files, names):
        try:
            atomic_write(folder / name, file.text.encode("utf-8", "surrogatepass"))
        except OSError as error:
            raise UserError(f"cannot write {printable(str(folder / name))}: {error.strerror or error}") from None
    moved = copy.copy(project)
    moved.custom_code = names
    return moved
