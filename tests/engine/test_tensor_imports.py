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
