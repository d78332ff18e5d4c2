"""What a run was trained on, in a few hashes and version numbers: enough to tell later whether two runs
saw the same data and the same libraries. Imports no torch (versions come from the installed metadata).

A data file (CSV, npz, anything a dataset's "path" names) is fingerprinted by its size, modification time
and the SHA-256 of its content; a folder (an image folder) by a manifest hash over every file's relative
path, size and modification time, without reading the images; a built-in set by its parameters.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path

LIBRARIES = ("torch", "numpy", "onnx", "onnxruntime", "safetensors", "PySide6_Essentials", "tensorboard", "neurocanvas")
CHUNK = 1 << 20


def library_versions() -> dict[str, str]:
    """Python's version and each installed library's ("not installed" where absent)."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _folder_manifest(path: Path) -> dict:
    digest, count, total = hashlib.sha256(), 0, 0
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            full = Path(root) / name
            stat = full.stat()
            digest.update(f"{full.relative_to(path).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            count, total = count + 1, total + stat.st_size
    return {"path": str(path), "kind": "folder", "files": count, "bytes": total, "manifest": digest.hexdigest()}


def _path_fingerprint(path: Path) -> dict:
    try:
        if path.is_dir():
            return _folder_manifest(path)
        stat = path.stat()
        return {"path": str(path), "kind": "file", "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                "sha256": _file_hash(path)}
    except OSError as error:
        return {"path": str(path), "error": error.strerror or str(error)}


def data_fingerprint(dataset: dict, base_dir: Path) -> dict:
    """The dataset's parameters, each file or folder its string options name (fingerprinted as the module
    docstring says), and one `hash` over all of it."""
    files = []
    for key, value in sorted(dataset.items()):
        if isinstance(value, str) and ("path" in key or key in ("folder", "file", "dir")):
            files.append({"option": key, **_path_fingerprint(base_dir / Path(value).expanduser())})
    summary = {"parameters": dataset, "files": files}
    # the modification time is kept for people to read, but a copy of the same bytes hashes the same
    hashed = {"parameters": dataset, "files": [{k: v for k, v in f.items() if k != "mtime_ns"} for f in files]}
    text = json.dumps(hashed, sort_keys=True, default=str)
    return {**summary, "hash": hashlib.sha256(text.encode()).hexdigest()}
