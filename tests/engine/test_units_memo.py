"""A unit body expanded once and replayed for its like copies (`graphs.units.replay`), and a layer's
outcome shared by the layers of equal params fed equal specs (`ShapeInference._outcome`), give exactly
what expanding and inferring every copy on its own gives: layers, wires, scopes, shapes and errors, an
error inside one copy only included."""

import pytest

from engine.shape_rules import infer_node
from engine.shapes import ShapeInference, infer
from graphs.document import Graph
from graphs.errors import ShapeError
from graphs.units import UnitDefinition, expand
from graphs.units.expand import _Builder
from tests.engine.test_units_live_inference import _picture
from tests.graphs.test_units_live import mixed_units_model, random_edits
from tests.graphs.unit_cases import basic_block, resnet_graph


@pytest.fixture
def unshared(monkeypatch):
    """Every body expanded on its own and every layer's rule run for it alone: the reference."""

    def plain_outcome(self, node_id, inputs):
        try:
            return inputs, infer_node(node_id, self._types[node_id], self._params[node_id], inputs,
                                      self._specs[node_id].op)
        except ShapeError as error:
            return inputs, error

    def reference(action):
        with monkeypatch.context() as patch:
            patch.setattr(_Builder, "_body", lambda self, graph, ctx: self._scope(graph, ctx))
            patch.setattr(ShapeInference, "_outcome", plain_outcome)
            return action()
    return reference


def kernel_model(count: int = 12) -> Graph:
    """Input [4, 8, 8] -> a Repeat of `count` Blocks (a conv of kernel `k`, padding `k // 2`, and a ReLU)
    -> two parallel instances of Block -> Add: copies and instances that expand and infer alike."""
    g = Graph()
    unit = UnitDefinition("Block", Graph(units=g.units), {"k": 3, "pad": 1, "width": 4})
    unit.graph.add_node("UnitInput", node_id="x")
    unit.graph.add_node("Conv2d", {"out_channels": {"ref": "width"}, "kernel_size": {"ref": "k"},
                                   "padding": {"ref": "pad"}}, "conv")
    unit.graph.add_node("ReLU", node_id="relu")
    unit.graph.add_node("UnitOutput", node_id="y")
    unit.graph.connect("x", "conv")
    unit.graph.connect("conv", "relu")
    unit.graph.connect("relu", "y")
    g.add_unit(unit)
    g.add_node("Input", {"shape": [4, 8, 8]}, "image")
    g.add_node("Repeat", {"unit": "Block", "count": count}, "blocks", position=(10.5, 3.25))
    g.add_node("Block", {}, "left")
    g.add_node("Block", {}, "right")
    g.add_node("Add", node_id="add")
    g.connect("image", "blocks", target_port="x")
    g.connect("blocks", "left", "y", "x")
    g.connect("blocks", "right", "y", "x")
    g.connect("left", "add", "y", "in0")
    g.connect("right", "add", "y", "in1")
    return g


ONE_COPY_BROKEN = [  # an override of `kernel_model`'s copy 5 that breaks it, and how its errors begin
    ({"k": 9, "pad": 0}, "blocks.5 (Block) › conv"),  # a kernel larger than the copy's input: a shape error
    ({"width": 0}, "blocks.5 (Block) › conv"),  # a width no conv can have: a param error
]


def _expansion(expanded):
    graph = expanded.graph
    return ([(n.id, n.type, n.params, n.position, n.trainable, n.lr_mult) for n in graph.nodes()],
            graph.edges(), expanded.origins, expanded.scopes, expanded.scope_outputs, expanded.outputs,
            [(type(e), e.node, e.message) for e in expanded.errors])


@pytest.mark.parametrize("make", [lambda: resnet_graph(5), mixed_units_model, kernel_model])
def test_a_replayed_expansion_equals_one_expanding_every_copy(make, unshared):
    g = make()
    g.set_training_options(g.node_ids_of_type("Repeat")[0], lr_mult=0.5)
    assert _expansion(expand(g)) == unshared(lambda: _expansion(expand(g)))


def test_copies_with_an_override_or_a_switch_are_expanded_as_their_own_values_say(unshared):
    g = mixed_units_model()
    g.set_params("layer1", {**g.node("layer1").params, "overrides": {"1": {"planes": 6}, "2": {"stride": 2}}})
    g.set_params("layer3", {**g.node("layer3").params, "overrides": {"1": {"project": True}}})
    replayed = expand(g)
    assert _expansion(replayed) == unshared(lambda: _expansion(expand(g)))
    assert replayed.graph.has_node("layer3.1.shortcut") and not replayed.graph.has_node("layer3.0.shortcut")


def test_each_shape_rule_runs_once_for_the_copies_alike(monkeypatch):
    import engine.shapes as shapes

    g = kernel_model(count=30)
    runs = []
    real = shapes.infer_node
    monkeypatch.setattr(shapes, "infer_node", lambda node_id, *args: runs.append(node_id) or real(node_id, *args))
    result = infer(g)
    assert result.errors == []
    # conv and relu of copy 0, then those of copy 1 (fed the copy's width, 4, as copy 0 was) are shared
    assert len([node_id for node_id in runs if node_id.startswith("blocks.")]) == 2
    assert result.flat.info["blocks.29.conv"] is result.flat.info["blocks.1.conv"]


@pytest.mark.parametrize("override, where", ONE_COPY_BROKEN)
def test_an_error_inside_one_copy_only_is_that_copys_and_the_rest_as_fresh(override, where, unshared):
    g = kernel_model(count=12)
    live = ShapeInference(g)
    assert live.result().errors == []
    g.set_params("blocks", {**g.node("blocks").params, "k": 5, "pad": 2})  # every copy changes
    assert _picture(live.result()) == unshared(lambda: _picture(infer(g)))
    g.set_params("blocks", {**g.node("blocks").params, "overrides": {"5": override}})
    result = live.result()
    assert _picture(result) == unshared(lambda: _picture(infer(g)))
    errors = [error for error in result.errors if error.node == "blocks"]
    assert errors and all(error.message.startswith(where) for error in errors)
    assert "blocks.4.relu" in result.flat.info and "blocks.6.conv" not in result.flat.info
    g.set_params("blocks", {**g.node("blocks").params, "overrides": {}})
    assert _picture(live.result()) == unshared(lambda: _picture(infer(g)))
    live.close()


def test_two_instances_broken_alike_each_report_their_own_error(unshared):
    g = kernel_model(count=2)
    for instance in ("left", "right"):
        g.set_params(instance, {"k": 11, "pad": 0})
    result = infer(g)
    assert sorted(error.node for error in result.errors) == ["left", "right"]
    assert _picture(result) == unshared(lambda: _picture(infer(g)))


def test_live_results_equal_unshared_fresh_ones_after_random_unit_edits_and_undo(unshared):
    g = mixed_units_model()
    live = ShapeInference(g)
    for _ in random_edits(g, 11, 30):
        assert _picture(live.result()) == unshared(lambda: _picture(infer(g)))
    live.close()


def test_a_shared_layer_inside_a_repeated_unit_names_its_own_copys_owner(unshared):
    g = resnet_graph(4)
    unit = basic_block(g.units, "Twin")
    unit.graph.add_node("Conv2d", {"out_channels": {"ref": "planes"}, "kernel_size": 3, "padding": 1,
                                   "bias": False, "shares": "conv2"}, "again")
    g.add_unit(unit)
    twin = g.unit_graph("Twin")
    twin.disconnect(twin.edge_into("relu2", "in"))
    twin.connect("add", "again")
    twin.connect("again", "relu2")
    g.set_params("layer1", {**g.node("layer1").params, "unit": "Twin"})
    replayed = expand(g)
    assert replayed.graph.live_node("layer1.3.again").params["shares"] == "layer1.3.conv2"
    assert _expansion(replayed) == unshared(lambda: _expansion(expand(g)))
    assert _picture(infer(g)) == unshared(lambda: _picture(infer(g)))
