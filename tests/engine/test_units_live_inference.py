"""The editor's inference of a model with units (`LiveUnitsInference`), patched edit by edit, gives what a
fresh inference gives: shapes, params and MACs per node and per instance, and errors."""

import graphs.units.live as live_module
from engine.shapes import ShapeInference, infer
from engine.unit_shapes import ScopeTotals, scope_totals
from graphs.units import expand
from tests.graphs.test_units_live import mixed_units_model, random_edits
from tests.graphs.unit_cases import resnet_graph


def _picture(result):
    return ({node: ({p: s.shape for p, s in info.outputs.items()}, info.params, info.macs)
             for node, info in result.info.items()},
            {node: {p: s.shape for p, s in specs.items()} for node, specs in result.inputs.items()},
            sorted((e.node, e.message) for e in result.errors))


def test_the_live_result_equals_a_fresh_one_after_random_unit_edits_and_undo():
    g = mixed_units_model()
    live = ShapeInference(g)
    for _ in random_edits(g, 7, 40):
        assert _picture(live.result()) == _picture(infer(g))
    live.close()


def test_kept_scope_totals_follow_the_layers_that_changed():
    g = resnet_graph(count=4)
    live = ShapeInference(g)
    totals = ScopeTotals()
    first = live.result()
    assert totals.update(first.expanded, first.flat) == scope_totals(first.expanded, first.flat)
    for params in ({"planes": 6}, {"count": 2}, {"overrides": {"1": {"planes": 12}}}):
        g.set_params("layer1", {**g.node("layer1").params, **params})
        result = live.result()
        assert totals.update(result.expanded, result.flat) == scope_totals(result.expanded, result.flat)
        assert result.info["layer1"].params == sum(info.params for node_id, info in result.flat.info.items()
                                                   if node_id.startswith("layer1."))
    live.close()


def test_a_layer_of_the_model_put_back_by_undo_takes_its_place_in_the_kept_order():
    g = resnet_graph(count=3)
    live = ShapeInference(g)
    live.result()
    index, node = g.index_of("flatten"), g.node("flatten")
    wires = g.in_edges("flatten") + g.out_edges("flatten")
    g.remove_node("flatten")  # between two layers of the model: mirrored on the kept graph, not re-expanded
    live.result()
    g.add_node(node.type, node.params, node.id, node.position, index=index)
    for wire in wires:
        g.connect(wire.source, wire.target, wire.source_port, wire.target_port)
    result = live.result()
    assert result.expanded.graph.node_ids() == expand(g).graph.node_ids()
    assert _picture(result) == _picture(infer(g))
    live.close()


def test_a_layer_put_on_the_wire_out_of_a_repeat_patches_only_its_last_copy(monkeypatch):
    g = resnet_graph(count=40)
    live = ShapeInference(g)
    live.result()
    expansions = []
    real = live_module.expand
    monkeypatch.setattr(live_module, "expand", lambda graph, into: expansions.append(1) or real(graph, into=into))
    flat = live._units.flat
    touched = []
    flat.edge_added.sub(lambda edge: touched.append(edge.target))
    g.disconnect(g.edge_into("pool", "in"))
    g.add_node("Dropout", {"p": 0.1}, "drop")
    g.connect("layer1", "drop", "y")
    g.connect("drop", "pool")
    result = live.result()
    assert expansions == [] and sorted(touched) == ["drop", "pool"]
    assert [e.source for e in flat.in_edges("drop")] == ["layer1.39.relu2"]
    assert result.expanded.graph.node_ids() == expand(g).graph.node_ids()
    assert _picture(result) == _picture(infer(g))
    live.close()
