"""Units in the document: definitions, instance types, references, events, recursion, renames."""

import pytest

from graphs.document import Graph
from graphs.errors import GraphError, ParamError, UnknownNodeTypeError
from graphs.units import RecursiveUnitError, UnitDefinition, UnitUseError
from tests.graphs.unit_cases import basic_block, resnet_graph


def spy(graph, *names):
    seen = []
    for name in names:
        getattr(graph, name).sub(lambda *args, name=name: seen.append((name, *args)))
    return seen


def test_instance_type_comes_from_the_definition():
    g = resnet_graph()
    block = g.node("block")
    assert block.input_ports() == ["x"] and block.output_ports() == ["y"]
    assert block.resolved_params() == {"planes": 4, "stride": 1}
    assert block.spec.category == "Units" and block.spec.doc == "A ResNet basic block."
    repeat = g.node("layer1")
    assert repeat.input_ports() == ["x"] and repeat.output_ports() == ["y"]
    assert repeat.resolved_params()["overrides"] == {"0": {"stride": 2}}
    assert g.uses_units() and not Graph().uses_units()


def test_instance_params_are_checked_against_the_unit():
    g = resnet_graph()
    with pytest.raises(ParamError, match="no param 'width'"):
        g.add_node("BasicBlock", {"width": 3})
    with pytest.raises(ParamError, match="must be an integer"):
        g.set_param("block", "planes", "wide")
    with pytest.raises(ParamError, match="copy 5"):
        g.set_param("layer1", "overrides", {"5": {"stride": 2}})
    with pytest.raises(ParamError, match="no such param"):
        g.set_param("layer1", "overrides", {"0": {"width": 2}})
    with pytest.raises(ParamError, match="not defined"):
        g.add_node("Repeat", {"unit": "Nothing"})
    with pytest.raises(UnknownNodeTypeError, match="did you mean BasicBlock"):
        g.add_node("BasicBlok")


def test_references_must_name_a_unit_param():
    g = Graph()
    unit = basic_block(g.units)
    with pytest.raises(ParamError, match="unit param 'width', which unit 'BasicBlock' does not have"):
        unit.graph.add_node("Linear", {"out_features": {"ref": "width"}})
    with pytest.raises(ParamError, match="outside a unit"):
        g.add_node("Linear", {"out_features": {"ref": "planes"}})
    conv = unit.graph.node("conv1")
    assert conv.params["out_channels"] == {"ref": "planes"}
    assert conv.resolved_params()["out_channels"] == 8  # the unit's default


def test_a_unit_cannot_contain_itself():
    g = resnet_graph()
    inner = g.unit_graph("BasicBlock")
    with pytest.raises(RecursiveUnitError, match="contain itself"):
        inner.add_node("BasicBlock")
    outer = UnitDefinition("Stage", Graph(units=g.units), {})
    outer.graph.add_node("BasicBlock", node_id="b")
    g.add_unit(outer)
    with pytest.raises(RecursiveUnitError, match="that unit contains it"):
        inner.add_node("Stage")
    with pytest.raises(RecursiveUnitError):
        inner.add_node("Repeat", {"unit": "Stage"})


def test_unit_edits_emit_events_and_instances_follow():
    g = resnet_graph()
    seen = spy(g, "unit_added", "unit_changed", "unit_renamed", "unit_removed", "unit_replaced")
    inner = g.unit_graph("BasicBlock")
    inner.add_node("UnitOutput", node_id="features")
    assert seen == [("unit_changed", "BasicBlock")]
    assert g.node("block").output_ports() == ["y", "features"]
    inner.remove_node("features")
    g.rename_unit("BasicBlock", "ResBlock")
    assert g.node("block").type == "ResBlock" and g.node("layer1").params["unit"] == "ResBlock"
    assert ("unit_renamed", "BasicBlock", "ResBlock") in seen
    inner.add_node("ReLU", node_id="extra")  # still announced, under the new name
    assert seen[-1] == ("unit_changed", "ResBlock")


def test_remove_and_replace_refuse_what_instances_would_not_survive():
    g = resnet_graph()
    with pytest.raises(UnitUseError, match="'block', 'layer1'"):
        g.remove_unit("BasicBlock")
    narrower = basic_block(Graph(units=g.units).units)
    narrower.params = {"stride": 1, "planes": 8}
    del narrower.params["planes"]
    with pytest.raises(GraphError):  # conv1 refers to 'planes', which the new params lack
        g.replace_unit(narrower)
    renamed_port = basic_block(g.units)
    renamed_port.graph.remove_node("y")
    renamed_port.graph.add_node("UnitOutput", node_id="out")
    with pytest.raises(UnitUseError, match="output 'y'"):
        g.replace_unit(renamed_port)
    assert g.node("block").output_ports() == ["y"]  # the old definition is back
    wider = basic_block(g.units)
    wider.params = {"planes": 8, "stride": 1, "groups": 1}
    old = g.replace_unit(wider)
    assert old.params == {"planes": 8, "stride": 1} and g.units["BasicBlock"] is wider
    g.remove_node("block")
    g.remove_node("layer1")
    assert g.remove_unit("BasicBlock") is wider and "BasicBlock" not in g.units


def test_unit_names_and_params_are_checked():
    g = Graph()
    for name in ("Conv2d", "3D", "class", "Repeat"):
        with pytest.raises(GraphError):
            g.add_unit(UnitDefinition(name, Graph(units=g.units)))
    with pytest.raises(ParamError, match="a default must be"):
        g.add_unit(UnitDefinition("Block", Graph(units=g.units), {"size": {"a": 1}}))
    with pytest.raises(ParamError, match="Python name other than"):
        g.add_unit(UnitDefinition("Block", Graph(units=g.units), {"count": 1}))
    g.add_unit(UnitDefinition("Block", Graph(units=g.units), {"k": [3, 3], "act": "relu", "p": 0.1, "on": True}))
    with pytest.raises(GraphError, match="already exists"):
        g.add_unit(UnitDefinition("Block", Graph(units=g.units)))


def test_copy_and_snapshot_cover_units():
    g = resnet_graph()
    other = g.copy()
    assert other.snapshot() == g.snapshot() and "units" in g.snapshot()
    changed = spy(g, "unit_changed")
    other.unit_graph("BasicBlock").remove_node("relu2")
    assert "relu2" in g.unit_graph("BasicBlock").node_ids() and changed == []
    assert other.units is not g.units and other.unit_graph("BasicBlock").units is other.units
    assert "units" not in Graph().snapshot()


def test_copied_nodes_take_their_units_into_another_project():
    from graphs.units.transfer import paste_units, renamed_unit_type, units_needed

    source = resnet_graph()
    stage = UnitDefinition("Stage", Graph(units=source.units), {})
    stage.graph.add_node("UnitInput", node_id="x")
    stage.graph.add_node("Repeat", {"unit": "BasicBlock", "count": 2}, "blocks")
    source.add_unit(stage)
    source.add_node("Stage", node_id="stage")
    needed = units_needed(source, ["stage", "stem"])
    assert [d.name for d in needed] == ["BasicBlock", "Stage"]
    target = resnet_graph()  # has a BasicBlock of its own, the same
    assert paste_units(target, needed) == {} and "Stage" in target.units
    other = Graph()
    clash = UnitDefinition("BasicBlock", Graph(units=other.units), {"k": 1})  # another unit of the same name
    other.add_unit(clash)
    added = []
    renames = paste_units(other, units_needed(source, ["stage"]), add=lambda d: (added.append(d.name),
                                                                                 other.add_unit(d)))
    assert renames == {"BasicBlock": "BasicBlock2"} and added == ["BasicBlock2", "Stage"]
    assert other.unit_graph("Stage").node("blocks").params["unit"] == "BasicBlock2"
    assert renamed_unit_type({"id": "b", "type": "BasicBlock"}, renames)["type"] == "BasicBlock2"


def test_a_diff_names_edited_units_and_their_instances():
    from graphs.diff import graph_diff

    a = resnet_graph()
    b = a.copy()
    assert graph_diff(a, b).empty
    b.unit_graph("BasicBlock").set_param("conv1", "kernel_size", 5)
    diff = graph_diff(a, b)
    assert diff.units_changed == ["BasicBlock"] and diff.as_dict()["units_changed"] == ["BasicBlock"]
    assert set(diff.changed) == {"block", "layer1"}
    assert diff.changed["block"]["unit definition"] == ("BasicBlock", "BasicBlock")


def test_each_unit_edit_is_undone_by_its_inverse():
    g = resnet_graph()
    before = g.snapshot()
    g.remove_node("layer1")
    g.remove_node("block")
    removed = g.remove_unit("BasicBlock")
    g.add_unit(removed)
    assert g.unit_graph("BasicBlock") is removed.graph
    g.rename_unit("BasicBlock", "ResBlock")
    g.rename_unit("ResBlock", "BasicBlock")
    changed = basic_block(g.units)
    changed.doc = "changed"
    old = g.replace_unit(changed)
    g.replace_unit(old)
    inner = g.unit_graph("BasicBlock")
    inner.add_node("ReLU", node_id="spare")
    inner.remove_node("spare")
    assert {k: v for k, v in g.snapshot().items() if k == "units"} == {k: v for k, v in before.items() if k == "units"}
    seen = spy(g, "unit_changed")
    old.graph.add_node("ReLU", node_id="spare")  # the definition put back is the one announced
    assert seen == [("unit_changed", "BasicBlock")]
