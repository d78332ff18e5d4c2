"""`import-torch --keep-custom`: a custom module with no node is kept as a custom layer node of its class,
its file copied beside the project; without the flag the import is refused, as before."""

import json
import sys
import textwrap

import pytest
import torch

import main
from engine.compiler import compile_graph
from engine.custom_layers import code_loader
from engine.errors import UserError
from engine.weights import load_weights
from graphs.project import load_project

MODEL = """
    import torch
    from torch import nn


    class Shrink(nn.Module):
        '''A soft threshold, learned per feature.'''

        def __init__(self, features: int = 4, floor: float = 0.0):
            super().__init__()
            self.features = features
            self.floor = floor
            self.threshold = nn.Parameter(torch.linspace(0.0, 0.3, features))

        def forward(self, x):
            return torch.sign(x) * torch.clamp(x.abs() - self.threshold, min=self.floor)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(8, 16)
            self.shrink = Shrink(16, floor=0.01)
            self.fc2 = nn.Linear(16, 3)

        def forward(self, x):
            return self.fc2(self.shrink(torch.relu(self.fc1(x))))
"""


@pytest.fixture
def model_folder(tmp_path, monkeypatch):
    name = f"exotic_{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(MODEL), encoding="utf-8")
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    yield tmp_path, name
    sys.modules.pop(name, None)


def test_without_the_flag_the_import_is_refused_and_names_the_flag(model_folder, capsys):
    _folder, name = model_folder
    assert main.main(["import-torch", f"{name}:Net", "out/net.json"]) == 2
    error = capsys.readouterr().err
    assert "a custom module `Shrink`" in error and "--keep-custom" in error


def test_kept_custom_module_becomes_a_node_of_its_class(model_folder, capsys):
    folder, name = model_folder
    assert main.main(["import-torch", f"{name}:Net", "out/net.json", "--keep-custom"]) == 0
    assert "checked against the module on random inputs: largest difference 0" in capsys.readouterr().out
    copied = folder / "out" / f"{name}.py"
    assert copied.read_text() == (folder / f"{name}.py").read_text()
    data = json.loads((folder / "out" / "net.json").read_text())
    assert data["custom_code"] == [f"{name}.py"]
    shrink = next(node for node in data["nodes"] if node["type"] == "Shrink")
    assert shrink["params"] == {"features": 16, "floor": 0.01}
    with pytest.raises(UserError, match="--trust-code"):  # the project runs the copy: it needs trust
        load_project(folder / "out" / "net.json", code_loader(False))
    project = load_project(folder / "out" / "net.json", code_loader(True))
    compiled = compile_graph(project.graph)
    load_weights(compiled.model, folder / "out" / "net.safetensors")
    original = sys.modules[name].Net()
    original.load_state_dict(compiled.model.state_dict())  # the same keys: fc1.weight, shrink.threshold, ...
    x = torch.randn(5, 8)
    assert torch.allclose(compiled.model.eval()(x), original.eval()(x), atol=1e-6)
