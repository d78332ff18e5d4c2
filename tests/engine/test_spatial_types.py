"""The convolutions and pools over 1, 2 and 3 spatial dims, each one catalogue entry plus one op entry, go
through every export: ONNX (checked and run in onnxruntime at two batch sizes against torch) and Python
(the generated file rebuilds the model exactly). Shapes, parameter counts and the compiled forward are
checked against torch in tests/engine/test_shape_property.py; imports in tests/engine/test_op_coverage.py."""

import pytest
import torch
import torch.nn.functional as F

from graphs import Graph
from tests.engine.export_checks import assert_onnx_runs_like_torch, assert_python_rebuilds_the_model

# each type with params away from the defaults, on a channels-first input of its rank
CASES = {
    "Conv3d": ({"out_channels": 4, "kernel_size": [3, 1, 2], "stride": [1, 2, 1], "padding": 1, "groups": 2}, 3),
    "ConvTranspose1d": ({"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}, 1),
    "ConvTranspose3d": ({"out_channels": 3, "kernel_size": 2, "stride": [2, 1, 2], "dilation": [1, 2, 1]}, 3),
    "MaxPool3d": ({"kernel_size": 2, "stride": [2, 1, 2], "padding": 1, "ceil_mode": True}, 3),
    "AvgPool1d": ({"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}, 1),
    "AvgPool3d": ({"kernel_size": [2, 3, 2], "stride": 1, "padding": [1, 1, 0]}, 3),
    "AdaptiveAvgPool1d": ({"output_size": 3}, 1),
    "AdaptiveAvgPool3d": ({"output_size": [2, 3, 1]}, 3),
    "AdaptiveMaxPool1d": ({"output_size": 2}, 1),
    "AdaptiveMaxPool2d": ({"output_size": [3, 2]}, 2),
    "AdaptiveMaxPool3d": ({"output_size": [1, 2, 3]}, 3),
}
SIZES = {1: [4, 12], 2: [4, 6, 6], 3: [4, 4, 6, 6]}  # divisible by the adaptive output sizes above


def model_graph(type_name: str) -> Graph:
    params, rank = CASES[type_name]
    graph = Graph()
    graph.add_node("Input", {"shape": SIZES[rank]}, "x")
    graph.add_node(type_name, params, "layer")
    graph.add_node("Flatten", {}, "flat")
    graph.connect("x", "layer")
    graph.connect("layer", "flat")
    return graph


@pytest.mark.parametrize("type_name", sorted(CASES))
def test_exports_to_onnx_that_runs_in_onnxruntime_like_torch(type_name, tmp_path):
    assert_onnx_runs_like_torch(model_graph(type_name), tmp_path)


@pytest.mark.parametrize("type_name", sorted(CASES))
def test_exports_to_python_that_rebuilds_the_model_exactly(type_name, tmp_path):
    code, rebuilt = assert_python_rebuilds_the_model(model_graph(type_name), tmp_path)
    assert f"self.layer = nn.{type_name}(" in code
    assert "        layer = self.layer(x)\n" in code
    assert isinstance(rebuilt.layer, getattr(torch.nn, type_name))


def test_the_palette_and_the_inspector_offer_them(qtbot):
    from graphs.catalogue import CATALOGUE
    from gui.palette import Palette
    from gui.param_widgets import make_editor

    palette = Palette()
    qtbot.addWidget(palette)
    for type_name in CASES:
        item = palette.item(type_name)
        assert item.parent().text(0) == CATALOGUE[type_name].category
        for spec in CATALOGUE[type_name].params:
            editor = make_editor(spec)
            qtbot.addWidget(editor)
            editor.set_value(CASES[type_name][0].get(spec.name, spec.default))
            assert editor.value() == CASES[type_name][0].get(spec.name, spec.default)


class _FunctionalPools(torch.nn.Module):
    """The functional spellings of the new pools, as a model written by hand would use them."""

    def forward(self, x, seq):
        x = F.max_pool3d(x, 2, stride=1, padding=1)
        x = F.avg_pool3d(x, kernel_size=2, ceil_mode=True)
        x = F.adaptive_avg_pool3d(x, (2, 1, 2))
        x = F.adaptive_max_pool3d(x, 1)
        seq = F.avg_pool1d(seq, 3, 2, 1, count_include_pad=False)
        seq = F.adaptive_max_pool1d(seq, 2)
        seq = F.adaptive_avg_pool1d(seq, 1)
        return x.flatten(1) + seq.flatten(1)


def test_functional_pools_import_from_torch_fx():
    from engine.importers.torch_import import import_module, verify_module_import

    module = _FunctionalPools()
    result = import_module(module, [(4, 5, 6, 6), (4, 9)])
    assert [n.type for n in result.project.graph.nodes() if n.type.endswith(("Pool1d", "Pool3d"))] == [
        "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool3d",
        "AvgPool1d", "AdaptiveMaxPool1d", "AdaptiveAvgPool1d"]
    assert verify_module_import(module, result).ok


def test_pools_returning_indices_are_refused():
    from engine.importers.common import ImportRefused
    from engine.importers.torch_import import import_module

    class Indices(torch.nn.Module):
        def forward(self, x):
            return F.adaptive_max_pool2d(x, 2, return_indices=True)[0]

    with pytest.raises(ImportRefused, match="adaptive_max_pool2d_with_indices"):  # fx traces the indices variant
        import_module(Indices(), [(3, 4, 4)])
    with pytest.raises(ImportRefused, match="return_indices=True is not imported"):
        import_module(torch.nn.Sequential(torch.nn.AdaptiveMaxPool3d(2, return_indices=True)), [(3, 4, 4, 4)])


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("operator", ["GlobalMaxPool", "GlobalAveragePool"])
def test_onnx_global_pools_import_as_adaptive_pools_of_their_rank(operator, rank):
    import numpy as np
    from onnx import helper

    from engine.importers.onnx_import import import_onnx
    from tests.engine.onnx_models import make_model, ort_run, types

    spatial = [5, 4, 3][:rank]
    model = make_model([helper.make_node(operator, ["x"], ["y"])], [("x", ["batch", 2, *spatial])],
                       [("y", ["batch", 2, *[1] * rank])])
    result = import_onnx(model)
    kind = "Max" if operator == "GlobalMaxPool" else "Avg"
    assert types(result) == ["Input", f"Adaptive{kind}Pool{rank}d"]
    x = np.random.default_rng(rank).normal(size=(3, 2, *spatial)).astype(np.float32)
    with torch.no_grad():
        got = result.compiled.model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ort_run(model, {"x": x})["y"], atol=1e-6)
