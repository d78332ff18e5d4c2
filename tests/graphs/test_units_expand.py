"""`expand`: flat ids, references, Repeat copies and overrides, nesting, and errors mapped back."""

from graphs.document import Graph
from graphs.errors import MissingInputError, UnknownPortError
from graphs.units import expand
from graphs.validate import validate
from tests.graphs.unit_cases import resnet_graph, stage_unit, too_large_graph


def test_ids_are_dotted_and_wires_join_through_the_ports():
    e = expand(resnet_graph())
    ids = e.graph.node_ids()
    assert ids[:3] == ["image", "stem", "block.conv1"]
    assert {"layer1.0.conv1", "layer1.1.shortcut_bn", "fc"} <= set(ids)
    assert not any(e.graph.node(i).type in ("UnitInput", "UnitOutput", "Repeat", "BasicBlock") for i in ids)
    wires = {(w.source, w.target, w.target_port) for w in e.graph.edges()}
    assert ("stem", "block.conv1", "in") in wires and ("stem", "block.shortcut", "in") in wires
    assert ("block.relu2", "layer1.0.conv1", "in") in wires  # instance -> Repeat
    assert ("layer1.0.relu2", "layer1.1.shortcut", "in") in wires  # copy 0 -> copy 1
    assert ("layer1.1.relu2", "pool", "in") in wires
    assert e.outputs == {("block", "y"): ("block.relu2", "out"), ("layer1", "y"): ("layer1.1.relu2", "out")}
    assert e.errors == [] and validate(e.graph) == []


def test_references_take_the_instance_values_and_overrides_one_copy():
    e = expand(resnet_graph(count=3))
    params = {i: e.graph.node(i).params for i in e.graph.node_ids()}
    assert params["block.conv1"]["out_channels"] == 4 and params["block.conv1"]["stride"] == 1
    assert params["layer1.0.conv1"]["out_channels"] == 8 and params["layer1.0.conv1"]["stride"] == 2
    assert params["layer1.0.shortcut"]["stride"] == 2
    assert params["layer1.1.conv1"]["stride"] == 1 and params["layer1.2.conv1"]["stride"] == 1
    assert [s.prefix for s in e.scopes] == ["block", "layer1", "layer1.0", "layer1.1", "layer1.2"]
    assert e.origin("layer1.2.bn1") == ("layer1", ("2", "bn1")) and e.origin("fc") == ("fc", ())


def test_units_nest_and_pass_their_params_down():
    g = resnet_graph()
    g.add_unit(stage_unit(g.units))
    g.remove_node("layer1")
    g.add_node("Stage", {"width": 12}, "layer2")
    g.connect("block", "layer2", "y", "x")
    g.connect("layer2", "pool", "y")
    e = expand(g)
    assert e.graph.node("layer2.first.conv1").params["out_channels"] == 12
    assert e.graph.node("layer2.rest.1.conv2").params["out_channels"] == 12
    assert e.origin("layer2.rest.1.conv2") == ("layer2", ("rest", "1", "conv2"))
    assert validate(g) == []


def test_an_error_inside_an_instance_points_at_it_and_names_the_inner_node():
    g = resnet_graph()
    g.unit_graph("BasicBlock").disconnect(next(w for w in g.unit_graph("BasicBlock").edges() if w.target == "bn2"))
    errors = validate(g)
    assert {e.node for e in errors} == {"block", "layer1"}
    messages = [e.message for e in errors]
    assert any(m.startswith("block (BasicBlock) › bn2: ") for m in messages)
    assert any(m.startswith("layer1.1 (BasicBlock) › bn2: ") for m in messages)
    assert all(isinstance(e, MissingInputError) for e in errors)
    assert errors[0].inner == "block.bn2" and errors[0].inner_port == "in" and errors[0].port is None


def test_open_instance_inputs_and_wrong_ports_are_reported_on_the_instance():
    g = resnet_graph()
    g.disconnect(g.in_edges("block")[0])
    errors = validate(g)
    assert any(e.node == "block" and e.port == "x" and "input 'x' of unit 'BasicBlock' is not connected" in e.message
               for e in errors)
    g.connect("stem", "block", target_port="x")
    assert validate(g) == []
    h = resnet_graph()
    h.connect("stem", "block", "out", "skip", check=False)  # as a file could hold it
    errors = validate(h)
    assert any(isinstance(e, UnknownPortError) and e.node == "block" and "no such input" in e.message for e in errors)


def test_a_graph_without_units_is_its_own_expansion():
    g = Graph()
    g.add_node("Input", {"shape": [3]}, "x")
    assert expand(g).graph is g


def test_a_repeat_of_a_two_output_unit_is_reported():
    g = resnet_graph()
    g.unit_graph("BasicBlock").add_node("UnitOutput", node_id="extra")
    g.unit_graph("BasicBlock").connect("bn1", "extra")
    errors = validate(g)
    assert any(e.node == "layer1" and "one input and one output" in e.message for e in errors)


def test_a_model_too_large_to_expand_is_refused_not_built():
    g = too_large_graph()
    errors = validate(g)
    assert len(errors) == 1 and "at most 200,000 are allowed" in errors[0].message
    assert not expand(g).complete and len(expand(g).graph) == 0


def test_unit_ports_outside_a_unit_are_reported():
    g = Graph()
    g.add_node("Input", {"shape": [3]}, "x")
    g.add_node("UnitOutput", node_id="y")
    g.connect("x", "y")
    assert any(e.node == "y" and "belongs inside one" in e.message for e in validate(g))
