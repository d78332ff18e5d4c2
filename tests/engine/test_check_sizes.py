"""Export and import checks stay within memory: a fully convolutional model with a huge Input is exported
(with its declared size) and checked at a small size; one whose size is fixed by the graph (a Linear after a
Flatten) is refused with the size, before anything is written. Every test here runs under an address-space
limit of 2 GiB above what the process already uses, so a sample allocated at the declared size (9.6 GB and
more) would fail it."""

import dataclasses
import sys
import textwrap

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import helper

import engine.memory_budget
import main
from engine.check_sizes import check_shapes, onnx_at_check_sizes
from engine.export import export_onnx, prepare_model, verify_onnx
from engine.export.model import run_model, sample_inputs
from engine.importers.onnx_import import import_onnx_file
from engine.memory_budget import TooLarge
from graphs import Graph
from graphs.project import Project, save_project
from tests.address_space import address_space_limit
from tests.engine.onnx_models import make_model


@pytest.fixture(autouse=True)
def bounded_memory(monkeypatch):
    """A computer with 8 GB available (a check may use 2 GB), and a process that cannot take more than 2 GiB
    beyond what it has."""
    monkeypatch.setattr(engine.memory_budget, "available_bytes", lambda: 8 * 10**9)
    with address_space_limit():
        yield


def chain(*nodes) -> Graph:
    graph = Graph()
    for node_id, type_name, params in nodes:
        graph.add_node(type_name, params, node_id)
    for (source, _, _), (target, _, _) in zip(nodes, nodes[1:]):
        graph.connect(source, target)
    return graph


def fully_convolutional(size: int = 20000) -> Graph:
    return chain(("x", "Input", {"shape": [3, size, size]}),
                 ("c1", "Conv2d", {"out_channels": 8, "kernel_size": 3, "stride": 2}), ("act", "ReLU", {}),
                 ("pool", "MaxPool2d", {"kernel_size": 2}),
                 ("c2", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}))


def flatten_then_linear(size: int = 20000) -> Graph:
    return chain(("x", "Input", {"shape": [3, size, size]}), ("pool", "AvgPool2d", {"kernel_size": 100}),
                 ("flat", "Flatten", {}), ("fc", "Linear", {"out_features": 2}))


def declared_shapes(path) -> list[list]:
    model = onnx.load(str(path))
    return [[d.dim_value or d.dim_param for d in info.type.tensor_type.shape.dim]
            for info in [*model.graph.input, *model.graph.output]]


def test_small_models_are_checked_at_their_own_size():
    compiled = prepare_model(fully_convolutional(64))
    shapes = check_shapes(compiled, 2)
    assert shapes.shapes == {"x": (3, 64, 64)} and not shapes.reduced


def test_free_sizes_are_made_small_and_fixed_ones_kept():
    compiled = prepare_model(fully_convolutional())
    assert check_shapes(compiled, 2).shapes == {"x": (3, 32, 32)}  # the channels feed c1's in_channels
    with pytest.raises(TooLarge) as refusal:
        check_shapes(prepare_model(flatten_then_linear()), 2)
    assert str(refusal.value).startswith("running the model on a sample batch of 2 (to export or check it) would "
                                         "take about 9.6 GB (9.6 GB of inputs), more than the ")
    assert "more than the 2.0 GB a check may use, and its input sizes are fixed by the graph" in str(refusal.value)


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_a_20000_square_fully_convolutional_model_exports_with_its_size_and_is_checked_small(exporter, tmp_path):
    compiled = prepare_model(fully_convolutional())
    target = tmp_path / "big.onnx"
    result = export_onnx(compiled, target, exporter=exporter)
    assert result.exporter == exporter
    assert declared_shapes(target) == [["batch", 3, 20000, 20000], ["batch", 4, 4999, 4999]]
    assert verify_onnx(compiled, target) < 1e-4


def test_the_check_runs_the_file_at_another_size_than_the_export_traced(tmp_path):
    """An exporter may bake the traced size into the graph (torch's dynamo exporter does so for an
    AdaptiveAvgPool2d whose output does not divide its input): the check must then not pass."""
    compiled = prepare_model(chain(("x", "Input", {"shape": [3, 20000, 20000]}),
                                   ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2}),
                                   ("pool", "AdaptiveAvgPool2d", {"output_size": [2, 3]}),
                                   ("flat", "Flatten", {}), ("fc", "Linear", {"out_features": 2})))
    traced, checked = check_shapes(compiled, 2), check_shapes(compiled, 1, variant=1)
    assert traced.shapes == {"x": (3, 32, 32)} and checked.shapes == {"x": (3, 48, 48)}
    target = tmp_path / "pool.onnx"
    export_onnx(compiled, target)
    third = dataclasses.replace(checked, shapes={"x": (3, 100, 100)})
    session = onnxruntime.InferenceSession(onnx_at_check_sizes(onnx.load(str(target)), third, {"x": "x"}))
    sample = torch.randn(1, 3, 100, 100)
    at_third_size = float(np.abs(session.run(None, {"x": sample.numpy()})[0] - run_model(
        compiled.model.eval(), (sample,))[0].detach().numpy()).max())
    assert (verify_onnx(compiled, target) < 1e-4) == (at_third_size < 1e-4)


def test_a_fixed_size_model_too_large_to_check_is_refused_before_writing(tmp_path, capsys):
    project = tmp_path / "fixed.json"
    save_project(Project(graph=flatten_then_linear(), name="fixed"), project)
    assert main.main(["export", str(project), "--onnx", str(tmp_path / "out.onnx")]) == 2
    err = capsys.readouterr().err
    assert "would take about 9.6 GB (9.6 GB of inputs)" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixed.json"]
    with pytest.raises(TooLarge, match="sample batch of 3 .* would take about 14.4 GB"):
        sample_inputs(prepare_model(flatten_then_linear()), 3)  # what verify_python draws its inputs with


def test_python_export_of_a_huge_fully_convolutional_model_is_checked_small(tmp_path, capsys):
    project = tmp_path / "conv.json"
    save_project(Project(graph=fully_convolutional(), name="conv"), project)
    assert main.main(["export", str(project), "--python", str(tmp_path / "conv.py")]) == 0
    assert "checked: largest absolute difference" in capsys.readouterr().out


MODULES = textwrap.dedent("""
    from torch import nn


    class FullyConvolutional(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, stride=2)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.conv(x))


    class FlattenThenLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.AvgPool2d(100)
            self.flat = nn.Flatten()
            self.fc = nn.Linear(3 * 300 * 300, 2)

        def forward(self, x):
            return self.fc(self.flat(self.pool(x)))
""")


@pytest.fixture
def user_modules(tmp_path, monkeypatch):
    (tmp_path / "huge_models.py").write_text(MODULES)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("huge_models", None)


def test_import_torch_of_a_30000_square_fully_convolutional_module_is_checked_small(user_modules, capsys):
    argv = ["import-torch", "huge_models:FullyConvolutional", "conv.json", "--input-shape", "3,30000,30000"]
    assert main.main(argv) == 0
    out = capsys.readouterr().out
    assert "checked against the module on random inputs: largest difference " in out
    assert (user_modules / "conv.json").is_file() and (user_modules / "conv.safetensors").is_file()


def test_import_torch_of_a_module_whose_size_is_fixed_is_refused_with_the_size(user_modules, capsys):
    argv = ["import-torch", "huge_models:FlattenThenLinear", "fixed.json", "--input-shape", "3,30000,30000"]
    assert main.main(argv) == 2
    err = capsys.readouterr().err
    assert "would take about 21.6 GB (21.6 GB of inputs)" in err and "Traceback" not in err
    assert err.rstrip().endswith("Import it without the check (--no-verify), or give a smaller input shape.")
    assert not (user_modules / "fixed.json").exists() and not (user_modules / "fixed.safetensors").exists()


def test_import_onnx_of_a_20000_square_convolution_is_checked_small(tmp_path):
    weight = np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32)
    model = make_model([helper.make_node("Conv", ["x", "w"], ["c"], strides=[2, 2]),
                        helper.make_node("Relu", ["c"], ["y"])],
                       [("x", ["N", 3, 20000, 20000])], [("y", ["N", 4, 9999, 9999])], [("w", weight)])
    source = tmp_path / "big.onnx"
    onnx.save(model, str(source))
    files = import_onnx_file(source, tmp_path / "big.json")
    assert files.verification is not None and files.verification.ok
    assert files.result.project.graph.node("x").params["shape"] == [3, 20000, 20000]
