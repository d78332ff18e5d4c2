"""A unit's params made in the editor: the Unit Parameters panel (add, rename, set a default, remove,
each one undo step), linking an inner param to a unit param from the inspector, the instance's
editors per type, and the units in Tab quick-add."""

import pytest
from PySide6.QtWidgets import QCheckBox, QMessageBox

from gui.canvas.quick_add import rank
from gui.units import links
from gui.units import params as unit_params


@pytest.fixture
def block_window(cnn_window):
    """The small CNN with conv -> act grouped into unit Block (instance block_1), Block open."""
    cnn_window.scene.select_nodes(["conv", "act"])
    assert cnn_window.units.group_selection("Block") == "block_1"
    cnn_window.units.open_instance("block_1")
    cnn_window.document.flush()
    return cnn_window


def inspect(window, node_id):
    window.scene.select_nodes([node_id] if node_id else [])
    window.inspector.show_node(node_id)
    return window.inspector


def block(window):
    return window.document.graph.units["Block"]


def test_new_unit_param_from_a_value_links_it_in_one_undo_step(block_window):
    doc = block_window.document
    inspector = inspect(block_window, "conv")
    steps = doc.undo_stack.count()
    before = doc.graph.snapshot()
    assert links.link_new(inspector, "out_channels", "planes")
    assert doc.undo_stack.count() == steps + 1
    assert block(block_window).params == {"planes": 8}
    assert doc.graph.unit_graph("Block").node("conv").params["out_channels"] == {"ref": "planes"}
    row = inspector.rows["out_channels"]
    assert row.link_label.text() == "= planes" and not row.link_label.isHidden()
    assert ("out_channels", "= planes") in block_window.scene.node_item("conv").key_params  # on the card too
    assert row.editor.spin.isHidden()  # the value is the instances' to set
    doc.undo_stack.undo()
    assert doc.graph.snapshot() == before
    assert doc.scope and doc.scope[-1].unit == "Block"  # still editing the unit


def test_link_to_an_existing_param_and_unlink(block_window):
    doc = block_window.document
    panel = block_window.inspector.unit_params
    assert panel.add("width", 16)
    inspector = inspect(block_window, "conv")
    menu_names = unit_params.linkable(doc.graph, "Block", "int")
    assert menu_names == ["width"]
    assert links.link(inspector, "out_channels", "width")
    body = doc.graph.unit_graph("Block")
    assert body.node("conv").params["out_channels"] == {"ref": "width"}
    doc.flush()
    # the instance takes the default: 16 channels out of the block
    assert doc.result.flat.info["block_1.conv"].outputs["out"].shape[0] == 16
    assert links.unlink(inspector, "out_channels")
    assert body.node("conv").params["out_channels"] == 16
    assert not inspector.rows["out_channels"].editor.spin.isHidden()
    assert inspector.rows["out_channels"].link_label.isHidden()


def test_a_param_of_another_type_is_not_offered(block_window):
    panel = block_window.inspector.unit_params
    assert panel.add("use_bias", True)
    assert unit_params.linkable(block_window.document.graph, "Block", "int") == []
    assert unit_params.linkable(block_window.document.graph, "Block", "bool") == ["use_bias"]


def test_rename_updates_refs_instances_and_repeat_overrides_in_one_step(block_window):
    doc = block_window.document
    links.link_new(inspect(block_window, "conv"), "out_channels", "planes")
    block_window.units.leave()
    model = doc.graph
    doc.set_param("block_1", "planes", 4)
    repeat = doc.add_node("Repeat", (0, 400), {"unit": "Block", "count": 2, "planes": 6,
                                                "overrides": {"1": {"planes": 3}}})
    before = model.snapshot()
    block_window.units.open_instance("block_1")
    steps = doc.undo_stack.count()
    assert block_window.inspector.unit_params.rename("planes", "width")
    assert doc.undo_stack.count() == steps + 1
    assert block(block_window).params == {"width": 8}
    assert model.unit_graph("Block").node("conv").params["out_channels"] == {"ref": "width"}
    assert model.node("block_1").params == {"width": 4}
    assert model.node(repeat).params["width"] == 6
    assert model.node(repeat).params["overrides"] == {"1": {"width": 3}}
    doc.undo_stack.undo()
    assert model.snapshot() == before


def test_a_bad_or_taken_name_is_refused_and_changes_nothing(block_window):
    doc = block_window.document
    panel = block_window.inspector.unit_params
    panel.add("planes", 8)
    before, steps = doc.graph.snapshot(), doc.undo_stack.count()
    assert not panel.rename("planes", "count")  # reserved for Repeat
    assert not panel.error.isHidden() and "count" in panel.error.text()
    assert not panel.add("planes", 3)
    assert "already" in panel.error.text()
    assert doc.graph.snapshot() == before and doc.undo_stack.count() == steps


def test_remove_asks_first_and_puts_the_default_in_the_refs(block_window, monkeypatch):
    doc = block_window.document
    links.link_new(inspect(block_window, "conv"), "out_channels", "planes")
    panel = block_window.inspector.unit_params
    asked = []

    def answer(*args, **_kw):
        asked.append(args[2])
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", answer)
    assert not panel.remove("planes")
    assert asked and "'conv.out_channels'" in asked[0]
    assert "planes" in block(block_window).params
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    block_window.units.leave()
    doc.set_param("block_1", "planes", 4)
    block_window.units.open_instance("block_1")
    steps = doc.undo_stack.count()
    assert panel.remove("planes")
    assert doc.undo_stack.count() == steps + 1
    assert block(block_window).params == {}
    assert doc.graph.unit_graph("Block").node("conv").params["out_channels"] == 8
    assert "planes" not in doc.graph.node("block_1").params
    doc.undo_stack.undo()
    assert doc.graph.node("block_1").params == {"planes": 4}
    assert doc.graph.unit_graph("Block").node("conv").params["out_channels"] == {"ref": "planes"}


def test_the_default_editor_follows_the_type_and_commits_one_step(block_window):
    doc = block_window.document
    panel = block_window.inspector.unit_params
    panel.add("planes", 8)
    panel.add("use_bias", False)
    assert isinstance(panel.editors["use_bias"].check, QCheckBox)
    steps = doc.undo_stack.count()
    panel.editors["planes"].set_value(12)
    assert panel.commit_default("planes")
    assert block(block_window).params["planes"] == 12
    assert doc.undo_stack.count() == steps + 1
    doc.undo_stack.undo()
    assert block(block_window).params["planes"] == 8


def test_the_inspector_shows_the_units_params_when_nothing_is_selected(block_window):
    inspector = inspect(block_window, None)
    assert not inspector.unit_params.isHidden()
    assert "Block" in inspector.unit_params.title.text()
    block_window.units.leave()
    assert inspect(block_window, None).unit_params.isHidden()


def test_unit_parameters_dialog_from_the_edit_menu(block_window):
    assert block_window.units.params_action.isEnabled()
    dialog = block_window.units.edit_params()
    assert dialog.isVisible()
    assert dialog.panel.add("planes", 8)
    assert "planes" in dialog.panel.editors
    dialog.close()
    block_window.units.leave()
    assert not block_window.units.params_action.isEnabled()


def test_the_instances_inspector_has_an_editor_per_type(block_window):
    panel = block_window.inspector.unit_params
    panel.add("planes", 8)
    panel.add("use_bias", True)
    block_window.units.leave()
    inspector = inspect(block_window, "block_1")
    assert isinstance(inspector.editor("use_bias").check, QCheckBox)
    assert inspector.editor("use_bias").value() is True
    inspector.editor("use_bias").check.setChecked(False)  # commits
    assert block_window.document.graph.node("block_1").params["use_bias"] is False
    assert inspector.rows["planes"].link_button is None  # no links outside a unit


def test_quick_add_offers_the_projects_units(block_window):
    assert rank("blo", ["Block"])[0] == "Block"
    assert "Block" in rank("unit", ["Block"])
    popup = block_window.view.quick_add
    popup.open_at(block_window.view.mapToGlobal(block_window.view.rect().center()))
    popup.search.setText("Block")
    assert popup.current() == "Block"
    popup.hide()


def test_the_link_menu_offers_compatible_params_new_and_unlink(block_window):
    from PySide6.QtWidgets import QMenu

    block_window.inspector.unit_params.add("planes", 8)
    block_window.inspector.unit_params.add("use_bias", True)
    inspector = inspect(block_window, "conv")
    spec = block_window.document.scope_graph.node("conv").spec.param("out_channels")
    menu = QMenu()
    links.fill_menu(inspector, spec, menu)
    use, unlink_action = [a for a in menu.actions() if not a.isSeparator()]
    names = [a.text() for a in use.menu().actions() if not a.isSeparator()]
    assert names == ["planes", "New Unit Parameter from This Value…"]
    assert not unlink_action.isEnabled()
    use.menu().actions()[0].trigger()  # Use "planes"
    assert block_window.document.scope_graph.node("conv").params["out_channels"] == {"ref": "planes"}
    links.fill_menu(inspector, spec, menu)
    assert menu.actions()[-1].isEnabled()  # Unlink


def test_freezing_an_inner_layer_from_the_inspector_freezes_it_in_the_expansion(block_window):
    from graphs.units import expand

    inspector = inspect(block_window, "conv")
    assert inspector.training_row is not None
    inspector.training_row.trainable.click()  # one undo step, on the unit's graph
    assert not block_window.document.graph.unit_graph("Block").node("conv").trainable
    flat = expand(block_window.document.graph).graph
    assert not flat.node("block_1.conv").trainable and flat.node("block_1.act").trainable


def test_a_size_param_links_to_an_int_or_a_list_and_the_instance_sets_it(block_window):
    doc = block_window.document
    panel = block_window.inspector.unit_params
    panel.add("k", 5)
    panel.add("flag", False)
    assert unit_params.linkable(doc.graph, "Block", "int_tuple") == ["k"]
    assert links.link(inspect(block_window, "conv"), "kernel_size", "k")
    block_window.units.leave()
    doc.set_param("block_1", "k", 1)
    doc.flush()
    assert doc.result.flat.info["block_1.conv"].outputs["out"].shape[-1] == 8  # 8x8 in, 1x1 kernel


def test_rename_follows_an_instance_nested_in_another_unit(block_window):
    doc = block_window.document
    links.link_new(inspect(block_window, "conv"), "out_channels", "planes")
    block_window.units.leave()
    doc.set_param("block_1", "planes", 4)
    block_window.scene.select_nodes(["block_1"])
    outer = block_window.units.group_selection("Outer")  # Outer holds the instance of Block
    inner_graph = doc.graph.unit_graph("Outer")
    assert inner_graph.node("block_1").params == {"planes": 4}
    block_window.units.open_instance(outer)
    block_window.units.open_instance("block_1")
    assert [level.unit for level in doc.scope] == ["Outer", "Block"]
    assert block_window.inspector.unit_params.rename("planes", "width")
    assert inner_graph.node("block_1").params == {"width": 4}
    doc.flush()
    assert doc.result.flat.info[f"{outer}.block_1.conv"].outputs["out"].shape[0] == 4


def test_renaming_or_removing_a_switch_keeps_the_optional_layers_consistent():
    from tests.graphs.optional_cases import optional_resnet

    model = optional_resnet()
    for step in unit_params.plan_rename(model, "BasicBlock", "downsample", "project"):
        unit_params.apply(model, step)
    unit = model.units["BasicBlock"]
    assert unit.optional == {"downsample_0": "project", "downsample_1": "project"}
    assert model.node("layer2").params["overrides"]["0"]["project"] is True
    assert unit.optional_problems() == []
    for step in unit_params.plan_remove(model, "BasicBlock", "project"):
        unit_params.apply(model, step)
    assert model.units["BasicBlock"].optional == {}
