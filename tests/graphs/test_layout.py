"""The layered layout (graphs.layout): layers left to right, few crossings, straight chains, no overlaps,
and deep models wrapped into rows that fit a screen."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.layout import DEFAULT_SIZE, _Drawing, _isotonic, layered_positions, layers


def rects(positions, sizes=None):
    sizes = sizes or {}
    return {n: (x, y, x + sizes.get(n, DEFAULT_SIZE)[0], y + sizes.get(n, DEFAULT_SIZE)[1])
            for n, (x, y) in positions.items()}


def overlapping(positions, sizes=None):
    boxes = list(rects(positions, sizes).items())
    return [(a, b) for i, (a, ra) in enumerate(boxes) for b, rb in boxes[i + 1:]
            if not (ra[2] <= rb[0] or rb[2] <= ra[0] or ra[3] <= rb[1] or rb[3] <= ra[1])]


def aspect(positions, sizes=None):
    boxes = rects(positions, sizes).values()
    width = max(b[2] for b in boxes) - min(b[0] for b in boxes)
    height = max(b[3] for b in boxes) - min(b[1] for b in boxes)
    return width / height


def chain(n):
    ids = [f"n{i}" for i in range(n)]
    return ids, list(zip(ids, ids[1:]))


def test_a_short_chain_is_one_straight_row():
    ids, edges = chain(8)
    positions = layered_positions(ids, edges)
    assert len({y for _x, y in positions.values()}) == 1
    xs = [positions[n][0] for n in ids]
    assert xs == sorted(xs) and len(set(xs)) == 8


def test_a_deep_chain_wraps_into_rows_that_fit_a_screen():
    ids, edges = chain(120)
    positions = layered_positions(ids, edges)
    assert 0.8 <= aspect(positions) <= 3.0
    assert overlapping(positions) == []
    rows = sorted({y for _x, y in positions.values()})
    assert len(rows) > 2
    for row in rows:  # each row reads left to right, in the chain's order
        members = [n for n in ids if positions[n][1] == row]
        assert [positions[n][0] for n in members] == sorted(positions[n][0] for n in members)
    without_wrap = layered_positions(ids, edges, wrap=False)
    assert aspect(without_wrap) > 50


def test_branches_sit_side_by_side_and_the_chain_stays_straight():
    ids = ["x", "a", "b", "c", "add", "out"]
    edges = [("x", "a"), ("a", "b"), ("x", "c"), ("b", "add"), ("c", "add"), ("add", "out")]
    assert layers(ids, edges) == {"x": 0, "a": 1, "b": 2, "c": 1, "add": 3, "out": 4}
    positions = layered_positions(ids, edges)
    assert positions["a"][0] == positions["c"][0] and positions["a"][1] != positions["c"][1]
    assert positions["add"][1] == positions["out"][1]  # the chain after the join is level
    assert overlapping(positions) == []


def test_a_skip_connection_gets_its_own_lane_beside_the_block_it_skips():
    ids = ["x", "conv1", "conv2", "conv3", "add"]
    edges = [("x", "conv1"), ("conv1", "conv2"), ("conv2", "conv3"), ("conv3", "add"), ("x", "add")]
    positions = layered_positions(ids, edges)
    skipped = [positions[n][1] for n in ("conv1", "conv2", "conv3")]
    assert len(set(skipped)) == 1  # the block is one straight row ...
    assert positions["x"][1] == positions["add"][1] == skipped[0]  # ... and so are its ends, with the lane beside


def test_barycentre_ordering_removes_avoidable_crossings():
    # documented order puts c1 above c0 while their parents are p0 above p1: one crossing if kept
    ids = ["p0", "p1", "c1", "c0", "q1", "q0"]
    edges = [("p0", "c0"), ("p1", "c1"), ("c0", "q0"), ("c1", "q1")]
    drawing = _Drawing(ids, edges, {}, 70.0, 30.0)
    drawing.order()
    assert drawing.crossings() == 0


def test_the_cycle_of_a_hand_made_file_does_not_stop_the_layout():
    positions = layered_positions(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "b")])
    assert set(positions) == {"a", "b", "c"} and overlapping(positions) == []


def test_isotonic_fit_is_the_closest_non_decreasing_sequence():
    assert _isotonic([1.0, 3.0, 2.0, 4.0]) == [1.0, 2.5, 2.5, 4.0]
    assert _isotonic([5.0, 1.0]) == [3.0, 3.0]
    assert _isotonic([]) == []


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 90), st.integers(0, 2**31), st.booleans())
def test_random_dags_never_overlap_and_every_wire_runs_forward_or_down(n, seed, varied_sizes):
    rng = random.Random(seed)
    ids = [f"n{i}" for i in range(n)]
    edges = [(rng.choice(ids[:j]), ids[j]) for j in range(1, n) for _ in range(rng.choice((1, 1, 2)))]
    sizes = {i: (rng.randrange(100, 300), rng.randrange(50, 200)) for i in ids} if varied_sizes else {}
    positions = layered_positions(ids, edges, sizes)
    assert set(positions) == set(ids)
    assert overlapping(positions, sizes) == []
    box = rects(positions, sizes)
    for source, target in edges:
        assert box[source][2] < box[target][0] or box[target][1] > box[source][3], (source, target)


def test_ten_thousand_nodes_lay_out():
    rng = random.Random(0)
    ids = [f"n{i}" for i in range(10_000)]
    edges = [(ids[j - 1], ids[j]) for j in range(1, len(ids))]
    edges += [(ids[j - rng.randrange(2, 4)], ids[j]) for j in range(4, len(ids), 3)]  # residual skips
    positions = layered_positions(ids, edges)
    assert len(positions) == 10_000
    assert 0.5 <= aspect(positions) <= 4.0
