"""Versioned JSON project files: load in two phases (nodes, then edges), save atomically.

Version 2 adds a top-level `units` section (see `graphs.units.files`); a project that uses
no units is saved as version 1, exactly as before. A file that is not a Neurocanvas project is refused with a
`ProjectFormatError` naming the file and the place (line and column for bad
JSON, a JSON path such as `nodes[3].params.kernel_size` otherwise). Nothing here
ever unpickles: project files are plain JSON.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from graphs.catalogue import CATALOGUE
from graphs.custom_types import CodeNotLoadedError, listed_code, read_code
from graphs.document import Graph
from graphs.errors import GraphError, ProjectFormatError, quoted
from graphs.files import NotRegularFileError, open_regular

FORMAT = "neurocanvas"
VERSION = 2  # the newest version read and written; without units a project is written as version 1
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 32  # nesting of the free-form sections (training, gui): deeper cannot be saved again
DEFAULT_TRAINING = {
    "dataset": {"name": "digits"}, "val_split": 0.2, "batch_size": 64, "epochs": 10, "seed": 0,
    "device": "auto", "optimizer": {"type": "Adam", "lr": 0.001},
}


@dataclass
class Project:
    """A graph plus its name, training settings and the GUI's own opaque data."""

    graph: Graph = field(default_factory=Graph)
    name: str = "untitled"
    training: dict = field(default_factory=lambda: copy.deepcopy(DEFAULT_TRAINING))
    gui: dict = field(default_factory=dict)
    path: Path | None = None
    search: dict = field(default_factory=dict)  # sweeps: target -> distribution (graphs.search_space)
    custom_code: list | None = None  # its own Python files, as listed (graphs.custom_types); None: not listed

    def to_dict(self) -> dict:
        units = [d.as_dict() for d in self.graph.units.values()]
        data = {
            "format": FORMAT, "version": VERSION if units else 1, "name": self.name,
            **({"units": units} if units else {}),
            "nodes": [n.as_dict() for n in self.graph.nodes()],
            "edges": [e.as_dict() for e in self.graph.edges()],
            "training": copy.deepcopy(self.training),
        }
        if self.gui:
            data["gui"] = copy.deepcopy(self.gui)
        if self.search:
            data["search"] = copy.deepcopy(self.search)
        if self.custom_code is not None:
            data["custom_code"] = list(self.custom_code)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def _expect(value, kind, where: str, what: str, path):
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        got = type(value).__name__ if value is not None else "null"
        raise ProjectFormatError(f"{what} must be {_KIND_NAMES.get(kind, kind)}, got {got}", path, where)
    return value


_KIND_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer"}


def loads_project(text: str | bytes, path: str | os.PathLike | None = None, code=None) -> Project:
    """Parse project JSON; raise ProjectFormatError saying what and where. `code`: see `project_from_dict`."""
    path = str(path) if path is not None else None
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise ProjectFormatError(
                f"file is {len(text) / 1e6:.0f} MB; a project file may be at most {MAX_FILE_BYTES // 2**20} MB", path)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ProjectFormatError(f"not UTF-8 text (bad byte at offset {error.start})", path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProjectFormatError(f"not valid JSON: {error.msg}", path,
                                 f"line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise ProjectFormatError("JSON is nested too deeply", path) from None
    except ValueError:  # Python refuses to read an integer of more than 4300 digits
        raise ProjectFormatError("not valid JSON: a number has too many digits", path) from None
    return project_from_dict(data, path, code)


def project_from_dict(data, path: str | None = None, code=None, custom_types=None) -> Project:
    """The project `data` describes. A project that runs its own code (graphs.custom_types) needs `code`,
    a callable (list of CodeFile) -> CustomTypes that loads it (engine.custom_layers); without one it is
    refused with CodeNotLoadedError, before anything is run. `custom_types`: the types to use instead,
    loading no code at all (a selection pasted into a project: that project's own)."""
    _expect(data, dict, "top level", "the file", path)
    if data.get("format") != FORMAT:
        raise ProjectFormatError(f"not a Neurocanvas project (\"format\" is {quoted(data.get('format'))}, "
                                 f"expected {FORMAT!r})", path, "format")
    version = _expect(data.get("version"), int, "version", "version", path)
    if version > VERSION:
        raise ProjectFormatError(f"written by a newer Neurocanvas (format version {quoted(version)}); "
                                 f"this one reads version {VERSION}. Update Neurocanvas to open it.", path, "version")
    if version < 1:
        raise ProjectFormatError(f"unknown format version {quoted(version)}", path, "version")
    name = data.get("name", "untitled")
    _expect(name, str, "name", "name", path)
    custom_code = listed_code(data, path)
    files = read_code(custom_code, path) if custom_types is None else []
    if files and code is None:
        names = ", ".join(quoted(file.listed) for file in files)
        raise CodeNotLoadedError(f"the project runs its own Python code ({names}); it is loaded only when you "
                                 "trust it: --trust-code on the command line, or open it in the editor", path)
    graph = Graph()
    if files or custom_types is not None:
        graph.custom_types = code(files) if files else custom_types
    from graphs.units.files import load_units  # units are read with this module's helpers

    fill_units = load_units(data.get("units", []), graph, path)
    # Phase 1: every node (the units' nodes first: an instance's ports come from its unit).
    for fill in fill_units:
        fill(add_nodes)
    add_nodes(graph, data.get("nodes", []), "nodes", path)
    # Phase 2: every edge (structure is reported by validate, not refused here).
    for fill in fill_units:
        fill(add_edges)
    add_edges(graph, data.get("edges", []), "edges", path)
    check_unit_wires(graph, path)
    training = copy.deepcopy(DEFAULT_TRAINING)
    training.update(_shallow(_expect(data.get("training", {}), dict, "training", "training", path), "training", path))
    gui = _shallow(_expect(data.get("gui", {}), dict, "gui", "gui", path), "gui", path)
    search = _shallow(_expect(data.get("search", {}), dict, "search", "search", path), "search", path)
    return Project(graph, name, training, gui, Path(path) if path else None, search, custom_code)


def add_nodes(graph: Graph, nodes, section: str, path) -> None:
    """Add the nodes of a file's `section` (a JSON path such as `nodes` or `units[0].nodes`) to `graph`."""
    for i, raw in enumerate(_expect(nodes, list, section, "nodes", path)):
        fields = _node_fields(raw)
        if fields is None:
            _refuse_node(raw, section, i, path)
        node_id, type_name, params, position = fields
        try:
            graph.add_node(type_name, params, node_id, position, raw.get("trainable", True), raw.get("lr_mult", 1.0))
        except GraphError as error:
            where, param = _node_place(section, i, node_id), getattr(error, "param", None)
            raise ProjectFormatError(error.message, path, f"{where}.params.{_key(param)}" if param else where) from None


def _node_fields(raw) -> tuple | None:
    """(id, type, params, position) of a well-formed node entry, else None: `_refuse_node` then says what is
    wrong (the places in its message are only worked out for a node that has a problem)."""
    if not isinstance(raw, dict):
        return None
    node_id, type_name, params = raw.get("id"), raw.get("type"), raw.get("params", {})
    position = raw.get("position", [0, 0])
    if isinstance(node_id, str) and isinstance(type_name, str) and isinstance(params, dict) and _is_position(position):
        return node_id, type_name, params, position
    return None


def _refuse_node(raw, section: str, i: int, path) -> None:
    """Raise the ProjectFormatError that says what is wrong with node entry `i` and where."""
    _expect(raw, dict, f"{section}[{i}]", "a node", path)
    node_id = _expect(raw.get("id"), str, f"{section}[{i}].id", "a node's id", path)
    where = _node_place(section, i, node_id)
    _expect(raw.get("type"), str, f"{where}.type", "a node's type", path)
    _expect(raw.get("params", {}), dict, f"{where}.params", "params", path)
    raise ProjectFormatError("position must be [x, y]", path, f"{where}.position")


def _node_place(section: str, i: int, node_id: str) -> str:
    return f"{section}[{i}] ({repr(node_id) if len(node_id) <= 60 else quoted(node_id)})"


def _is_position(value) -> bool:
    """[x, y]: two numbers (no booleans) smaller than 1e9."""
    if not isinstance(value, list) or len(value) != 2:
        return False
    x, y = value
    return (isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool)
            and not isinstance(y, bool) and abs(x) < 1e9 and abs(y) < 1e9)


def add_edges(graph: Graph, edges, section: str, path) -> None:
    """Add the edges of a file's `section` to `graph`, unchecked (`validate` reports their problems)."""
    for i, raw in enumerate(_expect(edges, list, section, "edges", path)):
        ends = _edge_ends(raw)
        if ends is None or not graph.has_node(ends[0]) or not graph.has_node(ends[1]):
            _refuse_edge(graph, raw, f"{section}[{i}]", path)
        graph.connect(*ends, check=False)


def _edge_ends(raw) -> tuple | None:
    """(source, target, source port, target port) of a well-formed edge entry, else None."""
    if not isinstance(raw, dict):
        return None
    ends = raw.get("source"), raw.get("target"), raw.get("source_port", "out"), raw.get("target_port", "in")
    return ends if isinstance(ends[0], str) and isinstance(ends[1], str) and isinstance(ends[2], str) \
        and isinstance(ends[3], str) else None


def _refuse_edge(graph: Graph, raw, where: str, path) -> None:
    """Raise the ProjectFormatError that says what is wrong with the edge entry at `where`."""
    _expect(raw, dict, where, "an edge", path)
    ends = {}
    for key, default in (("source", None), ("target", None), ("source_port", "out"), ("target_port", "in")):
        ends[key] = _expect(raw.get(key, default), str, f"{where}.{key}", key, path)
    for key in ("source", "target"):
        if not graph.has_node(ends[key]):
            raise ProjectFormatError(f"{key} {quoted(ends[key])} is not a node of this project", path, f"{where}.{key}")


def check_unit_wires(graph: Graph, path) -> None:
    """Refuse a wire to or from a port that an instance's unit lacks, naming the unit."""
    places = [("the model", graph), *((f"unit '{name}'", d.graph) for name, d in graph.units.items())]
    for place, g in places:
        if not g.uses_units():  # no instance, Repeat or unit port: nothing to check
            continue
        for edge in g.edges():
            for node_id, port, kind in ((edge.source, edge.source_port, "output"),
                                        (edge.target, edge.target_port, "input")):
                node = g.live_node(node_id)  # read only
                if node.type in CATALOGUE or node.type in graph.custom_types:  # validate says it for a custom layer
                    continue
                ports = node.output_ports() if kind == "output" else node.input_ports()
                if port not in ports:
                    unit = node.params.get("unit") if node.type == "Repeat" else node.type
                    raise ProjectFormatError(
                        f"'{node_id}' in {place} is wired to its {kind} {quoted(port)}, but unit {quoted(unit)} has "
                        f"no such port (its {kind}s: {', '.join(ports) or 'none'})", path,
                        "edges" if g is graph else f"units ({unit})")


def _key(name: str) -> str:
    """A key for a JSON path: as it is when it reads as a name, else quoted."""
    return name if name.isidentifier() and len(name) <= 60 else quoted(name)


def _shallow(section: dict, where: str, path) -> dict:
    """`section` if it nests at most MAX_DEPTH levels (saving recurses through it), else refuse it."""
    stack = [(section, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProjectFormatError(f"nested more than {MAX_DEPTH} levels deep", path, where)
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return section


def load_project(path: str | os.PathLike, code=None) -> Project:
    """Read and parse a project file. Only a regular file is opened (a pipe or a device could
    block or never end), and never more than MAX_FILE_BYTES of it is read."""
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            raw = handle.read(MAX_FILE_BYTES + 1) if size <= MAX_FILE_BYTES else b""
    except NotRegularFileError as error:
        raise ProjectFormatError(f"not a regular file: it is {error.kind}", str(path)) from None
    except OSError as error:
        raise ProjectFormatError(f"cannot read the file: {error.strerror or error}", str(path)) from None
    size = max(size, len(raw))
    if size > MAX_FILE_BYTES:
        raise ProjectFormatError(
            f"file is {size / 1e6:.0f} MB; a project file may be at most {MAX_FILE_BYTES // 2**20} MB", str(path))
    return loads_project(raw, path, code)


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so the old file stays intact unless the new one is complete:
    write a temporary file in the same folder, flush it to disk, rename it over the old one,
    then sync the folder so the rename survives a power cut. A symlink is followed (the file
    it points to is replaced, the link stays); the old file's permissions are kept, and a new
    file gets what `open` would give it (0o666 less the umask)."""
    path = Path(os.path.realpath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    fd, tmp = _create_beside(path)
    handle = None
    try:
        handle = os.fdopen(fd, "wb")
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if handle is None:  # the descriptor never got its file object, which would close it
            _quietly(os.close, fd)
        _quietly(os.unlink, tmp)
        raise
    _sync_folder(path.parent)


def _create_beside(path: Path) -> tuple[int, str]:
    """A new, empty, uniquely named hidden file in `path`'s folder: (descriptor, path)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for attempt in range(3):
        tmp = path.with_name(f".{path.name[:64]}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), str(tmp)
        except FileExistsError:
            if attempt == 2:
                raise


def _sync_folder(folder: Path) -> None:
    """fsync a folder, where the system lets one open it (the file itself is already synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        _quietly(os.fsync, fd)
    finally:
        os.close(fd)


def _quietly(action, *args) -> None:
    try:
        action(*args)
    except OSError:
        pass


def save_project(project: Project, path: str | os.PathLike | None = None) -> Path:
    """Save atomically; raise ProjectFormatError with the reason if the disk refuses."""
    target = Path(path or project.path)
    try:
        atomic_write(target, project.to_json().encode("utf-8"))
    except OSError as error:
        raise ProjectFormatError(f"cannot save: {error.strerror or error}", str(target)) from None
    project.path = target
    return target
