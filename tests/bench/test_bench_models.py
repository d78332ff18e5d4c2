"""The benchmarks measure what they claim: the hand-written and compiled models compute
the same function given the same weights, and the scale graph is valid at 1,000 nodes."""

import pytest
import torch

from bench.common import interleaved, percentile, summarise
from bench.editor_scale import big_graph
from bench.models import cases, same_function
from engine.compiler import compile_graph
from engine.shapes import infer


@pytest.mark.parametrize("case", cases(), ids=lambda c: c[0])
def test_hand_written_equals_compiled(case):
    _, graph, hand_class, shape = case
    torch.manual_seed(0)
    compiled = compile_graph(graph).model
    hand = hand_class()
    assert set(hand.state_dict()) == set(compiled.state_dict())
    difference = same_function(compiled, hand, torch.randn(16, *shape))
    assert difference < 1e-6
    assert sum(p.numel() for p in hand.parameters()) == sum(p.numel() for p in compiled.parameters())


def test_scale_graph_is_valid_and_has_1000_nodes():
    graph = big_graph(1000)
    assert len(graph) == 1000
    result = infer(graph)
    assert result.valid, result.errors[:3]
    assert result.output_shapes("head") == {"out": (10,)}


def test_ratio_helpers():
    ratios = interleaved(lambda: 2.0, lambda: 1.0, rounds=4)
    assert ratios == [2.0] * 4
    median, spread = summarise([1.0, 3.0, 2.0])
    assert median == 2.0 and spread == "1.000-3.000 over 3 repeats"
    assert percentile(list(range(101)), 99) == 99


def test_a_partial_run_keeps_the_other_sections_of_the_last_results(tmp_path):
    import json

    from bench.__main__ import merged_with_last
    from bench.common import Row

    def row(section, name, value):
        return Row(section, name, value, "x", ">= 1", value >= 1)

    results = tmp_path / "latest.json"
    last = [row("1. compiled", "mlp", 1.0), row("3. data path", "csv", 2.0), row("8. CSV loading", "speed", 0.5)]
    results.write_text(json.dumps({"date": "2026-11-27 01:44", "rows": [r.as_dict() for r in last]}))
    rerun = [row("3. data path", "csv", 3.0)]
    merged, partial = merged_with_last(rerun, ["3"], results, "2026-12-06 01:00")
    assert [(r.section, r.value) for r in merged] == [("1. compiled", 1.0), ("3. data path", 3.0),
                                                        ("8. CSV loading", 0.5)]
    assert partial == "Section 3 was rerun on 2026-12-06 01:00; the others are from the run of 2026-11-27 01:44."
    assert merged_with_last(rerun, ["1", "3", "8"], results, "now") == (rerun, "")
    assert merged_with_last(rerun, ["3"], tmp_path / "missing.json", "now") == (rerun, "")
