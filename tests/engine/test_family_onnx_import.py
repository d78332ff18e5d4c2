"""The new families come back from ONNX files written by torch's two exporters: the legacy TorchScript one
(`dynamo=False`) and the default torch.export one (`dynamo=True`, with onnxscript). Each imported graph holds
the expected node and reproduces the torch module within 1e-5 on random inputs. Where one exporter writes
something no Neurocanvas node computes, the import is refused with the reason, and the test says so.
ONNX operators torch does not write (LRN, SpaceToDepth, Clip with one bound, other Resize modes) are
checked on hand-built models against onnxruntime."""

import logging
import warnings

import numpy as np
import pytest
import torch
from onnx import helper
from torch import nn

from engine.importers.common import ImportRefused
from engine.importers.onnx_import import import_onnx
from tests.engine.onnx_models import make_model, ort_run, types

# (module, input shape with the batch, the node it imports as)
MODULES = {
    "ReLU6": (nn.ReLU6(), (2, 3, 4, 4), "ReLU6"),
    "Hardtanh": (nn.Hardtanh(-2.0, 0.5), (2, 3, 4, 4), "Hardtanh"),
    "PReLU-channels": (nn.PReLU(3, init=0.1), (2, 3, 4, 4), "PReLU"),
    "PReLU-shared": (nn.PReLU(), (2, 3, 5), "PReLU"),
    "Hardswish": (nn.Hardswish(), (2, 3, 4, 4), "Hardswish"),
    "Hardsigmoid": (nn.Hardsigmoid(), (2, 3, 4, 4), "Hardsigmoid"),
    "Mish": (nn.Mish(), (2, 3, 4, 4), "Mish"),
    "Softplus": (nn.Softplus(), (2, 3, 4, 4), "Softplus"),
    "Softplus-beta": (nn.Softplus(2.0, 5.0), (2, 3, 4, 4), "Softplus"),
    "Softsign": (nn.Softsign(), (2, 3, 4, 4), "Softsign"),
    "SELU": (nn.SELU(), (2, 3, 4, 4), "SELU"),
    "CELU": (nn.CELU(0.5), (2, 3, 4, 4), "CELU"),
    "LogSigmoid": (nn.LogSigmoid(), (2, 3, 4, 4), "LogSigmoid"),
    "GLU": (nn.GLU(1), (2, 4, 3), "GLU"),
    "GLU-last": (nn.GLU(), (2, 3, 6), "GLU"),
    "Softmin": (nn.Softmin(1), (2, 3, 4, 4), "Softmin"),
    "Tanhshrink": (nn.Tanhshrink(), (2, 3, 4, 4), "Tanhshrink"),
    "Threshold": (nn.Threshold(0.5, -1.0), (2, 3, 4, 4), "Threshold"),
    "BatchNorm3d": (nn.BatchNorm3d(3), (2, 3, 4, 4, 4), "BatchNorm3d"),
    "InstanceNorm1d": (nn.InstanceNorm1d(3, affine=True), (2, 3, 5), "InstanceNorm1d"),
    "InstanceNorm2d": (nn.InstanceNorm2d(3), (2, 3, 5, 5), "InstanceNorm2d"),
    "RMSNorm": (nn.RMSNorm([3, 4]), (2, 5, 3, 4), "RMSNorm"),
    "RMSNorm-plain": (nn.RMSNorm(4, eps=1e-3, elementwise_affine=False), (2, 3, 4), "RMSNorm"),
    "Upsample-nearest": (nn.Upsample(scale_factor=2), (2, 3, 4, 4), "Upsample"),
    "Upsample-nearest-size": (nn.Upsample(size=7), (2, 3, 4), "Upsample"),
    "Upsample-linear": (nn.Upsample(scale_factor=1.5, mode="linear"), (2, 3, 4), "Upsample"),
    "Upsample-bilinear": (nn.Upsample(scale_factor=2, mode="bilinear"), (2, 3, 4, 4), "Upsample"),
    "Upsample-bilinear-corners": (nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True), (2, 3, 4, 4),
                                  "Upsample"),
    "Upsample-bicubic": (nn.Upsample(scale_factor=2, mode="bicubic"), (2, 3, 4, 4), "Upsample"),
    "Upsample-trilinear": (nn.Upsample(size=3, mode="trilinear"), (2, 3, 4, 4, 4), "Upsample"),
    "PixelShuffle": (nn.PixelShuffle(2), (2, 8, 3, 3), "PixelShuffle"),
    "ZeroPad1d": (nn.ZeroPad1d((1, 2)), (2, 3, 4), "ZeroPad1d"),
    "ZeroPad2d": (nn.ZeroPad2d((1, 0, 2, 3)), (2, 3, 4, 4), "ZeroPad2d"),
    "ConstantPad1d": (nn.ConstantPad1d(2, -0.5), (2, 3, 4), "ConstantPad1d"),
    "ConstantPad2d": (nn.ConstantPad2d((1, 2, 0, 3), 1.5), (2, 3, 4, 4), "ConstantPad2d"),
    "ReflectionPad1d": (nn.ReflectionPad1d((3, 1)), (2, 3, 4), "ReflectionPad1d"),
    "ReflectionPad2d": (nn.ReflectionPad2d(2), (2, 3, 4, 4), "ReflectionPad2d"),
    "ReplicationPad1d": (nn.ReplicationPad1d((0, 2)), (2, 3, 4), "ReplicationPad1d"),
    "ReplicationPad2d": (nn.ReplicationPad2d((1, 2, 3, 0)), (2, 3, 4, 4), "ReplicationPad2d"),
}
# what an exporter writes that no Neurocanvas node computes: (exporter, case) -> the refusal's words
REFUSED = {
    ("torchscript", "Threshold"): None,  # the legacy exporter cannot write a non-zero threshold at all
    ("torchscript", "RMSNorm"): None, ("torchscript", "RMSNorm-plain"): None,  # nor RMSNorm at opset 17
    ("dynamo", "Upsample-linear"): "GatherND",  # 1-D linear resizing is written as gathers and arithmetic
}

# files an exporter writes that compute something else than the module (the import then follows the file)
INEXACT_FILES = {("torchscript", "Softplus-beta")}  # the TorchScript exporter leaves the threshold out


def _export(module, shape, path, dynamo: bool) -> bool:
    x = torch.randn(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "torch._export"):
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            if dynamo:
                torch.onnx.export(module, (x,), str(path), dynamo=True, external_data=False,
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
            else:
                torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=17, input_names=["x"],
                                  output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
        except Exception:  # noqa: BLE001 - the exporter cannot write it: checked against REFUSED below
            return False
    return True


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
@pytest.mark.parametrize("case", sorted(MODULES))
def test_imports_from_torch_exports_within_1e_5(case, exporter, tmp_path):
    module, shape, type_name = MODULES[case]
    module.eval()
    torch.manual_seed(0)
    if isinstance(module, nn.BatchNorm3d):  # stored statistics away from the defaults
        module.running_mean.uniform_(-1, 1)
        module.running_var.uniform_(0.5, 2)
    for parameter in module.parameters():  # weights away from their initial ones
        parameter.data.uniform_(0.5, 1.5)
    path = tmp_path / "model.onnx"
    exported = _export(module, shape, path, exporter == "dynamo")
    if (exporter, case) in REFUSED:
        words = REFUSED[(exporter, case)]
        if words is None:
            assert not exported
            return
        with pytest.raises(ImportRefused, match=words):
            import_onnx(path)
        return
    assert exported
    result = import_onnx(path)
    assert type_name in types(result)
    assert set(types(result)) == {"Input", type_name}
    for batch in (1, 3):
        x = 3 * torch.randn(batch, *shape[1:])  # wide enough to cross Softplus's and Threshold's thresholds
        with torch.no_grad():
            got = result.compiled.model(x)
        file_output = torch.from_numpy(ort_run(path, {_input_name(path): x.numpy()})[_output_name(path)])
        # relative too: a file's float32 Log(Sigmoid(x)) is off by ~4e-6 of |x| where torch's logsigmoid is not
        assert torch.allclose(got, file_output, atol=1e-5, rtol=1e-5), (got - file_output).abs().max()
        if (exporter, case) not in INEXACT_FILES:
            with torch.no_grad():
                assert torch.allclose(got, module(x), atol=1e-5, rtol=0)


def _input_name(path) -> str:
    import onnx

    return onnx.load(str(path)).graph.input[0].name


def _output_name(path) -> str:
    import onnx

    return onnx.load(str(path)).graph.output[0].name


def _run_both(model, shape, seed=0):
    x = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    result = import_onnx(model)
    with torch.no_grad():
        got = result.compiled.model(torch.from_numpy(x)).numpy()
    return result, got, ort_run(model, {"x": x})["y"]


@pytest.mark.parametrize("size", [3, 5])
def test_onnx_lrn_of_odd_size_imports_as_local_response_norm(size):
    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=0.01, beta=0.6, bias=2.0)
    model = make_model([node], [("x", ["batch", 6, 4, 4])], [("y", ["batch", 6, 4, 4])])
    result, got, want = _run_both(model, (2, 6, 4, 4))
    assert types(result) == ["Input", "LocalResponseNorm"]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_onnx_lrn_of_even_size_is_refused_with_the_reason():
    node = helper.make_node("LRN", ["x"], ["y"], size=4)
    model = make_model([node], [("x", ["batch", 6, 4, 4])], [("y", ["batch", 6, 4, 4])])
    with pytest.raises(ImportRefused, match="size 4 is even"):
        import_onnx(model)


def test_onnx_space_to_depth_of_one_channel_imports_as_pixel_unshuffle():
    node = helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=2)
    model = make_model([node], [("x", ["batch", 1, 4, 6])], [("y", ["batch", 4, 2, 3])])
    result, got, want = _run_both(model, (2, 1, 4, 6))
    assert types(result) == ["Input", "PixelUnshuffle"]
    np.testing.assert_allclose(got, want, atol=1e-6)
    node = helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=2)
    model = make_model([node], [("x", ["batch", 2, 4, 6])], [("y", ["batch", 8, 2, 3])])
    with pytest.raises(ImportRefused, match="only for one input channel"):
        import_onnx(model)


@pytest.mark.parametrize(("bounds", "type_name"), [((0.0, None), "ReLU"), ((-3.0, 2.0), "Hardtanh"),
                                                   ((0.0, 6.0), "ReLU6")])
def test_onnx_clip_with_constant_bounds(bounds, type_name):
    low, high = bounds
    names = ["x", "low", "high" if high is not None else ""]
    initializers = [("low", np.float32(low))] + ([("high", np.float32(high))] if high is not None else [])
    model = make_model([helper.make_node("Clip", names, ["y"])], [("x", ["batch", 3, 4])],
                       [("y", ["batch", 3, 4])], initializers)
    result, got, want = _run_both(model, (2, 3, 4))
    assert types(result) == ["Input", type_name]
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize(("node", "words"), [
    (helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="DCR"), "mode DCR"),
    (helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest",
                      coordinate_transformation_mode="half_pixel"), "torch's nearest is asymmetric with floor"),
    (helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear",
                      coordinate_transformation_mode="tf_crop_and_resize"), "has no torch equivalent"),
    (helper.make_node("Pad", ["x", "pads"], ["y"], mode="wrap"), "mode 'wrap'"),
    (helper.make_node("Pad", ["x", "batch_pads"], ["y"], mode="edge"), "pad the batch dimension"),
    (helper.make_node("HardSigmoid", ["x"], ["y"], alpha=0.2), "torch's Hardsigmoid is alpha=1/6"),
])
def test_onnx_operators_torch_cannot_match_are_refused_with_the_reason(node, words):
    initializers = [("scales", np.array([1, 1, 2, 2], np.float32)), ("pads", np.array([0, 0, 0, 1, 0, 0, 0, 1])),
                    ("batch_pads", np.array([1, 0, 0, 0, 0, 0, 0, 0]))]
    used = [(name, value) for name, value in initializers if name in node.input]
    model = make_model([node], [("x", ["batch", 4, 4, 4])], [("y", ["batch", "c", "h", "w"])], used)
    with pytest.raises(ImportRefused, match=words):
        import_onnx(model)


@pytest.mark.parametrize(("node", "opset", "type_name"), [
    (helper.make_node("Upsample", ["x", "scales"], ["y"], mode="nearest"), 9, "Upsample"),
    (helper.make_node("Resize", ["x", "scales"], ["y"], mode="nearest"), 10, "Upsample"),
    (helper.make_node("Pad", ["x"], ["y"], pads=[0, 0, 1, 2, 0, 0, 3, 0], mode="edge"), 10, "ReplicationPad2d"),
    (helper.make_node("Pad", ["x"], ["y"], pads=[0, 0, 0, 1, 0, 0, 0, 2], value=2.5), 10, "ConstantPad1d"),
])
def test_older_opsets_spell_resizing_and_padding_with_attributes(node, opset, type_name):
    initializers = [("scales", np.array([1, 1, 3, 3], np.float32))] if "scales" in node.input else []  # 3: floor vs round
    model = make_model([node], [("x", ["batch", 3, 4, 5])], [("y", ["batch", "c", "h", "w"])], initializers,
                       opset=opset)
    result, got, want = _run_both(model, (2, 3, 4, 5))
    assert types(result) == ["Input", type_name]
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("axis", [-1, 2])
def test_onnx_rms_normalization_imports_as_rms_norm(axis):
    scale = np.random.default_rng(0).normal(size=5).astype(np.float32)  # broadcast over the normalised dims
    node = helper.make_node("RMSNormalization", ["x", "scale"], ["y"], axis=axis, epsilon=1e-4)
    model = make_model([node], [("x", ["batch", 3, 4, 5])], [("y", ["batch", 3, 4, 5])], [("scale", scale)],
                       opset=23)
    result, got, want = _run_both(model, (2, 3, 4, 5))
    assert types(result) == ["Input", "RMSNorm"]
    assert result.project.graph.node(next(n.id for n in result.project.graph.nodes() if n.type == "RMSNorm")) \
        .params["normalized_dims"] == (1 if axis == -1 else 2)
    np.testing.assert_allclose(got, want, atol=1e-5)


def _rms_nodes(weight_name="w"):
    nodes = [helper.make_node("Pow", ["x", "two"], ["p"]), helper.make_node("ReduceMean", ["p", "axes"], ["m"]),
             helper.make_node("Add", ["m", "eps"], ["a"]), helper.make_node("Sqrt", ["a"], ["s"]),
             helper.make_node("Reciprocal", ["s"], ["r"]), helper.make_node("Mul", ["x", "r"], ["n"]),
             helper.make_node("Mul", ["n", weight_name], ["y"])]
    constants = [("two", np.float32(2.0)), ("axes", np.array([-1])), ("eps", np.float32(1e-3)),
                 ("w", np.linspace(0.5, 1.5, 5, dtype=np.float32).reshape(1, 1, 5))]
    return nodes, constants


def test_an_rms_norm_written_out_with_a_weight_broadcast_over_the_batch_imports_as_rms_norm():
    nodes, constants = _rms_nodes()
    model = make_model(nodes, [("x", ["batch", 3, 5])], [("y", ["batch", 3, 5])], constants, opset=18)
    result, got, want = _run_both(model, (2, 3, 5))
    assert types(result) == ["Input", "RMSNorm"]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_an_rms_norm_whose_inner_value_is_read_elsewhere_is_not_fused():
    nodes, constants = _rms_nodes(weight_name="r")  # the reciprocal is read twice: no RMSNorm computes that
    model = make_model(nodes, [("x", ["batch", 3, 5])], [("y", ["batch", 3, 5])], constants, opset=18)
    try:
        result, got, want = _run_both(model, (2, 3, 5))
    except ImportRefused as refusal:  # the parts have no nodes of their own (Reciprocal)
        assert "Reciprocal" in str(refusal)
        return
    assert "RMSNorm" not in types(result)  # imported part by part, where the tensor operations have nodes
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(("transform", "sizes", "same"), [
    ("half_pixel", [2, 3, 1, 5], True), ("pytorch_half_pixel", [2, 3, 6, 5], True),
    ("pytorch_half_pixel", [2, 3, 1, 5], False), ("align_corners", [2, 3, 6, 1], True),
])
def test_onnx_linear_resizing_maps_its_coordinate_transformation_to_align_corners(transform, sizes, same):
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear",
                            coordinate_transformation_mode=transform)
    model = make_model([node], [("x", [2, 3, 4, 4])], [("y", sizes)], [("sizes", np.array(sizes))])
    if not same:
        with pytest.raises(ImportRefused, match="an output of size 1 at the first pixel"):
            import_onnx(model)
        return
    result, got, want = _run_both(model, (2, 3, 4, 4))
    assert types(result) == ["Input", "Upsample"]
    np.testing.assert_allclose(got, want, atol=1e-5)
