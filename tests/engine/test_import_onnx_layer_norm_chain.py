"""Layer normalisation written out as separate ONNX ops (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div,
then Mul(gamma), Add(beta)) imports as one LayerNorm with the file's eps and weights, checked against
onnxruntime; chains that only look alike map op by op."""

import numpy as np
import pytest
from onnx import helper

from engine.importers.onnx_import import import_onnx, verify_import
from tests.engine.onnx_models import make_model, types


def rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def mean(inp, out, axes, opset, name):
    """A keepdims ReduceMean: axes as the attribute before opset 18, as an input from 18 on."""
    if opset >= 18:
        return [helper.make_node("ReduceMean", [inp, f"{name}_axes"], [out], keepdims=1)], \
            [(f"{name}_axes", np.asarray(axes, dtype=np.int64))]
    return [helper.make_node("ReduceMean", [inp], [out], axes=axes, keepdims=1)], []


def layer_norm_model(opset=13, shape=(5, 8), axes=(-1,), var_axes=None, eps=1e-6, gamma=None, beta=None,
                     square="Pow"):
    mean_nodes, inits = mean("x", "mu", list(axes), opset, "m1")
    var_nodes, var_inits = mean("sq", "var", list(var_axes or axes), opset, "m2")
    squaring = (helper.make_node("Pow", ["d", "two"], ["sq"]) if square == "Pow"
                else helper.make_node("Mul", ["d", "d"], ["sq"]))
    last = "norm"
    nodes = [*mean_nodes, helper.make_node("Sub", ["x", "mu"], ["d"]), squaring, *var_nodes,
             helper.make_node("Add", ["var", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["std"]),
             helper.make_node("Div", ["d", "std"], [last])]
    inits += var_inits + [("two", np.float32(2.0)), ("eps", np.float32(eps))]
    if gamma is not None:
        nodes.append(helper.make_node("Mul", [last, "gamma"], ["scaled"]))
        inits.append(("gamma", gamma))
        last = "scaled"
    if beta is not None:
        nodes.append(helper.make_node("Add", ["beta", last], ["shifted"]))
        inits.append(("beta", beta))
        last = "shifted"
    nodes[-1].output[0] = "y"
    return make_model(nodes, [("x", ["N", *shape])], [("y", ["N", *shape])], inits, opset=opset)


def imported(model):
    result = import_onnx(model)
    check = verify_import(model, result, batch=3)
    assert check is not None and check.difference < 1e-5, check
    return result


@pytest.mark.parametrize("opset", [13, 18])
def test_written_out_layer_norm_with_gamma_and_beta_is_one_layer_norm(opset):
    gamma, beta = rand(8, seed=1), rand(8, seed=2)
    result = imported(layer_norm_model(opset, eps=1e-6, gamma=gamma, beta=beta))
    assert types(result) == ["Input", "LayerNorm"]
    node = result.project.graph.node("y")
    assert node.params == {"normalized_dims": 1, "eps": 1e-6, "elementwise_affine": True, "bias": True}
    np.testing.assert_array_equal(result.weights["y.weight"].numpy(), gamma)
    np.testing.assert_array_equal(result.weights["y.bias"].numpy(), beta)


@pytest.mark.parametrize("opset", [13, 18])
def test_layer_norm_over_two_trailing_axes_squared_by_mul(opset):
    gamma = rand(4, 6, seed=3)
    result = imported(layer_norm_model(opset, shape=(3, 4, 6), axes=(-2, -1), eps=1e-5, gamma=gamma,
                                       beta=rand(6, seed=4), square="Mul"))
    assert types(result) == ["Input", "LayerNorm"]
    assert result.project.graph.node("y").params["normalized_dims"] == 2
    np.testing.assert_array_equal(result.weights["y.weight"].numpy(), gamma)
    np.testing.assert_array_equal(result.weights["y.bias"].numpy(), np.broadcast_to(rand(6, seed=4), (4, 6)))


def test_positive_axes_on_a_graph_input_are_trailing_axes():
    result = imported(layer_norm_model(13, shape=(5, 8), axes=(2,), gamma=rand(8, seed=1)))
    assert types(result) == ["Input", "LayerNorm"]


def test_gamma_only_is_a_layer_norm_without_bias():
    gamma = rand(8, seed=5)
    result = imported(layer_norm_model(13, gamma=gamma))
    assert types(result) == ["Input", "LayerNorm"]
    assert result.project.graph.node("y").params == {"normalized_dims": 1, "eps": 1e-6,
                                                      "elementwise_affine": True, "bias": False}
    np.testing.assert_array_equal(result.weights["y.weight"].numpy(), gamma)
    assert "y.bias" not in result.weights


def test_no_gamma_or_beta_is_a_layer_norm_without_affine():
    result = imported(layer_norm_model(18, eps=1e-5))
    assert types(result) == ["Input", "LayerNorm"]
    assert result.project.graph.node("y").params == {"normalized_dims": 1, "eps": 1e-5,
                                                      "elementwise_affine": False, "bias": False}
    assert not [k for k in result.weights if k.startswith("y.")]


def test_beta_only_is_a_layer_norm_with_unit_weight():
    beta = rand(1, 1, 8, seed=7)
    result = imported(layer_norm_model(13, beta=beta))
    assert types(result) == ["Input", "LayerNorm"]
    assert result.project.graph.node("y").params["bias"] is True
    np.testing.assert_array_equal(result.weights["y.weight"].numpy(), np.ones(8, np.float32))
    np.testing.assert_array_equal(result.weights["y.bias"].numpy(), beta.reshape(8))


def test_positive_axes_of_a_computed_value_use_its_inferred_rank():
    model = layer_norm_model(13, axes=(2,), gamma=rand(8, seed=1))
    model.graph.node.insert(0, helper.make_node("Relu", ["x"], ["r"]))
    for node in model.graph.node[1:]:
        node.input[:] = ["r" if i == "x" else i for i in node.input]
    assert types(imported(model)) == ["Input", "ReLU", "LayerNorm"]


def test_gamma_over_other_axes_stays_a_separate_multiply():
    gamma = rand(5, 1, seed=6)  # one scale per row, not per normalised element
    result = imported(layer_norm_model(13, gamma=gamma))
    assert types(result) == ["Input", "LayerNorm", "Parameter", "Multiply"]
    assert result.project.graph.nodes()[1].params["elementwise_affine"] is False


@pytest.mark.parametrize("opset", [13, 18])
def test_variance_over_another_axis_is_not_fused(opset):
    model = layer_norm_model(opset, shape=(5, 8), axes=(-1,), var_axes=(-2,), gamma=rand(8, seed=1))
    # op by op, as before: the first mean (over the last axis of [N, 5, 8]) is an AdaptiveAvgPool1d
    assert types(imported(model)) == ["Input", "AdaptiveAvgPool1d", "Subtract", "Pow", "Mean", "Scale", "Sqrt",
                                      "Divide", "Parameter", "Multiply"]


def test_inner_value_used_elsewhere_is_not_fused():
    model = layer_norm_model(13, gamma=rand(8, seed=1))
    model.graph.output.append(helper.make_tensor_value_info("mu", 1, ["N", 5, 1]))
    assert types(imported(model)) == ["Input", "AdaptiveAvgPool1d", "Subtract", "Pow", "AdaptiveAvgPool1d", "Scale",
                                      "Sqrt", "Divide", "Parameter", "Multiply", "Reshape"]
