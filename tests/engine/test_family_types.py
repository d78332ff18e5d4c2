"""The activations, normalisation and resampling families (graphs/families/) go through every export and
the torch.fx importer: ONNX (checked and run in onnxruntime at two batch sizes against torch), Python (the
generated file rebuilds the model exactly), the palette and the inspector, and the functional spellings a
hand-written forward uses (F.relu6, F.interpolate, F.pad, ...). Shapes, parameter counts and the compiled
forward are checked against torch in tests/engine/test_shape_property.py (cases in family_cases.py);
imports of ONNX files from torch's exporters in test_family_onnx_import.py."""

import pytest
import torch
import torch.nn.functional as F

from engine.export import export_onnx, prepare_model, verify_onnx
from engine.shape_rules import TensorSpec, infer_node
from graphs import Graph
from graphs.errors import ShapeError
from graphs.families import activations, normalisation, resampling
from tests.engine.export_checks import assert_python_rebuilds_the_model

FAMILY_TYPES = [t.name for t in (*activations.TYPES, *normalisation.TYPES, *resampling.TYPES)]
# each type with params away from the defaults (where it has any), and the input it takes
CASES = {
    "ReLU6": ({}, [3, 4, 4]), "Hardswish": ({}, [3, 4, 4]), "Hardsigmoid": ({}, [3, 4, 4]), "Mish": ({}, [6]),
    "Softsign": ({}, [6]), "SELU": ({}, [6]), "LogSigmoid": ({}, [6]), "Tanhshrink": ({}, [6]),
    "Identity": ({}, [6]),
    "PReLU": ({"num_parameters": None, "init": 0.1}, [3, 4, 4]),
    "Hardtanh": ({"min_val": -2.0, "max_val": 0.5}, [3, 4, 4]),
    "Softplus": ({"beta": 2.0, "threshold": 5.0}, [3, 4, 4]),
    "CELU": ({"alpha": 0.5}, [6]), "GLU": ({"dim": 1}, [4, 3]), "Softmin": ({"dim": 1}, [4, 3]),
    "Threshold": ({"threshold": 0.5, "value": -1.0}, [3, 4, 4]),
    "BatchNorm3d": ({"eps": 1e-3, "momentum": 0.2}, [3, 2, 4, 4]),
    "InstanceNorm1d": ({"affine": True}, [3, 5]),
    "InstanceNorm2d": ({"affine": True, "eps": 1e-3}, [3, 4, 5]),
    "RMSNorm": ({"normalized_dims": 2, "eps": 1e-4}, [3, 4, 5]),
    "LocalResponseNorm": ({"size": 3, "alpha": 0.01, "beta": 0.5, "k": 2.0}, [6, 4, 4]),
    "Dropout1d": ({"p": 0.3}, [3, 5]), "Dropout3d": ({"p": 0.3}, [3, 2, 4, 4]), "AlphaDropout": ({"p": 0.3}, [6]),
    "Upsample": ({"scale_factor": None, "size": [6, 7], "mode": "bilinear", "align_corners": True}, [3, 4, 4]),
    "PixelShuffle": ({"upscale_factor": 2}, [8, 3, 3]),
    "PixelUnshuffle": ({"downscale_factor": 2}, [2, 4, 6]),
    "ZeroPad1d": ({"padding": [1, 2]}, [3, 4]), "ZeroPad2d": ({"padding": [1, 0, 2, 3]}, [3, 4, 4]),
    "ConstantPad1d": ({"padding": 2, "value": -0.5}, [3, 4]),
    "ConstantPad2d": ({"padding": [1, 2, 0, 3], "value": 1.5}, [3, 4, 4]),
    "ReflectionPad1d": ({"padding": [3, 1]}, [3, 4]), "ReflectionPad2d": ({"padding": 2}, [3, 4, 4]),
    "ReplicationPad1d": ({"padding": [0, 2]}, [3, 4]), "ReplicationPad2d": ({"padding": [1, 2, 3, 0]}, [3, 4, 4]),
}


def test_every_family_type_has_a_case_here():
    assert set(CASES) == set(FAMILY_TYPES)


def model_graph(type_name: str) -> Graph:
    params, shape = CASES[type_name]
    graph = Graph()
    graph.add_node("Input", {"shape": shape}, "x")
    graph.add_node(type_name, params, "layer")
    graph.add_node("Flatten", {}, "flat")
    graph.connect("x", "layer")
    graph.connect("layer", "flat")
    return graph


@pytest.mark.parametrize("type_name", sorted(CASES))
def test_exports_to_onnx_that_runs_in_onnxruntime_like_torch(type_name, tmp_path):
    compiled = prepare_model(model_graph(type_name), seed=0)
    export_onnx(compiled, tmp_path / "model.onnx")
    for batch in (1, 4):
        assert verify_onnx(compiled, tmp_path / "model.onnx", batch=batch, seed=batch) < 1e-5


@pytest.mark.parametrize("type_name", sorted(CASES))
def test_exports_to_python_that_rebuilds_the_model_exactly(type_name, tmp_path):
    code, rebuilt = assert_python_rebuilds_the_model(model_graph(type_name), tmp_path)
    assert f"self.layer = nn.{type_name}(" in code
    assert isinstance(rebuilt.layer, getattr(torch.nn, type_name))


def test_the_palette_and_the_inspector_offer_them(qtbot):
    from graphs.catalogue import CATALOGUE
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
            for value in (params.get(spec.name, spec.default), spec.default):
                editor.set_value(value)
                assert editor.value() == value


def test_an_optional_float_can_be_set_to_none_and_back_in_the_inspector(qtbot):
    from graphs.catalogue import CATALOGUE
    from gui.param_widgets import make_editor

    editor = make_editor(CATALOGUE["RMSNorm"].param("eps"))
    qtbot.addWidget(editor)
    editor.set_value(1e-3)
    with qtbot.waitSignal(editor.committed):
        editor.none_box.setChecked(True)
    assert editor.value() is None and not editor.spin.isEnabled()
    editor.none_box.setChecked(False)
    assert editor.value() == pytest.approx(1e-3)


@pytest.mark.parametrize(("type_name", "params", "shape", "words"), [
    ("Upsample", {"size": [4, 4], "scale_factor": 2.0}, [3, 4, 4], "exactly one of size and scale_factor"),
    ("Upsample", {"size": None, "scale_factor": None}, [3, 4, 4], "needs size or scale_factor"),
    ("Upsample", {"align_corners": True}, [3, 4, 4], "turn align_corners off for mode 'nearest'"),
    ("Upsample", {"mode": "bilinear"}, [3, 4], r"in mode 'bilinear' expects input \[C, H, W\]"),
    ("Upsample", {"mode": "trilinear"}, [3, 4, 4], r"expects input \[C, D, H, W\]"),
    ("Upsample", {"scale_factor": None, "size": [4, 4]}, [3, 4, 4, 4], "give one size or 3"),
    ("ReflectionPad2d", {"padding": 4}, [3, 4, 8], "torch needs it smaller than the input"),
    ("PixelShuffle", {"upscale_factor": 3}, [8, 3, 3], "divisible by upscale_factor squared"),
    ("PixelUnshuffle", {"downscale_factor": 3}, [2, 4, 6], "divisible by downscale_factor"),
    ("PReLU", {"num_parameters": 4}, [3, 5], "has 3 channels"),
    ("GLU", {"dim": -1}, [3, 5], "which is odd"),
    ("Hardtanh", {"min_val": 1.0, "max_val": 1.0}, [3], "needs max_val > min_val"),
    ("InstanceNorm2d", {}, [3, 1, 1], "only one per channel"),
    ("ZeroPad2d", {"padding": 1}, [5], "would pad the batch"),
])
def test_impossible_params_are_refused_as_torch_would(type_name, params, shape, words):
    from graphs.catalogue import CATALOGUE

    with pytest.raises(ShapeError, match=words) as caught:
        infer_node("n", type_name, CATALOGUE[type_name].resolve_params(params), {"in": TensorSpec(tuple(shape))})
    assert caught.value.node == "n" and type_name in caught.value.message


class _Functional(torch.nn.Module):
    """The functional spellings of the new types, as a model written by hand would use them."""

    def forward(self, x, seq):
        x = F.relu6(F.hardswish(x))
        x = F.hardsigmoid(F.mish(x)) + F.softplus(x, beta=2.0, threshold=5.0)
        x = F.hardtanh(F.selu(x), -2.0, 2.0)
        x = F.celu(F.softsign(x), alpha=0.5)
        x = F.threshold(F.tanhshrink(F.logsigmoid(x)), 0.1, -1.0)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.pad(x, (1, 2, 0, 1), mode="reflect")
        x = F.pad(x, (1, 1), value=0.5)
        x = F.pixel_shuffle(F.local_response_norm(x, 3), 1)
        x = F.glu(x, dim=1)
        seq = F.softmin(F.pad(seq, (2, 0), mode="replicate"), dim=-1)
        seq = F.interpolate(seq, size=9, mode="nearest")
        return x.flatten(1), seq.flatten(1)


def test_functional_calls_import_from_torch_fx():
    from engine.importers.torch_import import import_module, verify_module_import

    module = _Functional()
    result = import_module(module, [(4, 5, 6), (3, 7)])
    found = [n.type for n in result.project.graph.nodes()]
    for type_name in ("ReLU6", "Hardswish", "Hardsigmoid", "Mish", "Softplus", "Hardtanh", "SELU", "CELU",
                      "Softsign", "Threshold", "Tanhshrink", "LogSigmoid", "Upsample", "ReflectionPad2d",
                      "ConstantPad1d", "PixelShuffle", "LocalResponseNorm", "GLU", "ReplicationPad1d", "Softmin"):
        assert type_name in found, type_name
    assert verify_module_import(module, result).ok


@pytest.mark.parametrize(("call", "words"), [
    (lambda x: F.pad(x, (1, 1), mode="circular"), "mode 'circular' has no Neurocanvas pad node"),
    (lambda x: F.pad(x, (1, 1, 1, 1, 1, 1)), "the pad nodes pad the last 1 or 2"),
    (lambda x: F.interpolate(x, scale_factor=(2.0, 3.0)), "differs between dims"),
    (lambda x: F.interpolate(x, scale_factor=2.0, mode="area"), "mode 'area' has no Neurocanvas equivalent"),
    (lambda x: F.interpolate(x, scale_factor=2.0, mode="bilinear", antialias=True), "antialias=True"),
    (lambda x: F.softmin(x), "give dim explicitly"),
])
def test_functional_calls_torch_cannot_map_are_refused_with_the_reason(call, words):
    from engine.importers.common import ImportRefused
    from engine.importers.torch_import import import_module

    class Model(torch.nn.Module):
        def forward(self, x):
            return call(x).flatten(1)

    with pytest.raises(ImportRefused, match=words):
        import_module(Model(), [(3, 4, 4)])


def test_softplus_with_a_low_threshold_is_written_by_the_dynamo_exporter_only(tmp_path):
    from engine.export.model import ExportError

    compiled = prepare_model(model_graph("Softplus"), seed=0)
    result = export_onnx(compiled, tmp_path / "model.onnx")
    assert result.exporter == "dynamo"
    assert "leaves out Softplus's threshold (5) on node 'layer'" in result.fallback_reason
    with pytest.raises(ExportError, match="leaves out Softplus's threshold"):
        export_onnx(compiled, tmp_path / "legacy.onnx", exporter="torchscript")
    assert not (tmp_path / "legacy.onnx").exists()
