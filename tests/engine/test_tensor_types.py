"""The tensor and arithmetic types (graphs/families/tensors.py) go through every export: ONNX (checked and
run in onnxruntime at two batch sizes against torch) and Python (the generated file rebuilds the model
exactly); the palette and the inspector offer them; Parameter, Sample and the several outputs of Split
and Chunk behave as torch does. Shapes, parameter counts and the compiled forward against torch:
tests/engine/test_shape_property.py (cases in tests/engine/tensor_cases.py)."""

import pytest
import torch

from engine.compiler import compile_graph
from engine.export import export_python, prepare_model, verify_python
from engine.shapes import infer
from graphs import Graph
from graphs.catalogue import CATALOGUE
from graphs.families import tensors
from tests.engine.export_checks import assert_onnx_runs_like_torch, assert_python_rebuilds_the_model

# type -> (params away from the defaults, the input shape of each input port)
CASES = {
    "Parameter": ({"shape": [3, 4], "init": "uniform"}, {}),
    "Subtract": ({}, {"input": [3, 4], "other": [1, 4]}),
    "Divide": ({}, {"input": [3, 4], "other": [3, 4]}),
    "Maximum": ({}, {"input": [3, 4], "other": [3, 1]}),
    "Minimum": ({}, {"input": [3, 4], "other": [3, 4]}),
    "MatMul": ({}, {"input": [2, 3, 4], "other": [1, 4, 5]}),
    "Scale": ({"scale": 0.5, "bias": 1.0}, {"in": [3, 4]}),
    "Exp": ({}, {"in": [3, 4]}), "Log": ({}, {"in": [3, 4]}), "Sqrt": ({}, {"in": [3, 4]}),
    "Abs": ({}, {"in": [3, 4]}),
    "Pow": ({"exponent": 3.0}, {"in": [3, 4]}),
    "Clamp": ({"bounds": "min", "min": -0.25}, {"in": [3, 4]}),
    "Mean": ({"dim": [1, -1], "keepdim": True}, {"in": [3, 4, 5]}),
    "Sum": ({"dim": [2]}, {"in": [3, 4, 5]}),
    "Max": ({"dim": [-1]}, {"in": [3, 4]}),
    "Min": ({"dim": [1, 2], "keepdim": True}, {"in": [3, 4]}),
    "ToDtype": ({"dtype": "int64"}, {"in": [3, 4]}),
    "Sample": ({}, {"mean": [6], "logvar": [6]}),
    "Unflatten": ({"dim": -1, "unflattened_size": [2, -1]}, {"in": [3, 8]}),
    "Squeeze": ({"dim": 2}, {"in": [3, 1, 4]}),
    "Unsqueeze": ({"dim": -1}, {"in": [3, 4]}),
    "Transpose": ({"dim": 1, "dim1": -1}, {"in": [3, 4, 5]}),
    "Expand": ({"size": [3, 4]}, {"in": [1, 4]}),
    "Split": ({"split_size_or_sections": [1, 3], "dim": 2}, {"in": [3, 4]}),
    "Chunk": ({"chunks": 3, "dim": 1}, {"in": [6, 2]}),
    "Select": ({"dim": 1, "index": -1}, {"in": [3, 4]}),
    "Slice": ({"dim": 2, "start": 1, "end": 4, "step": 2}, {"in": [3, 5]}),
    "Stack": ({"dim": -1}, {"in0": [3, 4], "in1": [3, 4]}),
}


def model_graph(type_name: str) -> Graph:
    params, inputs = CASES[type_name]
    graph = Graph()
    graph.add_node(type_name, params, "layer")
    for port, shape in inputs.items():
        graph.add_node("Input", {"shape": shape}, f"x_{port}")
        graph.connect(f"x_{port}", "layer", target_port=port)
    if not inputs:  # a Parameter takes its batch size from an input
        graph.add_node("Input", {"shape": params["shape"]}, "x")
        graph.add_node("Add", {}, "total")
        graph.connect("layer", "total", target_port="in0")
        graph.connect("x", "total", target_port="in1")
    return graph


def test_every_type_of_the_family_has_a_case():
    assert set(CASES) == {t.name for t in tensors.TYPES}


@pytest.mark.parametrize("type_name", sorted(CASES))
def test_exports_to_onnx_that_runs_in_onnxruntime_like_torch(type_name, tmp_path):
    assert_onnx_runs_like_torch(model_graph(type_name), tmp_path)


@pytest.mark.parametrize("type_name", sorted(CASES))
def test_exports_to_python_that_rebuilds_the_model_exactly(type_name, tmp_path):
    assert_python_rebuilds_the_model(model_graph(type_name), tmp_path)


def test_the_palette_and_the_inspector_offer_them(qtbot):
    from gui.palette import Palette
    from gui.param_widgets import make_editor

    palette = Palette()
    qtbot.addWidget(palette)
    for type_name, (params, _) in CASES.items():
        assert palette.item(type_name).parent().text(0) == CATALOGUE[type_name].category
        assert CATALOGUE[type_name].doc
        for spec in CATALOGUE[type_name].params:
            editor = make_editor(spec)
            qtbot.addWidget(editor)
            editor.set_value(params.get(spec.name, spec.default))
            assert editor.value() == params.get(spec.name, spec.default)


def test_a_parameter_is_one_learned_tensor_broadcast_over_the_batch():
    graph = Graph()
    graph.add_node("Input", {"shape": [5, 8]}, "patches")
    graph.add_node("Parameter", {"shape": [1, 8], "init": "zeros"}, "cls_token")
    graph.add_node("Concat", {"dim": 1}, "tokens")
    graph.connect("cls_token", "tokens", target_port="in0")
    graph.connect("patches", "tokens", target_port="in1")
    compiled = compile_graph(graph)
    assert {k: tuple(v.shape) for k, v in compiled.model.state_dict().items()} == {"cls_token": (1, 1, 8)}
    assert compiled.shapes.info["cls_token"].params == 8
    with torch.no_grad():
        compiled.model.cls_token.fill_(3.0)
    x = torch.randn(4, 5, 8)
    out = compiled.model(x)
    assert out.shape == (4, 6, 8)
    assert torch.equal(out[:, 0], torch.full((4, 8), 3.0)) and torch.equal(out[:, 1:], x)
    out.sum().backward()
    assert torch.equal(compiled.model.cls_token.grad, torch.full((1, 1, 8), 4.0))  # one per sample


@pytest.mark.parametrize("init, check", [
    ("zeros", lambda t: torch.equal(t, torch.zeros_like(t))),
    ("ones", lambda t: torch.equal(t, torch.ones_like(t))),
    ("normal", lambda t: 0.3 < t.std().item() < 0.7),
    ("uniform", lambda t: t.abs().max().item() <= 0.2 and t.std().item() > 0.05),
])
def test_a_parameter_starts_from_its_init_under_the_seed(init, check):
    graph = Graph()
    graph.add_node("Input", {"shape": [400]}, "x")
    graph.add_node("Parameter", {"shape": [400], "init": init, "std": 0.5, "bound": 0.2}, "bias")
    graph.add_node("Add", {}, "total")
    graph.connect("x", "total", target_port="in0")
    graph.connect("bias", "total", target_port="in1")
    first = prepare_model(graph, seed=3).model.bias.detach()
    assert check(first)
    assert torch.equal(first, prepare_model(graph, seed=3).model.bias.detach())


def test_a_parameter_without_an_input_to_size_the_batch_is_refused():
    from engine.compiler import CompileError

    graph = Graph()
    graph.add_node("Parameter", {"shape": [4]}, "alone")
    graph.add_node("Exp", {}, "e")
    graph.connect("alone", "e")
    with pytest.raises(CompileError, match="no Input"):
        compile_graph(graph)


def test_a_parameter_feeding_a_loss_while_the_input_is_unused_takes_the_batch_size_from_that_input(tmp_path):
    """Inference accepts such a graph, so the compiler must too: the model takes its first Input, if only for
    the batch size (it was refused with "the model has none: add an Input", a random graph found it)."""
    graph = Graph()
    graph.add_node("Input", {"shape": [3]}, "x")
    graph.add_node("Parameter", {"shape": [4], "init": "ones"}, "p")
    graph.add_node("Target", {"shape": [4], "dtype": "float32"}, "t")
    graph.add_node("MSELoss", {}, "loss")
    graph.connect("p", "loss", target_port="input")
    graph.connect("t", "loss", target_port="target")
    assert infer(graph).valid
    compiled = compile_graph(graph)
    assert compiled.inputs == ["x"] and compiled.output_sources == [("p", "out")]
    out = compiled.model(torch.randn(5, 3))
    assert torch.equal(out, torch.ones(5, 4))
    path = export_python(compiled, graph, tmp_path / "model.py")
    assert verify_python(compiled, path) == 0.0


def test_sample_draws_from_torch_s_generator_in_training_and_gives_the_mean_in_eval():
    compiled = compile_graph(model_graph("Sample"))
    mean, logvar = torch.randn(5, 6), torch.randn(5, 6)
    torch.manual_seed(7)
    got = compiled.model(mean, logvar)
    torch.manual_seed(7)
    expected = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
    assert torch.allclose(got, expected, atol=1e-6) and not torch.equal(got, mean)
    compiled.model.eval()
    assert torch.equal(compiled.model(mean, logvar), mean)


def test_split_and_chunk_pieces_are_output_ports_that_feed_on_and_end_the_model():
    graph = Graph()
    graph.add_node("Input", {"shape": [6, 2]}, "x")
    graph.add_node("Chunk", {"chunks": 3}, "parts")
    graph.add_node("Exp", {}, "e")
    graph.connect("x", "parts")
    graph.connect("parts", "e", source_port="out1")
    assert graph.node("parts").output_ports() == ["out0", "out1", "out2"]
    graph.add_node("Split", {"split_size_or_sections": [1, 1], "dim": -1}, "halves")
    graph.connect("e", "halves")
    compiled = compile_graph(graph)
    # pieces nothing reads are dropped (like `a, _ = x.chunk(2)`); a node that feeds nothing ends the model
    assert compiled.output_sources == [("halves", "out0"), ("halves", "out1")]
    assert compiled.outputs == ["halves_out0", "halves_out1"]
    x = torch.randn(2, 6, 2)
    first, second = compiled.model(x)
    assert torch.equal(first, torch.exp(x[:, 2:4, :1])) and torch.equal(second, torch.exp(x[:, 2:4, 1:]))


def test_reducing_or_cutting_the_batch_is_refused_with_a_sentence():
    from engine.shapes import infer

    for type_name, params in (("Mean", {"dim": [0, 1]}), ("Select", {"dim": 0}), ("Split", {"dim": -3}),
                              ("Squeeze", {"dim": 0})):
        graph = Graph()
        graph.add_node("Input", {"shape": [2, 2]}, "x")
        graph.add_node(type_name, params, "node")
        graph.connect("x", "node")
        (error,) = infer(graph).errors
        assert error.node == "node" and "batch" in error.message, error.message
