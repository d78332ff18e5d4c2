"""Section 9 measures what it claims: each hand-written architecture imports with the torch.fx importer
into a model computing the same function with the same weights, a refused import is reported as
such (no figure), and ResNet-50 is the size the import-time goal speaks of."""

import operator

import pytest
import torch
from torch import nn

from bench import architectures as section
from bench.architectures_models import architectures, example_input, resnet50, settle_batch_norm


@pytest.mark.parametrize("case", architectures(), ids=lambda c: c[0].split(" (")[0])
def test_the_imported_model_computes_the_hand_written_function(case):
    _, factory, shape, dtype, _ = case
    torch.manual_seed(0)
    hand = settle_batch_norm(factory(), shape, dtype)
    imported = section.imported_twin(hand, shape, dtype).compiled.model
    assert sum(p.numel() for p in imported.parameters()) == sum(p.numel() for p in hand.parameters())
    x = example_input(shape, dtype, 4, seed=3)
    assert section.largest_difference(hand, imported, x) < section.TOLERANCE
    assert hand.training and imported.training  # both train from here
    hand.eval()
    with torch.no_grad():
        out = hand(x)
    assert (out - out.mean(0)).abs().max() > 1000 * section.TOLERANCE  # the comparison has teeth
    first = next(iter(imported.state_dict().values()))
    with torch.no_grad():
        first.add_(0.1 * torch.randn_like(first))  # the imported weights are copies, not the hand-written model's tensors
    assert section.largest_difference(hand, imported, x) > section.TOLERANCE


class _Unimportable(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 10)
        self.act = nn.Hardshrink()

    def forward(self, x):
        return self.act(self.fc(torch.fft.fft(x).real))


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        return self.fc(x)


def test_a_refused_import_gives_a_row_without_a_figure_and_the_importers_reason(monkeypatch):
    monkeypatch.setattr(section, "architectures", lambda: [
        ("unimportable", _Unimportable, (4,), torch.float32, 8), ("tiny", _Tiny, (4,), torch.float32, 8)])
    refused, tiny, floor = section.training_rows(quick=True)
    assert refused.name == "unimportable, imported vs hand-written"
    assert refused.value is None and refused.met is False
    assert refused.note.startswith("not imported: cannot import _Unimportable:") and "fft" in refused.note
    assert tiny.name == "tiny, imported vs hand-written" and tiny.value > 0 and tiny.spread.endswith("over 20 paired steps")
    assert floor.name == "tiny, hand-written vs hand-written (noise floor)" and floor.goal == "" and floor.met is None


def test_an_import_row_says_when_the_import_is_refused():
    def refuse():
        from engine.errors import UserError
        raise UserError("cannot import X: no node for Y")

    row = section._import_row("X import", "X", 3, refuse)
    assert (row.value, row.met, row.note) == (None, False, "not imported: cannot import X: no node for Y")


def test_resnet50_is_the_size_the_import_goal_names():
    model = resnet50()
    assert 25e6 < section._parameters(model) < 26e6
    assert section._leaf_modules(model) == 126  # 53 conv, 53 batch norm, 17 ReLU, 2 pools, fc


def test_the_compiled_resnet_sums_each_residual_in_place_as_the_hand_written_one_does():
    """`out += identity` in the hand-written BasicBlock; the compiled graph had `add = bn2 + identity`, a
    full-size allocation per block and step (engine.inplace)."""
    name, factory, shape, dtype, _ = architectures()[0]
    assert name.startswith("ResNet-18")
    torch.manual_seed(0)
    imported = section.imported_twin(settle_batch_norm(factory(), shape, dtype), shape, dtype).compiled.model
    nodes = list(imported.graph.nodes)
    assert sum(n.op == "call_method" and n.target == "add_" for n in nodes) == 8  # one per BasicBlock
    assert not any(n.op == "call_function" and n.target in (operator.add, torch.add) for n in nodes)
    assert not any(n.op == "call_method" and n.target in ("contiguous", "clone", "reshape", "view") for n in nodes)
    assert all(getattr(m, "inplace", True) for m in imported.modules() if isinstance(m, nn.ReLU))
