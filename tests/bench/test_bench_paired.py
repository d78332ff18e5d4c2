"""bench.paired: steps timed side by side in a rotating order, and the median ratio with its confidence interval."""

import statistics

import torch
from torch import nn

from bench.paired import median_ratio, paired_times, throughput_ratio, training_step


def test_every_step_runs_once_a_round_and_no_step_always_goes_first_or_last():
    calls = []
    steps = [lambda i=i: calls.append(i) or float(i + 1) for i in range(3)]
    times = paired_times(steps, rounds=12, warmup=1)
    assert times == [[1.0, 2.0, 3.0]] * 12  # each in its own column, whatever the order it ran in
    rounds = [calls[3 + 3 * r: 6 + 3 * r] for r in range(12)]
    assert all(sorted(order) == [0, 1, 2] for order in rounds)
    firsts, lasts = [order[0] for order in rounds], [order[-1] for order in rounds]
    assert all(firsts.count(i) == 4 and lasts.count(i) == 4 for i in range(3))
    assert len({tuple(order) for order in rounds}) == 6  # all six orders of three


def test_the_confidence_interval_holds_the_median_and_narrows_with_more_pairs():
    few = median_ratio([1.0 + 0.01 * ((i * 7) % 11 - 5) for i in range(21)])
    many = median_ratio([1.0 + 0.01 * ((i * 7) % 11 - 5) for i in range(2001)])
    for ratio in (few, many):
        assert ratio.low <= ratio.median <= ratio.high
    assert many.high - many.low < few.high - few.low
    assert few.median == statistics.median([1.0 + 0.01 * ((i * 7) % 11 - 5) for i in range(21)])
    assert few.spread().endswith("over 21 paired steps")


def test_throughput_ratio_is_baseline_time_over_candidate_time_by_round():
    times = [[2.0, 1.0], [4.0, 2.0], [3.0, 3.0]]
    assert throughput_ratio(times, 0, 1).median == 2.0  # the candidate does a step in half the time
    assert throughput_ratio(times, 1, 0).median == 0.5


def test_a_training_step_trains_and_returns_its_cpu_seconds():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    before = model.weight.detach().clone()
    step = training_step(model, torch.randn(8, 4), torch.randint(0, 3, (8,)))
    seconds = step()
    assert seconds > 0 and not torch.equal(before, model.weight)
