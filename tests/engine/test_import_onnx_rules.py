"""ONNX import mapping rules, one small hand-built model each, checked against onnxruntime: folding,
reshapes, padding, views, activations, and the refusals that list what cannot be mapped."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from engine.importers.common import ImportRefused
from engine.importers.onnx_import import MAPPED_OPERATORS, import_onnx, verify_import
from tests.engine.onnx_models import make_model, types


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


def test_a_constant_that_no_layer_can_absorb_becomes_a_parameter_and_one_along_the_batch_is_refused():
    model = make_model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "c"], ["y"])],
                       [("x", ["N", 4])], [("y", ["N", 4])], [("c", rand(4))])
    result = assert_matches(model)
    assert [n.type for n in result.project.graph.nodes()] == ["Input", "ReLU", "Parameter", "Add"]
    model = make_model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "c"], ["y"])],
                       [("x", ["N", 4])], [("y", ["N", 4])], [("c", rand(3, 4))])
    assert "Add 'y': the constant of shape [3, 4] differs along the batch" in refused(model)


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


def test_an_output_also_used_inside_the_model_gets_a_node_of_its_own():
    """A model's outputs are its sinks: an output other nodes read (a VAE's mu) is passed through a Reshape."""
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Sigmoid", ["a"], ["b"])]
    model = make_model(nodes, [("x", ["N", 3])], [("a", ["N", 3]), ("b", ["N", 3])])
    result = assert_matches(model, ["Input", "ReLU", "Reshape", "Sigmoid"])  # the outputs in their order
    graph = result.project.graph
    assert graph.node(result.outputs["a"]).params == {"shape": [3]} and graph.node("a").type == "ReLU"
    assert result.compiled.outputs == [result.outputs["a"], result.outputs["b"]]


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
