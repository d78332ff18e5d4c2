"""The tensor and arithmetic types come back from imports: torch.fx (a module's own tensors as Parameter
nodes holding their values, constant arithmetic as Scale, indexing, split/chunk, reductions...) and ONNX
(files written by torch's legacy exporter and by its default dynamo exporter), each reproducing the
original within 1e-5."""

import pytest
import torch
from torch import nn

from engine.importers.common import ImportRefused
from engine.importers.torch_import import import_module, verify_module_import


class TokenMixer(nn.Module):
    """Class token, positional embedding, a buffer, attention-like products and most tensor calls."""

    def __init__(self):
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, 8))
        self.pos_embed = nn.Parameter(torch.randn(1, 5, 8))
        self.register_buffer("gain", torch.rand(8) + 0.5)
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        cls = self.cls_token.expand(x.size(0), -1, -1)
        x = torch.cat([cls, self.proj(x)], dim=1) + self.pos_embed
        x = x * self.gain
        q, k = x.chunk(2, dim=-1)
        scores = torch.exp((q @ k.transpose(-2, -1)) / 2.0).sum(dim=-1, keepdim=True)
        first, rest = torch.split(x, [1, 4], dim=1)
        y = 0.5 * x[:, 0] + 1 - x.mean(1) + torch.clamp(x[:, 1:3].amax(1), min=-0.5)
        z = torch.stack([y, y.abs().sqrt()], dim=1).unsqueeze(1).squeeze(1)
        return (scores.squeeze(-1), z.unflatten(2, (2, 4)), first.expand(-1, 4, -1) - rest,
                torch.maximum(y, x[:, 2] ** 2), torch.minimum(x.amin((1, 2)), torch.log(x.abs().sum(2)).mean(1)))


def test_a_module_with_its_own_tensors_and_tensor_calls_imports_exactly():
    module = TokenMixer()
    result = import_module(module, [(4, 8)])
    types = {n.type for n in result.project.graph.nodes()}
    assert {"Parameter", "Expand", "Chunk", "Split", "MatMul", "Transpose", "Scale", "Exp", "Sum", "Select",
            "Slice", "Mean", "Clamp", "Max", "Min", "Stack", "Abs", "Sqrt", "Unsqueeze", "Squeeze", "Unflatten",
            "Subtract", "Maximum", "Minimum", "Pow", "Log"} <= types
    assert verify_module_import(module, result).difference == 0.0
    # the module's tensors are Parameter nodes holding their values, named after them
    assert torch.equal(result.weights["cls_token"], module.cls_token.detach())
    assert torch.equal(result.weights["pos_embed"], module.pos_embed.detach())
    assert torch.equal(result.weights["gain"], module.gain.reshape(1, 1, 8))
    assert result.project.graph.node("gain").params["shape"] == [1, 8]  # shaped like the tensor it scales


@pytest.mark.parametrize("forward, message", [
    (lambda x: x.mean(), "reduces every dim, the batch too"),
    (lambda x: x[0], "indexes the batch dim"),
    (lambda x: x.expand(4, 3), "expands the batch dim to a fixed size"),
    (lambda x: 2.0 / x, "divides a constant by a tensor"),
    (lambda x: torch.pow(x, x), "only a constant exponent maps to Pow"),
])
def test_what_does_not_map_is_refused_in_a_user_s_words(forward, message):
    class Model(nn.Module):
        def forward(self, x):
            return forward(x)

    with pytest.raises(ImportRefused, match=message):
        import_module(Model(), [(3,)])


# ---- ONNX, from both of torch's exporters ----------------------------------------------------------------
class OnnxTokens(nn.Module):
    """A class token and positional embedding (constants in the file), attention-like products, reductions."""

    def __init__(self):
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, 8))
        self.pos_embed = nn.Parameter(torch.randn(1, 5, 8))
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        t = torch.cat([self.cls_token.expand(x.size(0), -1, -1), self.proj(x)], dim=1) + self.pos_embed
        q, k = torch.split(t, [4, 4], dim=-1)
        s = (q @ k.transpose(1, 2)) / 2.0
        s = torch.exp(s - s.amax(-1, keepdim=True))
        w = s / s.sum(-1, keepdim=True)
        y = t[:, 0] * 0.5 + 1.0
        m = torch.maximum(t.mean(1), torch.sqrt(t.abs()).amin(1)) ** 2
        return w, y - m, torch.log(t[:, 1:3].abs() + 1)


class PooledCNN(nn.Module):
    """Global average pooling, which the dynamo exporter writes as a ReduceMean over the spatial axes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


def _export(module, shape, path, dynamo):
    x = torch.randn(2, *shape)
    if dynamo:
        torch.onnx.export(module, (x,), path, dynamo=True, external_data=False,
                          dynamic_shapes=({0: torch.export.Dim("batch")},))
    else:
        torch.onnx.export(module, (x,), path, dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    return path


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_a_module_exported_to_onnx_imports_with_its_constants_as_parameters(dynamo, tmp_path):
    from engine.importers.onnx_import import import_onnx, verify_import

    module = OnnxTokens().eval()
    path = _export(module, (4, 8), tmp_path / "tokens.onnx", dynamo)
    result = import_onnx(path)
    types = {n.type for n in result.project.graph.nodes()}
    assert {"Parameter", "Split", "MatMul", "Subtract", "Divide", "Exp", "Max", "Sum", "Select", "Scale", "Mean",
            "Maximum", "Sqrt", "Abs", "Min", "Pow", "Slice", "Log"} <= types
    assert verify_import(path, result).difference < 1e-5
    stored = sorted(tuple(w.shape) for k, w in result.weights.items()
                    if result.project.graph.has_node(k) and result.project.graph.node(k).type == "Parameter")
    assert (1, 1, 8) in stored and (1, 5, 8) in stored  # the class token and the positional embedding


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_a_cnn_with_global_pooling_imports_from_either_exporter(dynamo, tmp_path):
    from engine.importers.onnx_import import import_onnx, verify_import

    module = PooledCNN().eval()
    path = _export(module, (3, 6, 6), tmp_path / "cnn.onnx", dynamo)
    result = import_onnx(path)
    assert [n.type for n in result.project.graph.nodes()][:4] == ["Input", "Conv2d", "ReLU", "AdaptiveAvgPool2d"]
    assert verify_import(path, result).difference < 1e-5


class Pieces(nn.Module):
    """chunk, stack, unflatten, unsqueeze/squeeze, transpose, expand: the spellings that come back as Slice or
    Split, Reshape, Concat and Permute (engine/importers/coverage.py says which), with the same outputs."""

    def forward(self, x):
        a, b, c = x.chunk(3, dim=1)
        s = torch.stack([a, c], dim=1)
        u = x.unflatten(2, (2, 2)).unsqueeze(1).squeeze(1)
        return s.transpose(1, 3) * 2, u.sum(-1), b[:, :1].expand(-1, 2, -1) - c


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_shape_ops_exported_to_onnx_import_with_the_same_outputs(dynamo, tmp_path):
    from engine.importers.onnx_import import import_onnx, verify_import

    path = _export(Pieces().eval(), (6, 4), tmp_path / "pieces.onnx", dynamo)
    result = import_onnx(path)
    types = {n.type for n in result.project.graph.nodes()}
    assert {"Split" if dynamo else "Slice", "Concat", "Permute", "Scale", "Sum", "Expand", "Subtract"} <= types
    assert verify_import(path, result).difference == 0.0


def test_positions_from_arange_are_refused_with_the_way_out():
    class Positions(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos = nn.Embedding(16, 4)

        def forward(self, x):
            return x + self.pos(torch.arange(x.size(1)).flip(0))  # counting down: not a form that maps

    with pytest.raises(ImportRefused, match="positions counted with torch.arange"):
        import_module(Positions(), [(5, 4)])
