"""Units in the editor: Group and Ungroup (one undo step each), editing a unit in place with the
breadcrumb, how an instance is drawn, the palette's Units section, copy and paste carrying unit
definitions, and errors inside an instance."""

import json

import pytest

from graphs.project import Project, project_from_dict
from gui import clipboard
from gui.units import core
from gui.units.grouping import plan_group

BLOCK = ["conv", "act"]


@pytest.fixture
def unit_window(cnn_window):
    """The small CNN with conv -> act grouped into unit Block (instance block_1)."""
    cnn_window.scene.select_nodes(BLOCK)
    instance = cnn_window.units.group_selection("Block")
    assert instance == "block_1"
    cnn_window.document.flush()
    return cnn_window


def test_group_makes_a_unit_and_one_instance_in_one_undo_step(cnn_window):
    doc = cnn_window.document
    before = doc.graph.snapshot()
    steps = doc.undo_stack.count()
    cnn_window.scene.select_nodes(BLOCK)
    instance = cnn_window.units.group_selection("Block")
    graph = doc.graph
    assert doc.undo_stack.count() == steps + 1
    assert list(graph.units) == ["Block"]
    assert not graph.has_node("conv") and not graph.has_node("act")
    assert graph.node(instance).type == "Block"
    # the crossing wires became the ports: x in (from the Input), out (to Flatten)
    body = graph.unit_graph("Block")
    assert core.input_ports(body) == ["x"] and core.output_ports(body) == ["out"]
    assert {(e.source, e.target, e.target_port) for e in graph.in_edges(instance)} == {("x", instance, "x")}
    assert {(e.source, e.source_port, e.target) for e in graph.out_edges(instance)} == {(instance, "out", "flat")}
    assert {(e.source, e.target) for e in body.edges()} == {("x", "conv"), ("conv", "act"), ("act", "out")}
    # the same shapes and params as before grouping
    result = doc.flush()
    assert not result.errors
    assert result.info["fc"].outputs["out"].shape == (10,)
    assert result.info[instance].params == 8 * 9 + 8
    assert cnn_window.scene.selected_node_ids() == [instance]
    doc.undo_stack.undo()
    assert doc.graph.snapshot() == before
    doc.undo_stack.redo()
    assert list(doc.graph.units) == ["Block"] and doc.graph.has_node(instance)


def test_group_keeps_the_node_order_place(cnn_window):
    cnn_window.scene.select_nodes(BLOCK)
    instance = cnn_window.units.group_selection("Block")
    assert cnn_window.document.graph.node_ids() == ["x", instance, "flat", "fc", "y", "loss"]


def test_ungroup_puts_the_nodes_back_in_one_step(unit_window):
    doc = unit_window.document
    grouped = doc.graph.snapshot()
    steps = doc.undo_stack.count()
    unit_window.scene.select_nodes(["block_1"])
    new_ids = unit_window.units.ungroup_selection()
    assert sorted(new_ids) == ["act", "conv"]
    assert doc.undo_stack.count() == steps + 1
    assert not doc.graph.units  # the unit was used only there: Ungroup removes it too
    assert {(e.source, e.target) for e in doc.graph.edges()} >= {("x", "conv"), ("conv", "act"), ("act", "flat")}
    assert not doc.flush().errors
    doc.undo_stack.undo()
    assert doc.graph.snapshot() == grouped


def test_group_then_ungroup_gives_back_the_same_model(cnn_window):
    doc = cnn_window.document
    before = doc.graph.snapshot()
    cnn_window.scene.select_nodes(BLOCK)
    cnn_window.units.group_selection("Block")
    cnn_window.units.ungroup_selection()
    after = doc.graph.snapshot()
    assert after["edges"] == before["edges"]
    assert {k: v[:2] for k, v in after["nodes"].items()} == {k: v[:2] for k, v in before["nodes"].items()}


def test_ungroup_keeps_the_unit_another_instance_uses(unit_window):
    doc = unit_window.document
    doc.add_node("Block", (0, 400))
    unit_window.scene.select_nodes(["block_1"])
    unit_window.units.ungroup_selection()
    assert list(doc.graph.units) == ["Block"]


@pytest.mark.parametrize("name, why", [
    ("Conv2d", "catalogue"), ("block", "capital"), ("1Block", "class name"), ("", "needs a name"),
])
def test_bad_unit_names_are_refused_with_a_message(cnn_window, dialogs, name, why):
    doc = cnn_window.document
    before = doc.graph.snapshot()
    cnn_window.scene.select_nodes(BLOCK)
    assert cnn_window.units.group_selection(name) is None
    assert doc.graph.snapshot() == before
    assert dialogs.kinds() == ["warning"] and why in dialogs.texts("warning")[0]


def test_a_taken_unit_name_is_refused(unit_window, dialogs):
    unit_window.scene.select_nodes(["fc"])
    assert unit_window.units.group_selection("Block") is None
    assert "already" in dialogs.texts("warning")[0]


def test_the_name_dialog_offers_a_free_default(unit_window, monkeypatch):
    asked = []
    monkeypatch.setattr(unit_window.units, "ask_name", lambda default: asked.append(default) or None)
    unit_window.scene.select_nodes(["fc"])
    assert unit_window.units.group_selection() is None  # cancelled: nothing happens
    assert asked == ["Unit1"]


def test_data_nodes_and_losses_stay_outside(cnn_window, dialogs):
    cnn_window.scene.select_nodes(["x", "conv"])
    assert cnn_window.units.group_selection("Block") is None
    assert "data node" in dialogs.texts("warning")[0]


def test_a_group_with_two_inputs_and_a_fan_out():
    project = Project()
    g = project.graph
    g.add_node("Input", {"shape": [4]}, "a")
    g.add_node("Input", {"shape": [4]}, "b")
    g.add_node("Linear", {"out_features": 4}, "la")
    g.add_node("Linear", {"out_features": 4}, "lb")
    g.add_node("Add", {}, "add")
    g.add_node("ReLU", {}, "r1")
    g.add_node("ReLU", {}, "r2")
    g.connect("a", "la")
    g.connect("b", "lb")
    g.connect("a", "add", target_port="in0")  # a feeds two inner nodes: one port
    g.connect("lb", "add", target_port="in1")
    g.connect("add", "r1")
    g.connect("add", "r2")  # one inner output used twice outside: one port
    plan = plan_group(g, g, ["la", "lb", "add"], "Pair")
    body = plan.definition.graph
    assert core.input_ports(body) == ["x0", "x1"]
    assert core.output_ports(body) == ["out"]
    assert sorted((e.source, e.source_port, e.target_port) for e in plan.edges if e.target == plan.instance.id) == [
        ("a", "out", "x0"), ("b", "out", "x1")]
    assert sorted((e.source_port, e.target) for e in plan.edges if e.source == plan.instance.id) == [
        ("out", "r1"), ("out", "r2")]
    assert sorted((e.source, e.target, e.target_port) for e in body.edges() if e.source == "x0") == [
        ("x0", "add", "in0"), ("x0", "la", "in")]


# ---- edit in place -------------------------------------------------------------
def test_double_click_opens_the_definition_with_a_breadcrumb(unit_window, qtbot):
    doc, scene = unit_window.document, unit_window.scene
    assert not unit_window.units.breadcrumb.isVisible()
    scene.nodeDoubleClicked.emit("block_1")
    assert doc.scope_graph is doc.graph.unit_graph("Block")
    assert unit_window.units.breadcrumb.isVisible()
    assert unit_window.units.breadcrumb.texts() == ["Model", "block_1 (Block)"]
    assert sorted(item.node_id for item in scene.node_items()) == ["act", "conv", "out", "x"]
    # the inner nodes show the shapes of that instance
    assert scene.node_item("conv").shape_text.replace(" ", "") != "?"
    unit_window.units.leave()
    assert doc.scope == [] and scene.node_item("block_1") is not None
    assert scene.selected_node_ids() == ["block_1"]


def test_an_edit_inside_a_unit_changes_every_instance_and_undoes(unit_window):
    doc = unit_window.document
    doc.add_node("Block", (0, 400))
    doc.connect("x", "out", "block_2", "x")
    unit_window.units.open_instance("block_1")
    doc.set_param("conv", "out_channels", 4)
    result = doc.flush()
    assert result.info["block_1"].params == 4 * 9 + 4
    assert result.info["block_2"].params == 4 * 9 + 4
    unit_window.units.leave()
    doc.undo_stack.undo()  # undoing an edit made inside the unit opens the unit again
    assert doc.scope and doc.scope[-1].unit == "Block"
    assert doc.scope_graph.node("conv").params["out_channels"] == 8
    assert doc.flush().info["block_1"].params == 8 * 9 + 8


def test_escape_and_alt_up_go_back(unit_window, qtbot):
    doc = unit_window.document
    unit_window.units.open_instance("block_1")
    assert unit_window.units.up_action.isEnabled()
    unit_window.units.up_action.trigger()
    assert doc.scope == []
    unit_window.units.open_instance("block_1")
    unit_window.units.escape_action.trigger()
    assert doc.scope == []


def test_breadcrumb_links_go_back(unit_window):
    unit_window.units.open_instance("block_1")
    unit_window.units.breadcrumb.go_to(0)
    assert unit_window.document.scope == []


# ---- the look ----------------------------------------------------------------------
def test_an_instance_shows_its_unit_ports_shapes_and_summary(unit_window):
    item = unit_window.scene.node_item("block_1")
    assert item.type_name == "Block"
    assert list(item.inputs) == ["x"] and list(item.outputs) == ["out"]
    assert item.unit_line == "unit · 2 nodes"
    assert item.shape_text.replace(" ", "") != "?"
    assert item.params_count == 80


# ---- palette ------------------------------------------------------------------------
def test_the_palette_lists_the_project_units(unit_window):
    section = unit_window.units.palette_section
    unit_window.document.flush()
    section.refresh()
    assert section.project_names() == ["Block"]
    node_id = unit_window.view.add_node_at("Block", unit_window.view.mapToScene(10, 10))
    assert unit_window.document.graph.node(node_id).type == "Block"


def test_a_library_unit_is_copied_into_the_project(cnn_window, tmp_path, monkeypatch):
    from gui.units import library

    unit = {"name": "Twice", "doc": "ReLU twice", "nodes": [
        {"id": "x", "type": "UnitInput"}, {"id": "r1", "type": "ReLU"}, {"id": "r2", "type": "ReLU"},
        {"id": "out", "type": "UnitOutput"}],
        "edges": [{"source": "x", "target": "r1"}, {"source": "r1", "target": "r2"}, {"source": "r2", "target": "out"}]}
    (tmp_path / "twice.json").write_text(json.dumps(unit))
    monkeypatch.setattr(library, "LIBRARY_DIR", tmp_path)
    monkeypatch.setattr(library.library_units, "__defaults__", (tmp_path,))
    monkeypatch.setattr(library.library_unit, "__defaults__", (tmp_path,))
    doc = cnn_window.document
    steps = doc.undo_stack.count()
    node_id = doc.add_node("library:Twice", (0, 300))
    assert doc.graph.node(node_id).type == "Twice" and "Twice" in doc.graph.units
    assert doc.undo_stack.count() == steps + 1
    doc.undo_stack.undo()
    assert "Twice" not in doc.graph.units and not doc.graph.has_node(node_id)


def test_a_unit_cannot_be_added_inside_itself(unit_window):
    doc = unit_window.document
    unit_window.units.open_instance("block_1")
    before = doc.scope_graph.node_ids()
    assert doc.add_node("Block", (0, 0)) == ""
    assert doc.scope_graph.node_ids() == before


# ---- copy and paste -----------------------------------------------------------------
def test_copy_carries_the_unit_definitions_to_another_project(unit_window):
    data = clipboard.selection_data(unit_window.document.graph, ["block_1"])
    assert [u["name"] for u in data["units"]] == ["Block"]
    text = clipboard.to_text(data)
    unit_window.document.set_project(Project())  # another project
    ids = unit_window.document.paste(json.loads(text))
    graph = unit_window.document.graph
    assert "Block" in graph.units and graph.node(ids[0]).type == "Block"
    unit_window.document.undo_stack.undo()
    assert not graph.units and not len(graph)


def test_pasting_where_the_same_unit_exists_reuses_it(unit_window):
    doc = unit_window.document
    ids = doc.paste(clipboard.selection_data(doc.graph, ["block_1"]))
    assert list(doc.graph.units) == ["Block"] and doc.graph.node(ids[0]).type == "Block"


def test_clipboard_text_without_units_stays_version_1(cnn_window):
    data = clipboard.selection_data(cnn_window.document.graph, ["conv"])
    assert data["version"] == 1 and "units" not in data
    project_from_dict(data, "clipboard")


# ---- errors ---------------------------------------------------------------------------
def test_an_error_inside_an_instance_shows_on_its_badge_naming_the_inner_node(unit_window):
    doc = unit_window.document
    unit_window.units.open_instance("block_1")
    doc.set_param("conv", "kernel_size", 20)  # larger than the 8x8 input
    unit_window.units.leave()
    doc.flush()
    item = unit_window.scene.node_item("block_1")
    assert item.errors and "conv" in item.errors[0]
    unit_window.units.open_instance("block_1")
    assert unit_window.scene.node_item("conv").errors


def test_a_nested_instance_shows_its_shapes_inside_the_outer_unit(unit_window):
    doc = unit_window.document
    unit_window.scene.select_nodes(["block_1", "flat"])
    outer = unit_window.units.group_selection("Stage")
    doc.flush()
    unit_window.units.open_instance(outer)
    assert unit_window.units.breadcrumb.texts() == ["Model", f"{outer} (Stage)"]
    item = unit_window.scene.node_item("block_1")
    assert item.params_count == 80 and item.shape_text.replace(" ", "") not in ("?", "…")
    unit_window.units.open_instance("block_1")
    assert unit_window.units.breadcrumb.texts() == ["Model", f"{outer} (Stage)", "block_1 (Block)"]
    assert unit_window.scene.node_item("conv").params_count == 80
    unit_window.units.breadcrumb.go_to(1)
    assert doc.scope_graph is doc.graph.unit_graph("Stage")


# ---- the model summary, folded per unit -----------------------------------------
def test_the_summary_folds_an_instance_into_its_layers(unit_window):
    summary = unit_window.summary
    summary.refresh()
    assert summary.node_ids() == ["x", "block_1", "flat", "fc", "y", "loss"]
    assert summary.cell_text("block_1", "Type") == "Block (unit)"
    assert summary.cell_text("block_1", "Params") == "80"
    assert summary.model.rows[summary.row_of("block_1")][1][0] == "▸ block_1"
    summary.toggle("block_1")
    assert summary.node_ids() == ["x", "block_1", "block_1.conv", "block_1.act", "flat", "fc", "y", "loss"]
    assert summary.cell_text("block_1.conv", "Params") == "80"
    assert summary.cell_text("block_1.conv", "Output shape") == "[8, 6, 6]"
    assert summary.totals()[1] == "6 nodes"
    summary.nodeActivated.emit("block_1.conv")  # a click on an inner row opens the unit there
    assert unit_window.document.scope[-1].unit == "Block"
    assert unit_window.scene.selected_node_ids() == ["conv"]
    summary.toggle("block_1")
    assert "block_1.conv" not in summary.node_ids()


def test_a_repeat_draws_stacked_and_unfolds_per_copy(unit_window):
    doc = unit_window.document
    node_id = doc.add_node("Repeat", (0, 400), {"unit": "Block", "count": 3})
    doc.connect("x", "out", node_id, "x")
    doc.flush()
    item = unit_window.scene.node_item(node_id)
    assert item.stacked and item.unit_line == "Block ×3 · 2 nodes each"
    assert item.params_count == 80 + 2 * (8 * 8 * 9 + 8)  # copies 1 and 2 take 8 channels in
    summary = unit_window.summary
    summary.toggle(node_id)
    summary.toggle(f"{node_id}.1")
    ids = summary.node_ids()
    assert f"{node_id}.0" in ids and f"{node_id}.2" in ids and f"{node_id}.1.conv" in ids
    unit_window.units.open_instance(node_id)
    assert doc.scope[-1].prefix == f"{node_id}.0"


def test_inside_a_unit_its_ports_show_the_shapes_they_pass(unit_window):
    unit_window.units.open_instance("block_1")
    scene = unit_window.scene
    assert scene.node_item("x").shape_text == scene.node_item("x").shape_text.strip() != "?"
    assert scene.node_item("x").shape_text.replace(" ", "") == "[1,8,8]"
    assert scene.node_item("out").shape_text.replace(" ", "") == "[8,6,6]"
    assert scene.node_item("x").category == "Units"


def test_repeat_instance_makes_a_repeat_in_one_step(unit_window):
    doc = unit_window.document
    grouped = doc.graph.snapshot()
    unit_window.scene.select_nodes(["block_1"])
    assert unit_window.units.repeat_action.isEnabled()
    assert unit_window.units.repeat_selection(2)
    node = doc.graph.node("block_1")
    assert node.type == "Repeat" and node.params["count"] == 2 and node.params["unit"] == "Block"
    assert doc.graph.node_ids().index("block_1") == 1
    result = doc.flush()
    assert not result.errors and result.info["block_1"].params == 80 + 584
    assert unit_window.scene.node_item("block_1").unit_line == "Block ×2 · 2 nodes each"
    doc.undo_stack.undo()
    assert doc.graph.snapshot() == grouped


def test_the_inspector_edits_a_repeat(unit_window):
    doc = unit_window.document
    unit_window.scene.select_nodes(["block_1"])
    unit_window.units.repeat_selection(2)
    unit_window.scene.select_nodes(["block_1"])
    inspector = unit_window.inspector
    assert inspector.node_id == "block_1"
    doc.set_param("block_1", "count", 3)
    doc.set_param("block_1", "overrides", {"2": {}})
    assert doc.graph.node("block_1").params["count"] == 3
    assert unit_window.scene.node_item("block_1").unit_line == "Block ×3 · 2 nodes each"
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.graph.node("block_1").params["count"] == 2


def test_ungroup_of_a_repeat_unrolls_its_copies_with_their_overrides(unit_window):
    doc = unit_window.document
    unit_window.scene.select_nodes(["block_1"])
    unit_window.units.repeat_selection(3)
    before = doc.flush().info["flat"].outputs["out"].shape
    unit_window.scene.select_nodes(["block_1"])
    ids = unit_window.units.ungroup_selection()
    graph = doc.graph
    assert [graph.node(n).type for n in ids] == ["Block"] * 3
    assert [(e.source, e.target) for e in graph.edges() if e.source in ids] == [
        (ids[0], ids[1]), (ids[1], ids[2]), (ids[2], "flat")]
    assert list(graph.units) == ["Block"]
    assert doc.flush().info["flat"].outputs["out"].shape == before
    doc.undo_stack.undo()
    assert graph.node("block_1").type == "Repeat"


def test_pasting_a_different_unit_of_the_same_name_renames_it(unit_window):
    doc = unit_window.document
    data = clipboard.selection_data(doc.graph, ["block_1"])
    data["units"][0]["nodes"] = [n for n in data["units"][0]["nodes"] if n["id"] != "act"]
    data["units"][0]["edges"] = [{"source": "x", "target": "conv"}, {"source": "conv", "target": "out"}]
    ids = doc.paste(data)
    assert list(doc.graph.units) == ["Block", "Block2"]
    assert doc.graph.node(ids[0]).type == "Block2"
    doc.undo_stack.undo()
    assert list(doc.graph.units) == ["Block"]


def test_the_units_keys_reach_their_actions(window):
    from tests.gui.shortcut_check import bound_twice, shortcut_owners

    owners = shortcut_owners(window)
    documented = {"Ctrl+G": "Group into Unit…", "Ctrl+Shift+G": "Ungroup", "Ctrl+Return": "Open Unit Definition",
                  "Alt+Up": "Up to Containing Graph", "Esc": "Leave Unit"}  # docs/editor.md, Keys and mouse
    assert {key: owners.get(key) for key in documented} == {key: [text] for key, text in documented.items()}
    assert bound_twice(window) == {}


def test_a_palette_drag_of_a_unit_carries_its_name(unit_window):
    from gui.canvas.view import NODE_MIME

    section = unit_window.units.palette_section
    item = section.project_group.child(0)
    mime = unit_window.palette.tree.mimeData([item])
    assert bytes(mime.data(NODE_MIME)).decode() == "Block"
    unit_window.palette.search.setText("blo")
    assert not item.isHidden() and not section.project_group.isHidden()
    unit_window.palette.search.setText("conv2d")
    assert item.isHidden()


def test_a_library_unit_whose_name_the_project_uses_comes_in_renamed(unit_window, tmp_path, monkeypatch):
    from gui.units import library

    unit = {"name": "Block", "nodes": [{"id": "x", "type": "UnitInput"}, {"id": "r", "type": "ReLU"},
                                       {"id": "out", "type": "UnitOutput"}],
            "edges": [{"source": "x", "target": "r"}, {"source": "r", "target": "out"}]}
    (tmp_path / "block.json").write_text(json.dumps(unit))
    monkeypatch.setattr(library.library_unit, "__defaults__", (tmp_path,))
    doc = unit_window.document
    node_id = doc.add_node("library:Block", (0, 300))
    assert list(doc.graph.units) == ["Block", "Block2"] and doc.graph.node(node_id).type == "Block2"
    assert core.output_ports(doc.graph.unit_graph("Block")) == ["out"]
    assert len(doc.graph.unit_graph("Block").node_ids()) == 4  # the project's own Block is untouched


def test_a_library_unit_brings_the_units_it_uses(cnn_window, tmp_path, monkeypatch):
    from gui.units import library

    inner = {"name": "Inner", "nodes": [{"id": "x", "type": "UnitInput"}, {"id": "r", "type": "ReLU"},
                                        {"id": "out", "type": "UnitOutput"}],
             "edges": [{"source": "x", "target": "r"}, {"source": "r", "target": "out"}]}
    outer = {"name": "Outer", "nodes": [{"id": "x", "type": "UnitInput"}, {"id": "a", "type": "Inner"},
                                        {"id": "b", "type": "Inner"}, {"id": "out", "type": "UnitOutput"}],
             "edges": [{"source": "x", "target": "a", "target_port": "x"},
                       {"source": "a", "source_port": "out", "target": "b", "target_port": "x"},
                       {"source": "b", "source_port": "out", "target": "out"}]}
    (tmp_path / "pair.json").write_text(json.dumps({"format": "neurocanvas", "version": 2, "name": "pair",
                                                    "units": [outer, inner], "nodes": [], "edges": []}))
    monkeypatch.setattr(library.library_units, "__defaults__", (tmp_path,))
    monkeypatch.setattr(library.library_unit, "__defaults__", (tmp_path,))
    assert [u.name for u in library.library_units()[0]] == ["Inner", "Outer"]
    doc = cnn_window.document
    node_id = doc.add_node("library:Outer", (0, 300))
    assert list(doc.graph.units) == ["Inner", "Outer"] and doc.graph.node(node_id).type == "Outer"
    doc.connect("x", "out", node_id, "x")
    assert doc.flush().info[node_id].outputs["out"].shape == (1, 8, 8)


def test_group_inside_a_unit_nests_a_unit_and_undoes(unit_window):
    doc = unit_window.document
    unit_window.units.open_instance("block_1")
    body = doc.scope_graph
    unit_window.scene.select_nodes(["conv", "act"])
    inner = unit_window.units.group_selection("Inner")
    assert body.node(inner).type == "Inner" and doc.graph.units.contains("Block", "Inner")
    result = doc.flush()
    assert not result.errors and result.info["block_1"].params == 80
    assert unit_window.scene.node_item(inner).params_count == 80  # seen from inside Block
    unit_window.units.leave()
    doc.undo_stack.undo()  # back inside Block, as it was
    assert doc.scope[-1].unit == "Block" and "Inner" not in doc.graph.units
    assert sorted(doc.scope_graph.node_ids()) == ["act", "conv", "out", "x"]


def test_rename_unit_renames_every_use_and_keeps_the_open_unit(unit_window, dialogs):
    doc = unit_window.document
    unit_window.units.open_instance("block_1")
    assert unit_window.units.rename_unit("Conv2d") is False
    assert "catalogue" in dialogs.texts("warning")[0] and list(doc.graph.units) == ["Block"]
    assert unit_window.units.rename_unit("Basic")
    assert list(doc.graph.units) == ["Basic"] and doc.graph.node("block_1").type == "Basic"
    assert doc.scope[-1].unit == "Basic" and doc.scope_graph is doc.graph.unit_graph("Basic")
    assert unit_window.units.breadcrumb.texts() == ["Model", "block_1 (Basic)"]
    doc.undo_stack.undo()
    assert list(doc.graph.units) == ["Block"] and doc.scope[-1].unit == "Block"
