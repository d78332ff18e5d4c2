"""PyTorch import (torch.fx): a hand-written residual CNN and friends reproduce their module exactly, weights
are renamed to node ids, and every unsupported part is refused by name."""

import re
import sys
from pathlib import Path

import pytest
import safetensors.torch
import torch

from engine.compiler import compile_graph
from engine.errors import UserError
from engine.importers.common import ImportRefused
from engine.importers.torch_import import (
    import_module,
    import_torch_class,
    load_module_class,
    parse_shape,
    verify_module_import,
)
from graphs.project import load_project

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def models():
    sys.path.insert(0, str(FIXTURES))
    try:
        import torch_models

        yield torch_models
    finally:
        sys.path.remove(str(FIXTURES))


def fresh(cls):
    torch.manual_seed(0)
    module = cls()
    for sub in module.modules():  # non-trivial batch-norm statistics
        if isinstance(sub, torch.nn.modules.batchnorm._BatchNorm):
            sub.running_mean.uniform_(-0.5, 0.5)
            sub.running_var.uniform_(0.5, 2.0)
    return module.eval()


def outputs_match(module, result, *inputs):
    with torch.no_grad():
        want = module(*inputs)
        got = result.compiled.model(*inputs)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_residual_cnn_reproduces_the_module(models):
    module = fresh(models.ResidualCNN)
    result = import_module(module, [(1, 8, 8)])
    x = torch.randn(5, 1, 8, 8)
    outputs_match(module, result, x)
    graph = result.project.graph
    add = graph.node("add")
    assert add.type == "Add" and {e.source for e in graph.in_edges("add")} == {"block_bn2", "relu"}
    assert [n.type for n in graph.nodes()] == [
        "Input", "Conv2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "Add", "ReLU",
        "MaxPool2d", "Flatten", "Dropout", "Linear", "GELU", "Linear"]
    assert graph.node("x").params == {"shape": [1, 8, 8], "dtype": "float32"}


def test_weights_are_the_module_state_dict_renamed_to_node_ids(models):
    module = fresh(models.ResidualCNN)
    result = import_module(module, [(1, 8, 8)])
    renamed = {key.replace("block.", "block_").replace("head.", "head_"): value
               for key, value in module.state_dict().items()}
    assert set(result.weights) == set(renamed)
    assert "block_conv1.weight" in result.weights and "head_2.weight" in result.weights
    for key, value in renamed.items():
        assert torch.equal(result.weights[key], value), key
    fresh_model = compile_graph(result.project.graph).model
    fresh_model.load_state_dict(result.weights)  # strict


def test_functions_methods_and_views(models):
    module = fresh(models.FunctionalNet)
    result = import_module(module, [(3, 6, 6)])
    outputs_match(module, result, torch.randn(4, 3, 6, 6))
    nodes = {n.id: n for n in result.project.graph.nodes()}
    assert nodes["cat"].type == "Concat" and nodes["cat"].params == {"inputs": 2, "dim": 1}
    assert nodes["reshape"].type == "Reshape" and nodes["reshape"].params == {"shape": [8, -1]}
    assert nodes["permute"].params == {"dims": [0, 1, 3, 2]}
    assert nodes["leaky_relu"].params == {"negative_slope": 0.1}
    assert nodes["mul"].type == "Multiply" and nodes["log_softmax"].params == {"dim": 1}


def test_embedding_and_stacked_lstm_with_the_last_step(models):
    module = fresh(models.SequenceNet)
    result = import_module(module, [(7,)])
    assert result.project.graph.node("tokens").params == {"shape": [7], "dtype": "int64"}
    lstm = result.project.graph.node("lstm")
    assert lstm.params["output"] == "last" and lstm.params["num_layers"] == 2
    outputs_match(module, result, torch.randint(0, 50, (3, 7)))


def test_input_shape_is_guessed_from_a_first_linear_layer(models):
    module = fresh(models.SharedNet)
    assert import_module(module).project.graph.node("x").params["shape"] == [6]
    traced_input = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Tanh())
    result = import_module(traced_input)
    assert result.project.graph.node("input_1").params["shape"] == [5]
    outputs_match(traced_input, result, torch.randn(2, 5))


def test_missing_input_shape_is_asked_for(models):
    with pytest.raises(UserError, match="give the shape of input 'x'"):
        import_module(fresh(models.ResidualCNN))


def test_control_flow_is_refused_naming_the_line(models):
    with pytest.raises(UserError) as error:
        import_module(fresh(models.ControlFlowNet), [(4,)])
    message = str(error.value)
    assert "cannot trace ControlFlowNet" in message and "torch_models.py" in message
    assert "if x.sum() > 0:" in message


def test_every_unsupported_part_is_named_as_the_user_wrote_it(models):
    with pytest.raises(ImportRefused) as error:
        import_module(fresh(models.UnsupportedNet), [(4,)])
    message = str(error.value)
    assert "`self.bil` (nn.Bilinear): Neurocanvas has no node for this layer" in message
    assert "`torch.cumsum` at torch_models.py:" in message
    assert "`torch.logsumexp` at torch_models.py:" in message
    assert "Nothing was imported" in message


def test_a_module_with_weights_called_twice_becomes_nodes_sharing_them(models):
    module = fresh(models.SharedNet)
    result = import_module(module, [(6,)])
    graph = result.project.graph
    assert graph.node("fc_1").params == {"out_features": 6, "bias": True, "shares": "fc"}
    assert sorted(result.weights) == ["fc.bias", "fc.weight"]
    outputs_match(module, result, torch.randn(3, 6))


def test_sizes_that_disagree_with_the_input_shape_are_refused(models):
    with pytest.raises(ImportRefused) as error:
        import_module(fresh(models.WrongSizeNet), [(1, 8, 8)])
    assert "in_features is 100 in the module but 144 from the traced input [144]" in str(error.value)
    with pytest.raises(ImportRefused, match="in_channels is 1 in the module but 3"):
        import_module(fresh(models.WrongSizeNet), [(3, 8, 8)])


def test_constants_in_arithmetic_import_as_scale_and_a_constant_over_a_tensor_is_refused():
    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 3)

        def forward(self, x):
            return 1 - self.fc(x) * 0.5 / 8

    module = Scaled()
    result = import_module(module, [(3,)])
    assert [(n.type, n.params) for n in result.project.graph.nodes() if n.type == "Scale"] == [
        ("Scale", {"scale": 0.5, "bias": 0.0}), ("Scale", {"scale": 0.125, "bias": 0.0}),
        ("Scale", {"scale": -1.0, "bias": 1.0})]
    outputs_match(module, result, torch.randn(4, 3))

    class Inverse(torch.nn.Module):
        def forward(self, x):
            return 2 / x

    with pytest.raises(ImportRefused, match=r"'truediv' \(call_function operator.truediv\): it divides a constant"):
        import_module(Inverse(), [(3,)])


def test_verification_compares_against_the_module(models):
    module = fresh(models.ResidualCNN)
    result = import_module(module, [(1, 8, 8)])
    check = verify_module_import(module, result)
    assert check.ok and check.difference <= 1e-5 and check.largest > 0


def test_loading_the_class_by_name(models, tmp_path):
    module = load_module_class("torch_models:ResidualCNN")
    assert type(module).__name__ == "ResidualCNN"
    safetensors.torch.save_file({k: v * 0 + 0.5 for k, v in module.state_dict().items()}, tmp_path / "w.safetensors")
    result = import_torch_class("torch_models:ResidualCNN", [(1, 8, 8)], weights=tmp_path / "w.safetensors")
    assert torch.all(result.weights["stem.weight"] == 0.5)
    for spec, message in [("torch_models", "is not of the form module:Class"),
                          ("no_such_module_here:Net", "no such module"),
                          ("torch_models:Missing", "has no 'Missing'"),
                          ("torch_models:ResidualBlock.forward", "is not an nn.Module class"),
                          ("torch_models:NeedsArguments", "NeedsArguments() failed")]:
        with pytest.raises(UserError, match=re.escape(message)):
            load_module_class(spec)


@pytest.mark.parametrize("text, shape", [("1,8,8", (1, 8, 8)), ("[3, 4]", (3, 4)), ("16", (16,)), ("", ())])
def test_parse_shape(text, shape):
    assert parse_shape(text) == shape


def test_parse_shape_refuses_junk():
    for text in ("a,b", "1,0", "-3"):
        with pytest.raises(UserError):
            parse_shape(text)


# ---- command line ----------------------------------------------------------------------------------
def test_cli_writes_a_project_whose_model_equals_the_module(models, tmp_path, capsys, monkeypatch):
    import main

    monkeypatch.chdir(FIXTURES)
    project = tmp_path / "resnet.json"
    torch.manual_seed(0)  # the command creates ResidualCNN() itself: same seed, same weights as `module` below
    assert main.main(["import-torch", "torch_models:ResidualCNN", str(project), "--input-shape", "1,8,8"]) == 0
    out = capsys.readouterr().out
    assert "checked against the module on random inputs: largest difference" in out
    weights = safetensors.torch.load_file(tmp_path / "resnet.safetensors")
    model = compile_graph(load_project(project).graph).model.eval()
    model.load_state_dict(weights)
    torch.manual_seed(0)
    module = models.ResidualCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), module(x), atol=1e-5, rtol=0)


def test_cli_exit_codes(tmp_path, capsys, monkeypatch):
    import main

    monkeypatch.chdir(FIXTURES)
    target = str(tmp_path / "out.json")
    cases = [
        (["import-torch", "no_such_module:Net", target], "no such module"),
        (["import-torch", "torch_models:Missing", target], "has no 'Missing'"),
        (["import-torch", "torch_models:UnsupportedNet", target], "nn.Bilinear"),
        (["import-torch", "torch_models:ControlFlowNet", target, "--input-shape", "4"], "cannot trace"),
        (["import-torch", "torch_models:ResidualCNN", target, "--input-shape", "1,a,8"], "not a list of sizes"),
        (["import-torch", "torch_models:ResidualCNN", target], "give the shape of input 'x'"),
        (["import-torch", "torch_models:ResidualCNN", target, "--input-shape", "1,8,8", "--weights",
          str(tmp_path / "none.safetensors")], "does not exist"),
    ]
    for argv, message in cases:
        assert main.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "out.safetensors").exists()


@pytest.mark.parametrize("name, shape, types", [
    ("AttentionNet", (5, 8), ["Input", "Linear", "MultiheadAttention", "TransformerEncoderLayer", "Permute",
                              "GroupNorm"]),
    ("ImageOpsNet", (2, 8, 8), ["Input", "ConvTranspose2d", "AvgPool2d", "Conv2d", "AvgPool2d", "MaxPool2d", "Add",
                                "SiLU", "AdaptiveAvgPool2d", "Dropout2d", "ELU", "Transpose"]),
])
def test_more_layer_types_reproduce_the_module(models, name, shape, types):
    module = fresh(getattr(models, name))
    result = import_module(module, [shape])
    assert [n.type for n in result.project.graph.nodes()] == types
    outputs_match(module, result, torch.randn(3, *shape))
