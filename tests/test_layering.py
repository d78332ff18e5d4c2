"""The layers stay apart: graphs/ imports neither torch nor Qt; engine/ never imports gui/."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_graphs_imports_neither_torch_nor_qt():
    code = ("import sys, graphs, graphs.validate, graphs.project, graphs.catalogue;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'pyqtgraph', 'engine', 'gui')];"
            "print(bad); sys.exit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_shape_inference_imports_no_torch():
    code = ("import sys, engine.shapes, engine.cli.check;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6')];"
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_engine_never_imports_gui():
    pattern = re.compile(r"^\s*(from|import)\s+gui\b", re.M)
    offenders = [str(p) for p in (ROOT / "engine").rglob("*.py") if pattern.search(p.read_text())]
    offenders += [str(p) for p in (ROOT / "graphs").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_no_code_path_unpickles():
    offenders = []
    for path in ROOT.rglob("*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"pickle\.loads?\(", line) or ("torch.load(" in line and "weights_only=True" not in line):
                offenders.append(f"{path}:{number}")
            if "allow_pickle=True" in line:
                offenders.append(f"{path}:{number}")
    assert offenders == []
