"""ONNX import of models that Neurocanvas and torch export: every example round-trips, recurrent and image
layers, torch's dynamo spelling, the layout of imported projects, and the import-onnx command."""

from pathlib import Path

import numpy as np
import onnx
import pytest
import safetensors.torch
import torch
from onnx import helper

from engine.compiler import compile_graph, example_inputs
from engine.export.model import prepare_model
from engine.export.onnx_export import export_onnx, onnx_names
from engine.importers.common import ImportRefused, weights_path_for
from engine.importers.onnx_import import import_onnx, verify_import
from graphs.document import Graph
from graphs.layout import layered_positions, layers
from graphs.project import load_project
from tests.engine.onnx_models import make_model, ort_run, types

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.json"))
# Examples the ONNX importer refuses by design (engine/importers/coverage.py): Sample is written as
# RandomNormalLike. (The ViT's attention comes back as MultiheadAttention.)
REFUSED = {"digits_vae": "RandomNormalLike"}
ROUND_TRIP = [p for p in EXAMPLES if p.stem not in REFUSED]


# ---- round trip of every example -------------------------------------------------------------
@pytest.mark.parametrize("example", ROUND_TRIP, ids=[p.stem for p in ROUND_TRIP])
def test_example_round_trip_through_onnx(example, tmp_path):
    """export -> import -> save -> load -> re-export; both files give the same outputs in onnxruntime."""
    compiled = prepare_model(load_project(example).graph, seed=0)
    first = tmp_path / "first.onnx"
    export_onnx(compiled, first, exporter="torchscript")

    result = import_onnx(first)
    project_path, weights_path = result.save(tmp_path / "imported.json")
    assert weights_path == tmp_path / "imported.safetensors"
    reloaded = compile_graph(load_project(project_path).graph)
    reloaded.model.load_state_dict(safetensors.torch.load_file(weights_path))  # strict: keys are <node_id>.<param>
    second = tmp_path / "second.onnx"
    export_onnx(reloaded, second, exporter="torchscript")

    input_names, _ = onnx_names(compiled)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        tensors = example_inputs(compiled, batch=3)
    feeds = {name: t.numpy() for name, t in zip(input_names, tensors)}
    want = ort_run(first, feeds)
    got = ort_run(second, {result.inputs[name]: array for name, array in feeds.items()})
    assert set(result.outputs) == set(want)
    for name, expected in want.items():
        np.testing.assert_allclose(got[result.outputs[name]], expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_examples_the_onnx_importer_refuses_say_why_and_write_nothing(name, tmp_path):
    compiled = prepare_model(load_project(ROOT / "resources" / "examples" / f"{name}.json").graph, seed=0)
    export_onnx(compiled, tmp_path / "m.onnx", exporter="torchscript")
    with pytest.raises(ImportRefused, match=REFUSED[name]):
        import_onnx(tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_lstm_example_maps_to_an_lstm_node_with_output_last(tmp_path):
    compiled = prepare_model(load_project(ROOT / "resources/examples/digits_lstm.json").graph)
    export_onnx(compiled, tmp_path / "m.onnx", exporter="torchscript")
    result = import_onnx(tmp_path / "m.onnx")
    nodes = {n.type: n for n in result.project.graph.nodes()}
    assert set(nodes) == {"Input", "Reshape", "LSTM", "Linear"}
    assert nodes["LSTM"].params["output"] == "last" and nodes["LSTM"].params["hidden_size"] == 64
    assert nodes["Reshape"].params["shape"] == [8, 8]
    assert verify_import(tmp_path / "m.onnx", result).difference < 1e-5


def _export(graph: Graph, path: Path) -> Path:
    export_onnx(prepare_model(graph), path, exporter="torchscript")
    return path


def test_gru_and_embedding_round_trip(tmp_path):
    g = Graph()
    g.add_node("Input", {"shape": [6], "dtype": "int64"}, "tokens")
    g.add_node("Embedding", {"num_embeddings": 30, "embedding_dim": 8}, "embed")
    g.add_node("GRU", {"hidden_size": 12, "output": "last"}, "gru")
    g.add_node("Linear", {"out_features": 3}, "fc")
    for a, b in [("tokens", "embed"), ("embed", "gru"), ("gru", "fc")]:
        g.connect(a, b)
    path = _export(g, tmp_path / "gru.onnx")
    result = import_onnx(path)
    assert types(result) == ["Input", "Embedding", "GRU", "Linear"]
    assert result.project.graph.node("gru").params["output"] == "last"
    assert verify_import(path, result).difference < 1e-5


def test_activations_shapes_and_merges_round_trip(tmp_path):
    """GELU (exact and tanh) and SiLU come out of torch as chains of Mul/Add/Erf/Tanh: each is recognised."""
    g = Graph()
    g.add_node("Input", {"shape": [3, 16]}, "x")
    chain = [("Conv1d", {"out_channels": 4, "kernel_size": 3}, "conv"), ("MaxPool1d", {"kernel_size": 2}, "pool"),
             ("GELU", {}, "gelu"), ("LayerNorm", {}, "norm"), ("GELU", {"approximate": "tanh"}, "gelu_tanh"),
             ("SiLU", {}, "silu"), ("Permute", {"dims": [0, 2, 1]}, "swap")]
    previous = "x"
    for type_name, params, node_id in chain:
        g.add_node(type_name, params, node_id)
        g.connect(previous, node_id)
        previous = node_id
    g.add_node("Softmax", {"dim": 1}, "soft")
    g.add_node("LogSoftmax", {"dim": -1}, "logsoft")
    g.add_node("Concat", {"dim": 2}, "cat")
    g.add_node("ELU", {"alpha": 0.5}, "elu")
    g.add_node("LeakyReLU", {"negative_slope": 0.2}, "leaky")
    g.add_node("Multiply", {}, "mul")
    g.connect("swap", "soft")
    g.connect("swap", "logsoft")
    g.connect("soft", "cat", target_port="in0")
    g.connect("logsoft", "cat", target_port="in1")
    g.connect("cat", "elu")
    g.connect("elu", "leaky")
    g.connect("leaky", "mul", target_port="in0")
    g.connect("elu", "mul", target_port="in1")
    path = _export(g, tmp_path / "acts.onnx")
    result = import_onnx(path)
    imported = {n.id: (n.type, n.params) for n in result.project.graph.nodes()}
    assert imported["gelu"] == ("GELU", {"approximate": "none"})
    assert imported["gelu_tanh"] == ("GELU", {"approximate": "tanh"})
    assert imported["silu"] == ("SiLU", {})
    assert imported["norm"][0] == "LayerNorm" and imported["leaky"] == ("LeakyReLU", {"negative_slope": 0.2})
    assert sorted(types(result)) == sorted(["Input", *(t for t, _, _ in chain), "Softmax", "LogSoftmax", "Concat",
                                            "ELU", "LeakyReLU", "Multiply"])
    assert verify_import(path, result).difference < 1e-5


def test_image_layers_round_trip(tmp_path):
    g = Graph()
    g.add_node("Input", {"shape": [2, 8, 8]}, "x")
    g.add_node("ConvTranspose2d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1,
                                   "output_padding": 1}, "up")
    g.add_node("BatchNorm2d", {}, "bn")
    g.add_node("AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, "avg")
    g.add_node("AdaptiveAvgPool2d", {"output_size": 1}, "gap")
    g.add_node("Flatten", {}, "flat")
    for a, b in [("x", "up"), ("up", "bn"), ("bn", "avg"), ("avg", "gap"), ("gap", "flat")]:
        g.connect(a, b)
    compiled = prepare_model(g)
    with torch.no_grad():  # non-trivial running statistics
        compiled.model.bn.running_mean.uniform_(-1, 1)
        compiled.model.bn.running_var.uniform_(0.5, 2)
    export_onnx(compiled, tmp_path / "img.onnx", exporter="torchscript")
    result = import_onnx(tmp_path / "img.onnx")
    assert {"ConvTranspose2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten"} <= set(types(result))
    assert verify_import(tmp_path / "img.onnx", result).difference < 1e-5


@pytest.mark.parametrize("output", ["sequence", "last"])
def test_stacked_bidirectional_lstm_and_gru_round_trip(tmp_path, output):
    """torch exports a 2-layer bidirectional LSTM as two ONNX LSTMs joined by Transpose/Reshape over the
    directions axis; each becomes a bidirectional LSTM node. Two outputs: the LSTM's and the GRU's."""
    g = Graph()
    g.add_node("Input", {"shape": [6], "dtype": "int64"}, "tokens")
    g.add_node("Embedding", {"num_embeddings": 20, "embedding_dim": 8}, "embed")
    g.add_node("LSTM", {"hidden_size": 6, "num_layers": 2, "bidirectional": True, "output": output}, "lstm")
    g.add_node("GRU", {"hidden_size": 5, "bidirectional": True, "output": "last"}, "gru")
    for a, b in [("tokens", "embed"), ("embed", "lstm"), ("embed", "gru")]:
        g.connect(a, b)
    path = _export(g, tmp_path / "bi.onnx")
    result = import_onnx(path)
    nodes = result.project.graph.nodes()
    assert [n.type for n in nodes] == ["Input", "Embedding", "LSTM", "LSTM", "GRU"]
    assert all(n.params["bidirectional"] for n in nodes[2:])
    assert [n.params["output"] for n in nodes[2:]] == ["sequence", output, "last"]
    assert sorted(result.outputs.values()) == ["gru", "lstm_2"]
    assert verify_import(path, result).difference < 1e-5


def test_a_model_from_torchs_dynamo_exporter():
    """fixtures/dynamo_lstm.onnx was written by torch.onnx.export(dynamo=True, opset 18), which spells things
    differently: Expand for the LSTM's zero state, Shape/Slice/Mul arithmetic, a Reshape of the time-major view."""
    path = Path(__file__).resolve().parent / "fixtures" / "dynamo_lstm.onnx"
    result = import_onnx(path)
    assert types(result) == ["Input", "Reshape", "LSTM", "GELU", "Linear"]
    assert [n.id for n in result.project.graph.nodes()] == ["x", "reshape", "lstm", "gelu", "fc"]
    assert result.project.graph.node("lstm").params["output"] == "last"
    assert verify_import(path, result).difference < 1e-5


# ---- layout ---------------------------------------------------------------------------------------
def test_layout_puts_each_node_one_column_right_of_its_deepest_input():
    ids = ["x", "a", "b", "c", "add"]
    edges = [("x", "a"), ("a", "b"), ("x", "c"), ("b", "add"), ("c", "add")]
    assert layers(ids, edges) == {"x": 0, "a": 1, "b": 2, "c": 1, "add": 3}
    positions = layered_positions(ids, edges)
    assert positions["x"][0] < positions["a"][0] == positions["c"][0] < positions["b"][0] < positions["add"][0]
    assert positions["a"][1] != positions["c"][1]  # parallel branches get their own rows
    assert positions["x"][1] == 0.0  # a lone node is centred


def test_imported_projects_are_laid_out_left_to_right(tmp_path):
    compiled = prepare_model(load_project(ROOT / "resources/examples/residual_cnn.json").graph)
    export_onnx(compiled, tmp_path / "r.onnx", exporter="torchscript")
    graph = import_onnx(tmp_path / "r.onnx").project.graph
    x = {n.id: n.position[0] for n in graph.nodes()}
    assert all(x[e.source] < x[e.target] for e in graph.edges())
    assert len({n.position for n in graph.nodes()}) == len(graph)


# ---- command line ------------------------------------------------------------------------------------
def test_cli_writes_project_and_weights(tmp_path, capsys):
    import main

    compiled = prepare_model(load_project(ROOT / "resources/examples/digits_cnn.json").graph)
    export_onnx(compiled, tmp_path / "cnn.onnx", exporter="torchscript")
    assert main.main(["import-onnx", str(tmp_path / "cnn.onnx"), str(tmp_path / "cnn.json")]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "checked against onnxruntime" in out
    assert weights_path_for(tmp_path / "cnn.json").is_file()
    assert main.main(["check", str(tmp_path / "cnn.json")]) == 0
    weights = safetensors.torch.load_file(tmp_path / "cnn.safetensors")
    compile_graph(load_project(tmp_path / "cnn.json").graph).model.load_state_dict(weights)
    np.testing.assert_array_equal(weights["conv1.weight"].numpy(), compiled.model.conv1.weight.detach().numpy())


def test_cli_exit_codes_for_bad_input(tmp_path, capsys):
    import main

    target = str(tmp_path / "out.json")
    assert main.main(["import-onnx", str(tmp_path / "missing.onnx"), target]) == 2
    assert "does not exist" in capsys.readouterr().err
    nodes = [helper.make_node("Erf", ["x"], ["a"]), helper.make_node("Erf", ["a"], ["y"])]
    onnx.save(make_model(nodes, [("x", ["N", 3])], [("y", ["N", 3])]), str(tmp_path / "erf.onnx"))
    assert main.main(["import-onnx", str(tmp_path / "erf.onnx"), target]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Erf (2)" in err
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "out.safetensors").exists()
    onnx.save(make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", ["N", 3])], [("y", ["N", 3])]),
              str(tmp_path / "relu.onnx"))
    assert main.main(["import-onnx", str(tmp_path / "relu.onnx"), str(tmp_path / "out.txt")]) == 2
    assert "should end in .json" in capsys.readouterr().err
    assert main.main(["import-onnx", str(tmp_path / "relu.onnx"), target, "--no-verify"]) == 0
    assert "checked" not in capsys.readouterr().out
