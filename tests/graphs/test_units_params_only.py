"""A Repeat's params edit whose unit expands alike whatever its values (`graphs.units.params_only.fixed_structure`)
only sets its copies' layers' params in the kept flat graph: no wire, layer or scope is matched again, and
the graph still equals a fresh expansion. A unit whose structure reads a param is patched as before."""

from graphs.document import Graph
from graphs.units.live import LiveExpansion
from graphs.units.params_only import fixed_structure
from tests.engine.test_units_memo import kernel_model
from tests.graphs.test_units_live import _assert_fresh, mixed_units_model
from tests.graphs.unit_cases import basic_block, deep_repeat_model, resnet_graph


def _watched(g: Graph, monkeypatch):
    """A LiveExpansion of `g`, the patches that went the usual way (`_apply`) and the flat graph's events."""
    live = LiveExpansion(g)
    live.update()
    applied, events = [], []
    real = LiveExpansion._apply
    monkeypatch.setattr(LiveExpansion, "_apply", lambda self, *args: applied.append(1) or real(self, *args))
    for name in ("node_added", "node_removed", "edge_added", "edge_removed", "params_changed"):
        getattr(live.flat, name).sub(lambda *args, name=name: events.append((name, args[0])))
    # many layers renewed in one event: one entry per layer, each group's layers given one params object
    live.flat.params_renewed.sub(lambda groups: events.extend(
        ("params_renewed", node_id) for node_ids, _, params in groups for node_id in node_ids
        if live.flat.live_node(node_id).params is params))
    return live, applied, events


def _edit(live: LiveExpansion, g: Graph, node_id: str, **changes) -> None:
    old = g.node(node_id).params
    g.set_params(node_id, {**old, **changes})
    live.instance_changed(node_id, old)


def test_every_copys_planes_changed_sets_only_their_layers_params(monkeypatch):
    g = resnet_graph(count=30)
    live, applied, events = _watched(g, monkeypatch)
    _edit(live, g, "layer1", planes=12)
    expanded = live.update()
    assert applied == [] and expanded is live.expanded
    assert {name for name, _ in events} == {"params_renewed"}  # one event for them all
    assert sorted(node_id for _, node_id in events) == sorted(
        f"layer1.{i}.{layer}" for i in range(30) for layer in ("conv1", "conv2", "shortcut"))
    _assert_fresh(live, g)
    _edit(live, g, "layer1", overrides={"3": {"planes": 4}, "0": {"stride": 1}})
    _assert_fresh(live, g)
    _edit(live, g, "layer1", count=31)  # a count: the usual patch
    _assert_fresh(live, g)
    assert applied == [1]


def test_a_unit_whose_layers_or_wires_follow_a_param_is_patched_as_before(monkeypatch):
    g = mixed_units_model()  # layer3 repeats OptionalBlock, whose shortcut a param switches
    assert fixed_structure(g.units, "BasicBlock") and fixed_structure(g.units, "Stage")
    assert not fixed_structure(g.units, "OptionalBlock")
    live, applied, _ = _watched(g, monkeypatch)
    _edit(live, g, "layer3", project=True)
    _assert_fresh(live, g)
    assert applied == [1] and live.flat.has_node("layer3.1.shortcut")


def test_a_nested_repeat_counted_by_a_param_is_patched_as_before(monkeypatch):
    g = deep_repeat_model(count=3)
    assert not fixed_structure(g.units, "Deep")
    live, applied, _ = _watched(g, monkeypatch)
    _edit(live, g, "stages", depth=3)
    _assert_fresh(live, g)
    assert applied == [1] and live.flat.has_node("stages.2.blocks.2.conv1")


def test_a_layer_sharing_weights_in_each_copy_keeps_naming_its_own_copys_owner(monkeypatch):
    g = resnet_graph(count=6)
    twin = basic_block(g.units, "Twin")
    twin.graph.add_node("Conv2d", {"out_channels": {"ref": "planes"}, "kernel_size": 3, "padding": 1, "bias": False,
                                   "shares": "conv2"}, "again")
    twin.graph.disconnect(twin.graph.edge_into("relu2", "in"))
    twin.graph.connect("add", "again")
    twin.graph.connect("again", "relu2")
    g.add_unit(twin)
    g.set_params("layer1", {**g.node("layer1").params, "unit": "Twin"})
    live, applied, events = _watched(g, monkeypatch)
    _edit(live, g, "layer1", planes=6, overrides={"2": {"planes": 10}})
    _assert_fresh(live, g)
    assert applied == [] and ("params_renewed", "layer1.4.again") in events
    assert live.flat.live_node("layer1.4.again").params["shares"] == "layer1.4.conv2"


def test_a_repeats_param_set_to_the_value_it_had_by_default_changes_no_layer(monkeypatch):
    g = kernel_model(count=6)  # blocks' k is Block's default, 3, not set on the Repeat
    live, applied, events = _watched(g, monkeypatch)
    _edit(live, g, "blocks", k=3)
    live.update()
    assert applied == [] and events == []
    _assert_fresh(live, g)
