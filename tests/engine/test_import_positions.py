"""Positional encodings written in a module's forward import from torch.fx as one node: `x + self.pos(arange(T))`
(self.pos an nn.Embedding) as LearnedPositionalEncoding with its weight, the classic sine/cosine buffer
`x + self.pe[:, :x.size(1)]` as SinusoidalPositionalEncoding, another stored table as a Parameter node holding
the slice used. Each reproduces the module; any other use of torch.arange is refused naming the line."""

import pytest
import torch
from torch import nn

from engine.importers.common import ImportRefused
from engine.importers.torch_import import import_module, verify_module_import
from tests.engine.seqloss_cases import sinusoids

STEPS, SIZE = 6, 8


class Learned(nn.Module):
    def __init__(self, form: str):
        super().__init__()
        self.proj = nn.Linear(3, SIZE)
        self.pos_embedding = nn.Embedding(10, SIZE)
        self.head = nn.Linear(SIZE, 2)
        self.form = form

    def forward(self, x):
        x = self.proj(x)
        if self.form == "device":
            positions = torch.arange(x.size(1), device=x.device)
            x = x + self.pos_embedding(positions)
        elif self.form == "shape, batch of one":
            x = self.pos_embedding(torch.arange(0, x.shape[1], dtype=torch.long).unsqueeze(0)) + x
        else:  # a constant, the input's length
            x = x + self.pos_embedding(torch.arange(STEPS))
        return self.head(x)


class Stored(nn.Module):
    def __init__(self, table: torch.Tensor, batch_dim: bool = True):
        super().__init__()
        self.proj = nn.Linear(3, SIZE)
        self.register_buffer("pe", table.unsqueeze(0) if batch_dim else table)
        self.batch_dim = batch_dim

    def forward(self, x):
        x = self.proj(x)
        return x + (self.pe[:, :x.size(1)] if self.batch_dim else self.pe[:x.size(1)])


def _imported(module):
    result = import_module(module, [(STEPS, 3)])
    assert verify_module_import(module, result).difference <= 1e-5
    return result, {n.id: n for n in result.project.graph.nodes()}


@pytest.mark.parametrize("form", ["device", "shape, batch of one", "constant"])
def test_embedding_of_arange_positions_is_a_learned_positional_encoding(form):
    module = Learned(form)
    result, nodes = _imported(module)
    encodings = [n for n in nodes.values() if n.type == "LearnedPositionalEncoding"]
    assert len(encodings) == 1 and encodings[0].params["max_len"] == 10
    assert {n.type for n in nodes.values()} == {"Input", "Linear", "LearnedPositionalEncoding"}
    assert torch.equal(result.weights[f"{encodings[0].id}.weight"], module.pos_embedding.weight.detach())


@pytest.mark.parametrize("batch_dim", [True, False], ids=["[1, max_len, E]", "[max_len, E]"])
def test_the_classic_sinusoidal_buffer_is_a_sinusoidal_positional_encoding(batch_dim):
    _, nodes = _imported(Stored(sinusoids(50, SIZE), batch_dim))
    encodings = [n for n in nodes.values() if n.type == "SinusoidalPositionalEncoding"]
    assert len(encodings) == 1 and encodings[0].params["max_len"] == 50
    assert not any(n.type == "Parameter" for n in nodes.values())


def test_another_stored_table_is_a_parameter_holding_the_slice_used():
    table = sinusoids(50, SIZE)
    table[3, 1] += 1e-3  # no longer the sine/cosine table
    result, nodes = _imported(Stored(table))
    assert not any(n.type == "SinusoidalPositionalEncoding" for n in nodes.values())
    parameter = next(n for n in nodes.values() if n.type == "Parameter")
    assert parameter.params["shape"] == [STEPS, SIZE]
    assert torch.equal(result.weights[parameter.id].reshape(STEPS, SIZE), table[:STEPS])


class Misused(nn.Module):
    def __init__(self, form: str):
        super().__init__()
        self.pos = nn.Embedding(10, 3)
        self.form = form

    def forward(self, x):
        if self.form == "counting down":
            return x + self.pos(torch.arange(x.size(1)).flip(0))
        return x + self.pos(torch.arange(4))


@pytest.mark.parametrize("form, refusal", [
    ("counting down", r"torch\.arange map only as .*self\.pos\(torch\.arange\(x\.size\(1\)\)\.flip\(0\)\)"),
    ("too short", r"0\.\.4-1 to a sequence of 6 steps.*self\.pos\(torch\.arange\(4\)\)"),
])
def test_other_uses_of_arange_are_refused_naming_the_line(form, refusal):
    with pytest.raises(ImportRefused, match=refusal):
        import_module(Misused(form), [(STEPS, 3)])
