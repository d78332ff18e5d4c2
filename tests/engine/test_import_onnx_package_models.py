"""ONNX import of models we did not write: the onnx package's own test data, compared with its stored
outputs or with onnxruntime, and the models in it that must be refused, each with its reason."""

import glob
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from engine.importers.common import ImportRefused
from engine.importers.onnx_import import import_onnx
from tests.engine.onnx_models import ort_run

ONNX_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"


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
        "softmax_lastdim", "AvgPool3d", "AvgPool3d_stride", "AvgPool3d_stride1_pad0_gpu_input", "Conv3d",
        "Conv3d_dilated", "Conv3d_dilated_strided", "Conv3d_groups", "Conv3d_no_bias", "Conv3d_stride",
        "Conv3d_stride_padding", "MaxPool3d", "MaxPool3d_stride", "MaxPool3d_stride_padding",
        "BatchNorm3d_eval", "ConstantPad2d", "PReLU_2d", "SELU", "Softplus", "GLU", "Softmin")),
    *(f"pytorch-operator/test_operator_{name}" for name in (
        "concat2", "conv", "convtranspose", "flatten", "maxpool", "permute2", "view", "reduced_mean",
        "symbolic_override")),  # InstanceNormalization
    "simple/test_single_relu_model",
]

# Models the importer must refuse, with (part of) the reason it gives.
BACKEND_REFUSED = {
    "pytorch-operator/test_operator_add_broadcast": "element type double",
    "pytorch-operator/test_operator_mm": "must share their first (batch) dimension",
    "pytorch-operator/test_operator_non_float_params": "the constant of shape [2, 2] differs along the batch",
    "pytorch-operator/test_operator_index": "it slices the batch",
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


@pytest.mark.parametrize("name", ["squeezenet", "shufflenet", "bvlc_alexnet"])
def test_real_architecture_from_the_onnx_package_matches_onnxruntime(name):
    """SqueezeNet (Concat, Dropout, GlobalAveragePool), ShuffleNet (channel shuffle as Reshape/Transpose/Reshape,
    Sum residuals, BatchNorm, Gemm) and AlexNet (LRN) on 224x224 images, weights drawn at random. (resnet50, densenet121 and
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

