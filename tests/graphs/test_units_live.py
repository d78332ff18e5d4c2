"""`LiveExpansion`: the kept flat graph, patched part by part, stays equal to a fresh `expand` after any
sequence of unit edits and their undo, and an edit confined to one copy touches only that copy."""

import random

import pytest

from graphs.document import Graph
from graphs.errors import GraphError
from graphs.units import UnitDefinition, expand
from graphs.units.live import LiveExpansion
from tests.graphs.unit_cases import basic_block, resnet_graph, stage_unit


def mixed_units_model() -> Graph:
    """resnet_graph(3), then a nested unit (Stage: a BasicBlock, then a Repeat of them) and a Repeat of blocks
    whose shortcut is optional."""
    g = resnet_graph(count=3)
    g.add_unit(stage_unit(g.units))
    g.disconnect(g.in_edges("pool")[0])
    g.add_node("Stage", {"width": 8}, "layer2")
    g.connect("layer1", "layer2", "y", "x")
    g.add_unit(basic_block(g.units, "OptionalBlock", switch="project"))  # the shortcut switched per copy
    g.add_node("Repeat", {"unit": "OptionalBlock", "count": 2, "planes": 8}, "layer3")
    g.connect("layer2", "layer3", "y", "x")
    g.connect("layer3", "pool", "y")
    return g


def _assert_fresh(live: LiveExpansion, g: Graph) -> None:
    kept, fresh = live.update(), expand(g)

    def nodes(graph):
        return [(n.id, n.type, n.params, n.trainable, n.lr_mult) for n in graph.nodes()]

    assert nodes(kept.graph) == nodes(fresh.graph)  # ids, types, params, training options and their order
    assert set(kept.graph.edges()) == set(fresh.graph.edges())
    assert kept.origins == fresh.origins
    assert set(kept.scopes) == set(fresh.scopes) and len(kept.scopes) == len(fresh.scopes)
    places = {scope.prefix: i for i, scope in enumerate(kept.scopes)}
    assert all(places[scope.parent] < places[scope.prefix] for scope in kept.scopes if scope.parent)
    assert kept.scope_outputs == fresh.scope_outputs and kept.outputs == fresh.outputs
    assert [e.message for e in kept.errors] == [e.message for e in fresh.errors]


class _Edits:
    """Random edits of `mixed_units_model()`'s instances, Repeats, units and layers, each with its undo."""

    def __init__(self, g: Graph, rng: random.Random):
        self.g, self.rng = g, rng
        self.block, self.stage = g.unit_graph("BasicBlock"), g.unit_graph("Stage")

    def params(self, graph: Graph, node_id: str, **changes):
        old = graph.node(node_id).params
        graph.set_params(node_id, {**old, **changes})
        return lambda: graph.set_params(node_id, old)

    def training(self, node_id: str):
        node = self.g.node(node_id)
        self.g.set_training_options(node_id, self.rng.random() < 0.5, self.rng.choice([1.0, 0.5]))
        return lambda: self.g.set_training_options(node_id, node.trainable, node.lr_mult)

    def toggle_wire(self):  # the block's output wire: without it every instance has an expansion error
        edges = self.block.in_edges("y")
        if edges:
            self.block.disconnect(edges[0])
            return lambda: self.block.connect("relu2", "y")
        self.block.connect("relu2", "y")
        return lambda: self.block.disconnect(self.block.in_edges("y")[0])

    def insert(self, source: str, source_port: str, target: str, target_port: str, layer: str):
        """A Dropout `layer` put on the wire source -> target, or taken off it again."""
        g = self.g
        if g.has_node(layer):
            g.remove_node(layer)
            g.connect(source, target, source_port, target_port)
        else:
            g.disconnect(g.edge_into(target, target_port))
            g.add_node("Dropout", {"p": 0.1}, layer)
            g.connect(source, layer, source_port)
            g.connect(layer, target, target_port=target_port)
        return lambda: self.insert(source, source_port, target, target_port, layer)

    def random_edit(self):
        rng, g = self.rng, self.g
        if not self.block.in_edges("y") and rng.random() < 0.5:
            return self.toggle_wire()  # keep the stretches with errors (expanded whole) short
        count = g.node("layer1").params["count"]
        choices = [
            lambda: self.params(g, "layer1", count=rng.randint(1, 5)),
            lambda: self.params(g, "layer1", planes=rng.choice([4, 6, 8])),
            lambda: self.params(g, "layer1", stride=rng.choice([1, 2])),
            lambda: self.params(g, "layer1", overrides=rng.choice([
                {}, {str(rng.randrange(count)): {"stride": rng.choice([1, 2])}},
                {str(rng.randrange(count)): {"planes": 6}, "0": {"stride": 2}}])),
            lambda: self.params(g, "block", planes=rng.choice([4, 5]), stride=rng.choice([1, 2])),
            lambda: self.params(g, "layer2", width=rng.choice([8, 12])),
            lambda: self.training(rng.choice(["block", "layer1", "layer2", "layer3"])),
            lambda: self.params(self.block, "bn1", eps=rng.choice([1e-5, 1e-3])),
            lambda: self.params(self.block, "conv2", kernel_size=rng.choice([1, 3]), padding=rng.choice([0, 1])),
            lambda: self.params(self.stage, "rest", count=rng.randint(1, 3)),
            lambda: self.params(g, "fc", out_features=rng.choice([7, 10])),
            lambda: self.params(g, "layer3", project=rng.random() < 0.5,
                                overrides=rng.choice([{}, {"1": {"project": True}}, {"0": {"project": False}}])),
            self.toggle_wire,
            lambda: self.insert("layer3", "y", "pool", "in", "drop_a"),  # wires from a Repeat to layers
            lambda: self.insert("layer1", "y", "layer2", "x", "drop_b"),  # between a Repeat and an instance
        ]
        return rng.choice(choices)()


def random_edits(g: Graph, seed: int, count: int):
    """Make `count` random edits of `mixed_units_model()` `g` (some of them undoing the last one), then undo the rest;
    yield after each."""
    edits, undos, rng = _Edits(g, random.Random(seed)), [], random.Random(seed)
    for _ in range(count):
        if undos and rng.random() < 0.3:
            undos.pop()()
        else:
            try:
                undos.append(edits.random_edit())
            except GraphError:  # an override of a copy the count no longer has, ...
                continue
        yield
    while undos:
        undos.pop()()
        yield


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kept_graph_equals_a_fresh_expansion_after_random_edits_and_undo(seed, monkeypatch):
    patches = []
    real = LiveExpansion._apply
    monkeypatch.setattr(LiveExpansion, "_apply", lambda self, *args: patches.append(1) or real(self, *args))
    g = mixed_units_model()
    live = LiveExpansion(g)
    g.params_changed.sub(lambda node_id, old, _new: live.instance_changed(node_id, old)
                         if not g.is_layer(g.node(node_id).type) else live.invalidate())
    g.training_options_changed.sub(lambda node_id, *_: live.instance_changed(node_id))
    g.unit_changed.sub(live.unit_changed)
    for name in ("node_added", "node_removed"):  # a layer of the model: LiveUnitsInference mirrors it (not here)
        getattr(g, name).sub(lambda *_: live.invalidate())
    for name in ("edge_added", "edge_removed"):
        getattr(g, name).sub(lambda edge: live.wire_changed(edge))
    _assert_fresh(live, g)
    for _ in random_edits(g, seed, 60):
        _assert_fresh(live, g)
    assert len(patches) >= 20  # patched in, not expanded whole (as after a model layer's edit here, or with errors)


def test_an_override_on_one_copy_changes_only_that_copy():
    g = resnet_graph(count=40)
    live = LiveExpansion(g)
    live.update()
    flat = live.flat
    events = []
    for name in ("node_added", "node_removed", "edge_added", "edge_removed", "params_changed"):
        getattr(flat, name).sub(lambda *args, name=name: events.append((name, args[0])))
    flat.params_renewed.sub(lambda groups: events.extend(
        ("params_changed", node_id) for node_ids, _, _ in groups for node_id in node_ids))
    old = g.node("layer1").params
    g.set_param("layer1", "overrides", {**old["overrides"], "17": {"stride": 2}})
    live.instance_changed("layer1", old)
    expanded = live.update()
    assert sorted(events) == [("params_changed", "layer1.17.conv1"), ("params_changed", "layer1.17.shortcut")]
    assert expanded is live.expanded and expanded.graph is flat
    _assert_fresh(live, g)


def test_a_longer_repeat_adds_copies_in_order_and_moves_the_wire_out():
    g = resnet_graph(count=3)
    live = LiveExpansion(g)
    live.update()
    old = g.node("layer1").params
    g.set_param("layer1", "count", 5)
    live.instance_changed("layer1", old)
    flat = live.update().graph
    assert [e.source for e in flat.in_edges("pool")] == ["layer1.4.relu2"]
    assert flat.node_ids().index("layer1.4.relu2") < flat.node_ids().index("pool")
    _assert_fresh(live, g)


def _pair_model() -> Graph:
    """stem -> Pair (inputs a and b, outputs s and t) -> pool and relu_t; Pair.s adds conv(a) to b."""
    g = Graph()
    pair = UnitDefinition("Pair", Graph(units=g.units), {"width": 4})
    p = pair.graph
    for port in ("a", "b"):
        p.add_node("UnitInput", node_id=port)
    p.add_node("Conv2d", {"out_channels": {"ref": "width"}, "kernel_size": 1}, "conv")
    p.add_node("Add", node_id="add")
    p.add_node("ReLU", node_id="relu")
    for port in ("s", "t"):
        p.add_node("UnitOutput", node_id=port)
    p.connect("a", "conv")
    p.connect("conv", "add", target_port="in0")
    p.connect("b", "add", target_port="in1")
    p.connect("add", "s")
    p.connect("a", "relu")
    p.connect("relu", "t")
    g.add_unit(pair)
    g.add_node("Input", {"shape": [4, 8, 8]}, "image")
    g.add_node("Pair", {"width": 4}, "pair")
    g.add_node("AdaptiveAvgPool2d", node_id="pool")
    g.add_node("ReLU", node_id="relu_t")
    g.connect("image", "pair", target_port="a")
    g.connect("image", "pair", target_port="b")
    g.connect("pair", "pool", "s")
    g.connect("pair", "relu_t", "t")
    return g


def test_an_instance_with_two_inputs_and_two_outputs_is_patched_and_a_lost_port_expands_whole(monkeypatch):
    patches = []
    real = LiveExpansion._apply
    monkeypatch.setattr(LiveExpansion, "_apply", lambda self, *args: patches.append(1) or real(self, *args))
    g = _pair_model()
    live = LiveExpansion(g)
    g.unit_changed.sub(live.unit_changed)
    live.update()
    old = g.node("pair").params
    g.set_param("pair", "width", 8)
    live.instance_changed("pair", old)
    _assert_fresh(live, g)
    inner = g.unit_graph("Pair")
    inner.set_param("conv", "kernel_size", 3)
    _assert_fresh(live, g)
    assert len(patches) == 2
    inner.remove_node("t")  # the model still wires pair.t: the fresh expansion reports it, and so must this
    _assert_fresh(live, g)
    assert len(patches) == 2 and live.expanded.errors


def test_a_node_moved_inside_a_unit_expands_nothing_again(monkeypatch):
    g = resnet_graph(count=40)
    live = LiveExpansion(g)
    g.unit_changed.sub(live.unit_changed)
    live.update()
    expansions = []
    monkeypatch.setattr(LiveExpansion, "_patch", lambda self: expansions.append("patch"))
    monkeypatch.setattr("graphs.units.live.expand", lambda *args, **kwargs: expansions.append("whole"))
    inner = g.unit_graph("BasicBlock")
    inner.move_node("bn1", (300.0, 40.0))
    live.update()
    assert expansions == []
    monkeypatch.undo()
    _assert_fresh(live, g)  # all but positions
    inner.set_param("bn1", "eps", 1e-3)  # a real change is still patched in
    _assert_fresh(live, g)
