"""ONNX import: round trips of every example, the ONNX models shipped with the onnx package, each
mapping rule against onnxruntime, refusals that list what cannot be mapped, and the layout."""

import glob
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import safetensors.torch
import torch
from onnx import TensorProto, helper, numpy_helper

from engine.compiler import compile_graph, example_inputs
from engine.export.model import prepare_model
from engine.export.onnx_export import export_onnx, onnx_names
from engine.importers.common import ImportRefused, weights_path_for
from engine.importers.layout import layered_positions, layers
from engine.importers.onnx_import import MAPPED_OPERATORS, import_onnx, verify_import
from graphs.document import Graph
from graphs.project import load_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.json"))
ONNX_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"


def ort_run(model, feeds: dict) -> dict:
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def types(result) -> list[str]:
    return [n.type for n in result.project.graph.nodes()]


# ---- round trip of every example -------------------------------------------------------------
@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
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


# ---- models we did not write: the onnx package's own test data --------------------------------------
# Models (exported from PyTorch by the onnx project, weights stored as initializers) that the importer maps.
# Each is compared with the expected output stored beside it. The first dimension of every input is taken
# as the batch, so the single-input models of the onnx `node` suite would fit too, but this onnx wheel
# ships no `node` data; `pytorch-converted`, `pytorch-operator` and `simple` are what it has.
BACKEND_IMPORTED = [
    *(f"pytorch-converted/test_{name}" for name in (
        "AvgPool1d", "AvgPool1d_stride", "AvgPool2d", "AvgPool2d_stride", "BatchNorm1d_3d_input_eval",
        "BatchNorm2d_eval", "BatchNorm2d_momentum_eval", "Conv1d", "Conv1d_dilated", "Conv1d_groups",
        "Conv1d_pad1", "Conv1d_pad1size1", "Conv1d_pad2", "Conv1d_pad2size1", "Conv1d_stride", "Conv2d",
        "Conv2d_depthwise", "Conv2d_depthwise_padded", "Conv2d_depthwise_strided", "Conv2d_depthwise_with_multiplier",
        "Conv2d_dilated", "Conv2d_groups", "Conv2d_groups_thnn", "Conv2d_no_bias", "Conv2d_padding", "Conv2d_strided",
        "ConvTranspose2d", "ConvTranspose2d_no_bias", "ELU", "Embedding", "Embedding_sparse", "LeakyReLU",
        "LeakyReLU_with_negval", "Linear", "Linear_no_bias", "LogSoftmax", "MaxPool1d", "MaxPool1d_stride",
        "MaxPool1d_stride_padding_dilation", "MaxPool2d", "MaxPool2d_stride_padding_dilation", "PixelShuffle",
        "ReLU", "Sigmoid", "Softmax", "Tanh", "log_softmax_dim3", "log_softmax_lastdim", "softmax_functional_dim3",
        "softmax_lastdim")),
    *(f"pytorch-operator/test_operator_{name}" for name in (
        "concat2", "conv", "convtranspose", "flatten", "maxpool", "permute2", "view")),
    "simple/test_single_relu_model",
]

# Models the importer must refuse, with (part of) the reason it gives.
BACKEND_REFUSED = {
    "pytorch-converted/test_AvgPool3d": "3-D average pooling",
    "pytorch-converted/test_BatchNorm3d_eval": "BatchNorm1d/2d take",
    "pytorch-converted/test_Conv3d": "3-D convolution has no Neurocanvas node",
    "pytorch-converted/test_MaxPool3d": "3-D max pooling",
    "pytorch-converted/test_ConstantPad2d": "Pad (1)",
    "pytorch-converted/test_GLU": "Split (1)",
    "pytorch-converted/test_PReLU_2d": "PRelu (1)",
    "pytorch-converted/test_SELU": "Selu (1)",
    "pytorch-converted/test_Softmin": "Neg (1)",
    "pytorch-converted/test_Softplus": "Softplus (1)",
    "pytorch-operator/test_operator_add_broadcast": "element type double",
    "pytorch-operator/test_operator_mm": "must share their first (batch) dimension",
    "pytorch-operator/test_operator_non_float_params": "adds a constant tensor",
    "pytorch-operator/test_operator_index": "no slicing node",
    "pytorch-operator/test_operator_reduced_mean": "ReduceMean (1)",
    "pytorch-operator/test_operator_symbolic_override": "InstanceNormalization (1)",
    "simple/test_sequence_model4": "ConcatFromSequence (1), SequenceConstruct (1)",
    "simple/test_strnorm_model_monday_casesensintive_lower": "element type string",
}


def _load_pb(path) -> np.ndarray:
    return numpy_helper.to_array(onnx.load_tensor(str(path)))


@pytest.mark.parametrize("case", BACKEND_IMPORTED)
def test_onnx_package_model_matches_its_stored_output(case):
    folder = ONNX_DATA / case
    result = import_onnx(folder / "model.onnx")
    model = onnx.load(str(folder / "model.onnx"))
    initializers = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in initializers]
    inputs = [_load_pb(p) for p in sorted(glob.glob(str(folder / "test_data_set_0" / "input_*.pb")))]
    expected = [_load_pb(p) for p in sorted(glob.glob(str(folder / "test_data_set_0" / "output_*.pb")))]
    feeds = dict(zip(names, inputs))
    compiled = result.compiled
    by_node = {node: name for name, node in result.inputs.items()}
    args = [torch.from_numpy(feeds[by_node[node]].copy()) for node in compiled.inputs]
    with torch.no_grad():
        outputs = compiled.model(*args)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    got = dict(zip(compiled.outputs, outputs))
    for info, want in zip(model.graph.output, expected):
        np.testing.assert_allclose(got[result.outputs[info.name]].numpy(), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", sorted(BACKEND_REFUSED))
def test_onnx_package_model_outside_the_catalogue_is_refused_with_its_reason(case):
    with pytest.raises(ImportRefused) as refused:
        import_onnx(ONNX_DATA / case / "model.onnx")
    assert BACKEND_REFUSED[case] in str(refused.value)
    assert "Nothing was imported" in str(refused.value)


def _randomized_light_model(name: str, seed: int = 0) -> onnx.ModelProto:
    """A `light` model (a real architecture whose weights are ConstantOfShape fills) with seeded random
    weights instead, and without its final Softmax, so that the logits are compared."""
    model = onnx.load(str(ONNX_DATA / "light" / f"light_{name}.onnx"))
    rng = np.random.default_rng(seed)
    shapes = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes, weights = [], []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in shapes:
            shape = tuple(int(d) for d in shapes[node.input[0]])
            out = node.output[0]
            if out.endswith(("_riv_0", "_s_0")) or "running_var" in out:  # variances and scales: positive
                value = rng.uniform(0.5, 1.5, shape)
            elif len(shape) > 1:
                value = rng.normal(0, 1 / np.sqrt(np.prod(shape[1:])), shape)
            else:
                value = rng.normal(0, 0.1, shape)
            weights.append(numpy_helper.from_array(value.astype(np.float32), out))
        else:
            nodes.append(node)
    if nodes[-1].op_type == "Softmax":
        logits = nodes.pop().input[0]
        model.graph.output[0].name = logits
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(weights)
    return model


@pytest.mark.parametrize("name", ["squeezenet", "shufflenet"])
def test_real_architecture_from_the_onnx_package_matches_onnxruntime(name):
    """SqueezeNet (Concat, Dropout, GlobalAveragePool) and ShuffleNet (channel shuffle as Reshape/Transpose/Reshape,
    Sum residuals, BatchNorm, Gemm) on 224x224 images, weights drawn at random. (resnet50, densenet121 and
    inception_v2 from the same folder import too, but take several seconds each; they are left out here.)"""
    model = _randomized_light_model(name)
    result = import_onnx(model)
    x = np.random.default_rng(1).random((1, 3, 224, 224), dtype=np.float32)
    initializers = {i.name for i in model.graph.initializer}
    data = next(i.name for i in model.graph.input if i.name not in initializers)
    (want,) = ort_run(model, {data: x}).values()
    with torch.no_grad():
        got = result.compiled.model(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())
    assert np.abs(want).max() > 0.1  # logits, not a saturated softmax


def test_real_architecture_with_local_response_norm_is_refused():
    with pytest.raises(ImportRefused, match=r"unmapped operators \(no Neurocanvas node\): LRN \(2\)"):
        import_onnx(ONNX_DATA / "light" / "light_bvlc_alexnet.onnx")


# ---- mapping rules, one small hand-built model each ---------------------------------------------
def make_model(nodes, inputs, outputs, initializers=(), opset=17) -> onnx.ModelProto:
    def info(spec):
        name, elem, shape = spec if len(spec) == 3 else (spec[0], TensorProto.FLOAT, spec[1])
        return helper.make_tensor_value_info(name, elem, shape)

    graph = helper.make_graph(nodes, "test", [info(i) for i in inputs], [info(o) for o in outputs],
                              [numpy_helper.from_array(np.asarray(v), name) for name, v in initializers])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def assert_matches(model, expected_types=None):
    result = import_onnx(model)
    if expected_types is not None:
        assert types(result) == expected_types
    check = verify_import(model, result, batch=3)
    assert check is not None and check.difference < 1e-5, check
    return result


def refused(model) -> str:
    with pytest.raises(ImportRefused) as error:
        import_onnx(model)
    return str(error.value)


def test_matmul_then_add_becomes_one_linear_with_bias():
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
                       [("x", ["N", 5, 6])], [("y", ["N", 5, 4])], [("w", rand(6, 4)), ("b", rand(4, seed=1))])
    result = assert_matches(model, ["Input", "Linear"])
    linear = result.project.graph.node("y")
    assert linear.params == {"out_features": 4, "bias": True}
    np.testing.assert_allclose(result.weights["y.weight"].numpy(), rand(6, 4).T)


def test_gemm_with_alpha_beta_and_untransposed_weight():
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], alpha=2.0, beta=0.5, transB=0)
    assert_matches(make_model([node], [("x", ["N", 6])], [("y", ["N", 3])], [("w", rand(6, 3)), ("c", rand(1, 3))]),
                   ["Input", "Linear"])


def test_per_channel_scale_and_shift_fold_into_the_convolution():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["c", "s"], ["m"]), helper.make_node("Add", ["m", "t"], ["y"]),
             helper.make_node("Relu", ["y"], ["z"])]
    model = make_model(nodes, [("x", ["N", 3, 5, 5])], [("z", ["N", 4, 5, 5])],
                       [("w", rand(4, 3, 3, 3)), ("s", rand(4, 1, 1, seed=2)), ("t", rand(4, 1, 1, seed=3))])
    result = assert_matches(model, ["Input", "Conv2d", "ReLU"])
    assert result.project.graph.nodes()[1].params["bias"] is True


def test_a_constant_that_no_layer_can_absorb_is_refused():
    model = make_model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "c"], ["y"])],
                       [("x", ["N", 4])], [("y", ["N", 4])], [("c", rand(4))])
    assert "Add 'y': it adds a constant tensor to its input [batch, 4]" in refused(model)


def test_weights_given_as_graph_inputs_are_refused():
    model = make_model([helper.make_node("Conv", ["x", "W"], ["y"])], [("x", [2, 3, 5, 5]), ("W", [4, 3, 3, 3])],
                       [("y", [2, 4, 3, 3])])
    message = refused(model)
    assert "must share their first (batch) dimension" in message
    assert "its weight W is computed by the model (or is a graph input), not a stored initializer" in message


@pytest.mark.parametrize("shape, expected", [([-1, 3, 4], [3, 4]), ([0, 2, -1], [2, 6]), ([0, 12], None)])
def test_reshape_keeps_the_batch_first(shape, expected):
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["r"]), helper.make_node("Relu", ["r"], ["y"])],
                       [("x", ["N", 12])], [("y", ["N", *([12] if expected is None else expected)])],
                       [("s", np.array(shape, dtype=np.int64))])
    result = assert_matches(model)
    reshapes = [n for n in result.project.graph.nodes() if n.type == "Reshape"]
    assert [n.params["shape"] for n in reshapes] == ([] if expected is None else [[e for e in shape[1:]]])


def test_reshape_that_changes_the_batch_is_refused():
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["y"])], [("x", ["N", 12])], [("y", [4, -1])],
                       [("s", np.array([4, -1], dtype=np.int64))])
    assert "changes the batch dimension" in refused(model)


def test_reshape_with_the_batch_read_from_shape():
    """torch's x.reshape(x.size(0), ...) exports as Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    nodes = [helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
             helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"]),
             helper.make_node("Concat", ["batch1", "rest"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    model = make_model(nodes, [("x", ["N", 2, 6])], [("y", ["N", 3, 4])],
                       [("zero", np.array(0, dtype=np.int64)), ("axes", np.array([0], dtype=np.int64)),
                        ("rest", np.array([3, 4], dtype=np.int64))])
    assert assert_matches(model, ["Input", "Reshape"]).project.graph.nodes()[1].params["shape"] == [3, 4]


def test_two_inputs_and_an_embedding_lookup():
    nodes = [helper.make_node("Gather", ["table", "ids"], ["e"]), helper.make_node("Add", ["e", "x"], ["y"])]
    model = make_model(nodes, [("ids", TensorProto.INT64, ["N", 5]), ("x", ["N", 5, 4])], [("y", ["N", 5, 4])],
                       [("table", rand(10, 4))])
    result = import_onnx(model)
    assert types(result) == ["Input", "Input", "Embedding", "Add"]
    assert result.project.graph.node("ids").params == {"shape": [5], "dtype": "int64"}
    assert verify_import(model, result).difference < 1e-6


def test_an_output_also_used_inside_the_model_is_refused():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Sigmoid", ["a"], ["b"])]
    model = make_model(nodes, [("x", ["N", 3])], [("a", ["N", 3]), ("b", ["N", 3])])
    assert "output 'a' is also used inside the model" in refused(model)


def test_an_output_that_is_the_input_becomes_an_identity_reshape():
    model = make_model([helper.make_node("Identity", ["x"], ["y"])], [("x", ["N", 3])], [("y", ["N", 3])])
    result = assert_matches(model, ["Input", "Reshape"])
    assert result.project.graph.node("y").params == {"shape": [3]} and result.outputs == {"y": "y"}


@pytest.mark.parametrize("kernel, expected", [(3, 1), (2, None)])
def test_same_padding(kernel, expected):
    node = helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER")
    model = make_model([node], [("x", ["N", 2, 6, 6])], [("y", ["N", 3, 6, 6])], [("w", rand(3, 2, kernel, kernel))])
    if expected is None:
        assert "pads unevenly" in refused(model)
    else:
        assert assert_matches(model).project.graph.nodes()[1].params["padding"] == expected


def test_asymmetric_convolution_padding_is_refused():
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[0, 0, 1, 1])
    model = make_model([node], [("x", ["N", 2, 6, 6])], [("y", ["N", 3, 5, 5])], [("w", rand(3, 2, 3, 3))])
    assert "pads [0, 0, 1, 1] are not the same at both ends" in refused(model)


def test_transposed_convolution_trimming_more_at_the_start_uses_output_padding():
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 1, 0, 0])
    model = make_model([node], [("x", ["N", 2, 4, 4])], [("y", ["N", 3, 8, 8])],
                       [("w", rand(2, 3, 3, 3)), ("b", rand(3, seed=1))])
    params = assert_matches(model, ["Input", "ConvTranspose2d"]).project.graph.nodes()[1].params
    assert params["padding"] == 1 and params["output_padding"] == 1


def test_max_pooling_padded_more_at_the_end_maps_to_ceil_mode():
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])
    model = make_model([node], [("x", ["N", 2, 8, 8])], [("y", ["N", 2, 4, 4])])
    assert assert_matches(model, ["Input", "MaxPool2d"]).project.graph.nodes()[1].params["ceil_mode"] is True


def test_sigmoid_gate_read_twice_is_not_fused_but_still_exact():
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["m"]),
             helper.make_node("Add", ["m", "s"], ["y"])]
    model = make_model(nodes, [("x", ["N", 4])], [("y", ["N", 4])])
    assert assert_matches(model, ["Input", "Sigmoid", "Multiply", "Add"])


def test_softmax_before_opset_13_normalises_over_the_flattened_trailing_dims():
    model = make_model([helper.make_node("Softmax", ["x"], ["y"], axis=1)], [("x", ["N", 3, 4])],
                       [("y", ["N", 3, 4])], opset=11)
    assert_matches(model, ["Input", "Flatten", "Softmax", "Reshape"])


def test_transposes_that_move_the_batch_and_back_need_no_node():
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2]),
             helper.make_node("Transpose", ["t"], ["u"], perm=[1, 2, 0]), helper.make_node("Relu", ["u"], ["y"])]
    model = make_model(nodes, [("x", ["N", 3, 4])], [("y", ["N", 4, 3])])
    assert assert_matches(model, ["Input", "Permute", "ReLU"]).project.graph.nodes()[1].params["dims"] == [0, 2, 1]


def test_an_op_on_a_tensor_with_the_batch_moved_is_refused():
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2]), helper.make_node("Relu", ["t"], ["y"])]
    model = make_model(nodes, [("x", ["N", 3, 4])], [("y", [3, "N", 4])])
    assert "moves the batch dimension away from the front" in refused(model)


def test_squeeze_and_unsqueeze_become_reshapes():
    nodes = [helper.make_node("Unsqueeze", ["x", "a"], ["u"]), helper.make_node("Relu", ["u"], ["r"]),
             helper.make_node("Squeeze", ["r", "a"], ["y"])]
    model = make_model(nodes, [("x", ["N", 3, 4])], [("y", ["N", 3, 4])], [("a", np.array([2], dtype=np.int64))])
    assert_matches(model, ["Input", "Reshape", "ReLU", "Reshape"])


def test_dropout_keeps_its_ratio():
    model = make_model([helper.make_node("Dropout", ["x", "ratio"], ["y"])], [("x", ["N", 4])], [("y", ["N", 4])],
                       [("ratio", np.array(0.25, dtype=np.float32))])
    assert assert_matches(model, ["Input", "Dropout"]).project.graph.nodes()[1].params == {"p": 0.25}


@pytest.mark.parametrize("inputs, reason", [
    ([("x", ["N", "T"])], "every dimension but the first (the batch) must be a fixed size"),
    ([("x", TensorProto.DOUBLE, ["N", 3])], "element type double"),
    ([("x", [])], "has no batch dimension"),
])
def test_inputs_neurocanvas_cannot_take_are_refused(inputs, reason):
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], inputs, [("y", ["N", 3])])
    assert reason in refused(model)


def test_unmapped_operators_are_listed_with_their_counts():
    nodes = [helper.make_node("Erf", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Erf", ["b"], ["c"]), helper.make_node("Cos", ["c"], ["d"]),
             helper.make_node("Relu", ["d"], ["y"])]
    model = make_model(nodes, [("x", ["N", 3])], [("y", ["N", 3])])
    message = refused(model)
    assert "unmapped operators (no Neurocanvas node): Erf (2), Cos (1)" in message
    with pytest.raises(ImportRefused) as error:
        import_onnx(model)
    assert error.value.unmapped == {"Erf": 2, "Cos": 1}


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


def test_an_lstm_that_cannot_be_mapped_gives_a_clear_message():
    lstm = helper.make_node("LSTM", ["x", "w", "r"], ["y"], hidden_size=3, direction="reverse", layout=1)
    model = make_model([lstm], [("x", ["N", 5, 4])], [("y", ["N", 5, 1, 3])],
                       [("w", rand(1, 12, 4)), ("r", rand(1, 12, 3))])
    assert "LSTM 'y': direction 'reverse' has no torch equivalent" in refused(model)


def test_a_loop_is_an_unmapped_operator():
    body = helper.make_graph([helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                              helper.make_node("Relu", ["v_in"], ["v_out"])], "body",
                             [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                              helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                              helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None)],
                             [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                              helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)])
    loop = helper.make_node("Loop", ["trip", "", "x"], ["y"], body=body)
    model = make_model([loop], [("x", ["N", 3])], [("y", ["N", 3])], [("trip", np.array(2, dtype=np.int64))])
    assert "Loop (1)" in refused(model)


def test_mapped_operator_list():
    for op in ("Conv", "ConvTranspose", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool",
               "BatchNormalization", "LayerNormalization", "Relu", "LeakyRelu", "Elu", "Gelu", "Sigmoid", "Tanh",
               "Softmax", "LogSoftmax", "Add", "Mul", "Sum", "Concat", "Flatten", "Reshape", "Transpose",
               "Dropout", "Identity", "Gather", "LSTM", "GRU"):
        assert op in MAPPED_OPERATORS


def test_unreadable_files_are_user_errors(tmp_path):
    from engine.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        import_onnx(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01not a protobuf at all" * 10)
    with pytest.raises(UserError, match="is not .*ONNX model"):
        import_onnx(tmp_path / "junk.onnx")


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


@pytest.mark.parametrize("op, attributes, expected", [
    ("Relu", {}, ("ReLU", {})),
    ("LeakyRelu", {"alpha": 0.2}, ("LeakyReLU", {"negative_slope": 0.2})),
    ("Elu", {"alpha": 0.5}, ("ELU", {"alpha": 0.5})),
    ("Gelu", {"approximate": "tanh"}, ("GELU", {"approximate": "tanh"})),
    ("Sigmoid", {}, ("Sigmoid", {})),
    ("Tanh", {}, ("Tanh", {})),
    ("Softmax", {"axis": 1}, ("Softmax", {"dim": 1})),
    ("LogSoftmax", {"axis": -1}, ("LogSoftmax", {"dim": 2})),
])
def test_each_activation_operator(op, attributes, expected):
    model = make_model([helper.make_node(op, ["x"], ["y"], **attributes)], [("x", ["N", 3, 4])],
                       [("y", ["N", 3, 4])], opset=20)
    node = assert_matches(model, ["Input", expected[0]]).project.graph.node("y")
    assert (node.type, node.params) == expected


def test_a_model_from_torchs_dynamo_exporter():
    """fixtures/dynamo_lstm.onnx was written by torch.onnx.export(dynamo=True, opset 18), which spells things
    differently: Expand for the LSTM's zero state, Shape/Slice/Mul arithmetic, a Reshape of the time-major view."""
    path = Path(__file__).resolve().parent / "fixtures" / "dynamo_lstm.onnx"
    result = import_onnx(path)
    assert types(result) == ["Input", "Reshape", "LSTM", "GELU", "Linear"]
    assert [n.id for n in result.project.graph.nodes()] == ["x", "reshape", "lstm", "gelu", "fc"]
    assert result.project.graph.node("lstm").params["output"] == "last"
    assert verify_import(path, result).difference < 1e-5
