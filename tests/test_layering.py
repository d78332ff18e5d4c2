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


UNPICKLERS = re.compile(r"\b(pickle|cPickle|dill|cloudpickle|joblib|marshal)\.(loads?|Unpickler)\(|read_pickle\(|"
                        r"\bshelve\.open\(|allow_pickle=True|weights_only=False")
# loaders that unpickle unless told not to: the call's arguments must say so
GUARDED = {re.compile(r"\btorch\.load\("): "weights_only=True", re.compile(r"\b(np|numpy)\.load\("): "allow_pickle=False"}


def call_arguments(source: str, open_paren: int) -> str:
    """The text between the parenthesis at `open_paren` and its match (calls may span lines)."""
    depth = 0
    for i in range(open_paren, len(source)):
        depth += {"(": 1, ")": -1}.get(source[i], 0)
        if depth == 0:
            return source[open_paren + 1:i]
    return source[open_paren + 1:]


def unpickling_lines(source: str) -> list[int]:
    """Line numbers of calls to an unpickler, or to a loader that unpickles by default without the
    argument that forbids it."""
    found = [m.start() for m in UNPICKLERS.finditer(source)]
    for pattern, guard in GUARDED.items():
        found += [m.start() for m in pattern.finditer(source) if guard not in call_arguments(source, m.end() - 1)]
    return sorted(source.count("\n", 0, at) + 1 for at in found)


def test_no_code_path_unpickles():
    offenders = []
    for path in ROOT.rglob("*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        offenders += [f"{path}:{line}" for line in unpickling_lines(path.read_text())]
    assert offenders == []


def test_the_unpickling_check_finds_what_it_should():
    source = ("np.load(path,\n        allow_pickle=False)\nx = np.load(path)\ntorch.load(f, map_location='cpu')\n"
              "pickle.loads(b)\ntorch.load(f, weights_only=True)\nnp.load(p, allow_pickle=True)\n")
    assert unpickling_lines(source) == [3, 4, 5, 7, 7]
