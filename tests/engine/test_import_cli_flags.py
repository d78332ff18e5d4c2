"""The import commands' flags: `--weights` reads weights, `--weights-out` says where they are written, in both
commands; the old spellings (`import-onnx --weights OUT`, `import-torch --output-weights OUT`) still work with
a one-line warning; outputs that are inputs (the model, the module's source, the input weights) are refused."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import safetensors.torch
import torch

import main
from engine.export import export_onnx, prepare_model
from graphs.project import load_project

ROOT = Path(__file__).resolve().parents[2]
DEPRECATED = {"import-onnx": "warning: import-onnx --weights FILE is deprecated: it says where the weights are "
                             "written, use --weights-out FILE\n",
              "import-torch": "warning: import-torch --output-weights FILE is deprecated: it says where the "
                              "weights are written, use --weights-out FILE\n"}
MODULE = "from torch import nn\n\n\nclass Tiny(nn.Module):\n    def __init__(self):\n        super().__init__()\n" \
         "        self.fc = nn.Linear(3, 2)\n\n    def forward(self, x):\n        return self.fc(x)\n"


@pytest.fixture
def onnx_model(tmp_path) -> Path:
    compiled = prepare_model(load_project(ROOT / "resources/examples/iris_mlp.json").graph)
    return export_onnx(compiled, tmp_path / "iris.onnx", exporter="torchscript").path


@pytest.fixture
def module(tmp_path, monkeypatch) -> str:
    """A fresh module with a `Tiny` class in tmp_path, the current folder; returns 'name:Tiny'."""
    name = f"tiny_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return f"{name}:Tiny"


def argv_for(command, onnx_model, module, project) -> list[str]:
    source = str(onnx_model) if command == "import-onnx" else module
    return [command, source, str(project), *(["--input-shape", "3"] if command == "import-torch" else [])]


@pytest.mark.parametrize("command", ["import-onnx", "import-torch"])
def test_weights_out_says_where_the_weights_go(tmp_path, capsys, onnx_model, module, command):
    out = tmp_path / "elsewhere.safetensors"
    assert main.main([*argv_for(command, onnx_model, module, tmp_path / "p.json"), "--weights-out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and f"wrote {out}:" in captured.out
    assert out.is_file() and not (tmp_path / "p.safetensors").exists()


@pytest.mark.parametrize("command, old", [("import-onnx", "--weights"), ("import-torch", "--output-weights")])
def test_the_old_spelling_still_works_with_a_warning(tmp_path, capsys, onnx_model, module, command, old):
    out = tmp_path / "old.safetensors"
    assert main.main([*argv_for(command, onnx_model, module, tmp_path / "p.json"), old, str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == DEPRECATED[command] and out.is_file()
    assert main.main([*argv_for(command, onnx_model, module, tmp_path / "q.json"), old, str(out),
                      "--weights-out", str(tmp_path / "other.safetensors")]) == 2
    assert f"{old} and --weights-out name different files" in capsys.readouterr().err


def test_import_torch_weights_is_an_input(tmp_path, capsys, module):
    weights = tmp_path / "trained.safetensors"
    safetensors.torch.save_file({"fc.weight": torch.ones(2, 3), "fc.bias": torch.zeros(2)}, weights)
    before = weights.read_bytes()
    assert main.main(["import-torch", module, str(tmp_path / "p.json"), "--input-shape", "3",
                      "--weights", str(weights)]) == 0
    assert weights.read_bytes() == before
    assert torch.equal(safetensors.torch.load_file(tmp_path / "p.safetensors")["fc.weight"], torch.ones(2, 3))
    assert main.main(["import-torch", module, str(tmp_path / "p.json"), "--input-shape", "3",
                      "--weights", str(weights), "--weights-out", str(weights)]) == 2
    assert "the weights (--weights)" in capsys.readouterr().err and weights.read_bytes() == before


def test_import_torch_never_writes_over_the_modules_source(tmp_path, capsys, module):
    source = tmp_path / f"{module.partition(':')[0]}.py"
    assert main.main(["import-torch", module, str(tmp_path / "p.json"), "--input-shape", "3",
                      "--weights-out", str(source)]) == 2
    err = capsys.readouterr().err
    assert f"the weights {source} is the same file as the module's source {source}" in err
    assert source.read_text() == MODULE and not (tmp_path / "p.json").exists()


@pytest.mark.parametrize("target", ["project", "weights"])
def test_import_onnx_never_writes_over_the_model(tmp_path, capsys, onnx_model, target):
    before = onnx_model.read_bytes()
    (tmp_path / "link.json").symlink_to(onnx_model)
    argv = ["import-onnx", str(onnx_model), str(tmp_path / "link.json")] if target == "project" else \
        ["import-onnx", str(onnx_model), str(tmp_path / "p.json"), "--weights-out", str(onnx_model)]
    assert main.main(argv) == 2
    assert "is the same file as the model being imported" in capsys.readouterr().err
    assert onnx_model.read_bytes() == before


def test_import_torch_help_says_it_runs_the_modules_code():
    run = subprocess.run([sys.executable, str(ROOT / "main.py"), "import-torch", "--help"], capture_output=True,
                         text=True, cwd=ROOT)
    text = " ".join(run.stdout.split())
    assert "runs its Python code with your permissions: use it only on code you trust" in text
    assert "--weights-out" in text and "--output-weights" not in text
    listing = subprocess.run([sys.executable, str(ROOT / "main.py"), "--help"], capture_output=True, text=True,
                             cwd=ROOT).stdout
    assert "runs the module's code" in " ".join(listing.split())
