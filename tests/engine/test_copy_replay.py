"""A Repeat's copies inferred whole (`engine.copy_replay`): a params edit that changes every copy renews their
layers in one event and replays the alike copies' outcomes, and the live result stays exactly a fresh one's
(shapes, params, MACs, errors), with an error in one copy, a copy differing by an override, undo, and
random unit edits. Repeats whose copies may expand differently, and instances, are inferred layer by layer."""

import pytest

import engine.copy_replay as copy_replay
from bench.units_edit import instances_model
from engine.shapes import ShapeInference, infer
from engine.unit_shapes import ScopeTotals, scope_totals
from graphs.document import Graph, Node
from graphs.errors import ShapeError
from graphs.units.expand import renew_params_many
from graphs.units.replay import resolutions
from graphs.validate import validate
from tests.engine.test_units_live_inference import _picture
from tests.engine.test_units_memo import ONE_COPY_BROKEN, kernel_model
from tests.graphs.test_units_live import mixed_units_model, random_edits
from tests.graphs.unit_cases import deep_repeat_model, resnet_graph


@pytest.fixture
def eager(monkeypatch):
    """Replay tried on every pass, however few layers it changes (the usual threshold is for speed only)."""
    monkeypatch.setattr(copy_replay, "MIN_DIRTY", 1)


def _replayed(live: ShapeInference) -> int:
    return live._units.inference.replayed_copies


def _edit(g: Graph, node_id: str, **changes) -> None:
    g.set_params(node_id, {**g.node(node_id).params, **changes})


def test_every_copys_planes_edited_replays_the_alike_copies_and_undo_comes_back():
    g = resnet_graph(count=80)  # copy 0 has stride 2 (an override), the 79 others are alike
    live = ShapeInference(g)
    first = live.result()
    original = g.node("layer1").params
    for planes in (12, 6, 8):
        before = _replayed(live)
        _edit(g, "layer1", planes=planes)
        result = live.result()
        assert _picture(result) == _picture(infer(g))
        # copy 1 follows copy 0 (another input), copy 2 follows copy 1; the 77 others are replayed from copy 2
        assert _replayed(live) - before >= 77
        assert result.flat.info["layer1.79.conv2"] is result.flat.info["layer1.2.conv2"]
    g.set_params("layer1", original)  # undo
    result = live.result()
    assert _picture(result) == _picture(first) == _picture(infer(g))
    live.close()


def test_a_copy_differing_by_an_override_is_inferred_on_its_own_and_the_copies_after_it_replayed():
    g = resnet_graph(count=80)
    live = ShapeInference(g)
    live.result()
    _edit(g, "layer1", overrides={"0": {"stride": 2}, "40": {"planes": 4}})
    assert _picture(live.result()) == _picture(infer(g))
    before = _replayed(live)
    _edit(g, "layer1", planes=12)  # every copy but copy 40 changes alike
    result = live.result()
    assert _picture(result) == _picture(infer(g))
    assert result.flat.info["layer1.40.conv1"].outputs["out"].shape[0] == 4
    assert result.flat.info["layer1.41.conv1"].outputs["out"].shape[0] == 12
    assert _replayed(live) - before >= 70  # copies 3-39 and 43-79 (each run's first two follow their inputs)
    live.close()


@pytest.mark.parametrize("override, where", ONE_COPY_BROKEN)
def test_an_error_inside_one_copy_stays_that_copys_while_every_copy_is_edited(override, where, eager):
    g = kernel_model(count=40)
    live = ShapeInference(g)
    assert live.result().errors == []
    _edit(g, "blocks", overrides={"5": override})
    assert _picture(live.result()) == _picture(infer(g))
    for k, pad in ((5, 2), (3, 1)):  # every copy changes, copy 5 stays broken
        _edit(g, "blocks", k=k, pad=pad)
        result = live.result()
        assert _picture(result) == _picture(infer(g))
        errors = [error for error in result.errors if error.node == "blocks"]
        assert errors and all(error.message.startswith(where) for error in errors)
        assert "blocks.4.relu" in result.flat.info and "blocks.6.conv" not in result.flat.info
    before = _replayed(live)
    _edit(g, "blocks", overrides={})
    assert _picture(live.result()) == _picture(infer(g))
    _edit(g, "blocks", width=6)
    result = live.result()
    assert _picture(result) == _picture(infer(g)) and result.errors == []
    assert _replayed(live) > before
    live.close()


def test_live_results_equal_fresh_ones_with_replay_on_every_pass_after_random_unit_edits_and_undo(eager):
    g = mixed_units_model()
    live = ShapeInference(g)
    totals = ScopeTotals()
    for _ in random_edits(g, 23, 40):
        result = live.result()
        assert _picture(result) == _picture(infer(g))
        kept = totals.update(result.expanded, result.flat)
        assert kept == scope_totals(result.expanded, result.flat) == _summed(result)
    assert _replayed(live) > 0
    live.close()


def _summed(result) -> dict[str, list[int]]:
    """Each scope's params and MACs summed over the flat layers under its prefix, layer by layer."""
    layers = result.flat.info.items()
    return {scope.prefix: [sum(info.params for node_id, info in layers if node_id.startswith(scope.prefix + ".")),
                           sum(info.macs for node_id, info in layers if node_id.startswith(scope.prefix + "."))]
            for scope in result.expanded.scopes}


@pytest.mark.parametrize("make, node_id, changes", [
    (lambda: deep_repeat_model(12), "stages", {"planes": 12}),  # copies whose structure reads a param: no chain
    (lambda: instances_model(12), "block5", {"planes": 12}),  # instances: no chain
    (mixed_units_model, "layer3", {"planes": 12}),  # a Repeat whose layers a switch makes optional: no chain
])
def test_copies_that_may_expand_differently_and_instances_are_inferred_layer_by_layer(make, node_id, changes,
                                                                                        eager):
    g = make()
    live = ShapeInference(g)
    live.result()
    _edit(g, node_id, **changes)
    result = live.result()
    assert _picture(result) == _picture(infer(g))
    chains = live._units.inference._copies.values()
    assert not any(found.copies[0][0].startswith(node_id + ".") for found in chains)
    if make is not mixed_units_model:
        assert _replayed(live) == 0
    live.close()


def test_a_renewed_group_that_breaks_its_layers_reports_each_on_its_own_node():
    g = Graph(dotted_ids=True)
    g.add_node("Input", {"shape": [4, 8, 8]}, "image")
    previous = "image"
    for i in range(6):
        g.add_node("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, f"c.{i}")
        g.connect(previous, f"c.{i}")
        previous = f"c.{i}"
    live = ShapeInference(g)
    assert live.result().errors == []
    convs = [g.live_node(f"c.{i}") for i in range(6)]
    for params in ({"out_channels": 0, "kernel_size": 3, "padding": 1},  # a param error on every conv
                   {"out_channels": 4, "kernel_size": 9, "padding": 0},  # a shape error on the first
                   {"out_channels": 6, "kernel_size": 1, "padding": 0}):
        renew_params_many(g, [(convs, params)], resolutions([Node("probe", "Conv2d", params)]))
        result = live.result()
        fresh = infer(g)
        assert [(e.node, e.message) for e in result.errors] == [(e.node, e.message) for e in fresh.errors]
        assert [(e.node, e.message) for e in validate(g)] == [
            (e.node, e.message) for e in result.errors if not isinstance(e, ShapeError)]
        assert _picture(result) == _picture(fresh)
    assert result.errors == [] and result.info["c.5"].outputs["out"].shape == (6, 8, 8)
    live.close()


def test_two_repeats_one_after_the_other_each_replay_their_own_copies(eager):
    g = resnet_graph(count=30)
    g.disconnect(g.edge_into("pool", "in"))
    g.add_node("Repeat", {"unit": "BasicBlock", "count": 30, "planes": 8}, "layer2")
    g.connect("layer1", "layer2", "y", "x")
    g.connect("layer2", "pool", "y")
    live = ShapeInference(g)
    live.result()
    for node_id, planes in (("layer1", 12), ("layer2", 6), ("layer1", 8), ("layer2", 8)):
        before = _replayed(live)
        _edit(g, node_id, planes=planes)
        result = live.result()
        assert _picture(result) == _picture(infer(g))
        assert _replayed(live) - before >= 27
    live.close()


def test_an_edit_upstream_that_changes_every_copys_shapes_replays_them_from_their_inputs():
    g = resnet_graph(count=40)
    live = ShapeInference(g)
    first = live.result()
    before = _replayed(live)
    _edit(g, "image", shape=[1, 16, 16])  # every copy's spatial size changes, none of their params
    result = live.result()
    assert _picture(result) == _picture(infer(g))
    assert _replayed(live) - before >= 37 and result.flat.info["layer1.39.relu2"].outputs["out"].shape == (8, 8, 8)
    _edit(g, "image", shape=[1, 8, 8])  # undo
    assert _picture(live.result()) == _picture(first) == _picture(infer(g))
    live.close()


def test_copies_fed_ever_smaller_inputs_are_inferred_one_by_one_up_to_the_one_that_fails():
    g = kernel_model(count=40)
    live = ShapeInference(g)
    live.result()
    _edit(g, "blocks", k=5, pad=0)  # each copy 4 smaller than the one before: copy 1 gets 0x0 and fails
    assert _picture(live.result()) == _picture(infer(g))
    before = _replayed(live)
    _edit(g, "image", shape=[4, 64, 64])  # copies 0-14 have shapes, copy 15 fails, none alike another's inputs
    result = live.result()
    assert _picture(result) == _picture(infer(g))
    assert "blocks.14.relu" in result.flat.info and "blocks.16.conv" not in result.flat.info
    assert [error.message.split(":")[0] for error in result.errors] == ["blocks.15 (Block) › conv"]
    assert _replayed(live) == before
    live.close()
