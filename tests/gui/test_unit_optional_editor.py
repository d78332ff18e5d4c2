"""Optional layers of a unit made in the editor: the inspector's "optional" combo (one undo step, a new
switch included), the refusal of a node that cannot be optional, the card's "optional" line, and an
optional node's entry following a rename and going with a removal, in the same undo step."""

import pytest
from PySide6.QtWidgets import QApplication, QInputDialog

from graphs.project import Project
from graphs.units import expand
from gui.units import optional
from tests.graphs.optional_cases import optional_resnet


@pytest.fixture
def block_window(window):
    """The optional ResNet with BasicBlock open (from the palette)."""
    window._set_project(Project(optional_resnet(), name="optional"))
    window.document.flush()
    assert window.units.open_unit("BasicBlock")
    window.document.flush()
    return window


def inspect(window, node_id):
    window.scene.select_nodes([node_id])
    window.inspector.show_node(node_id)
    QApplication.processEvents()
    return window.inspector


def unit(window):
    return window.document.graph.units["BasicBlock"]


def combo_items(inspector):
    combo = inspector.optional_row.editor
    return [combo.itemData(i) for i in range(combo.count())], combo.currentData()


def test_the_combo_shows_the_switch_and_makes_a_layer_optional_in_one_undo_step(block_window):
    doc = block_window.document
    inspector = inspect(block_window, "downsample_0")
    items, current = combo_items(inspector)
    assert items == [None, "downsample", optional.NEW_SWITCH] and current == "downsample"
    inspector = inspect(block_window, "relu1")
    assert combo_items(inspector)[1] is None
    before, steps = doc.graph.snapshot(), doc.undo_stack.count()
    assert optional.choose(inspector, "downsample")
    assert doc.undo_stack.count() == steps + 1
    assert unit(block_window).optional["relu1"] == "downsample"
    assert combo_items(inspector)[1] == "downsample"
    assert ("optional", "if downsample") in block_window.scene.node_item("relu1").key_params
    flat = expand(doc.graph).graph.node_ids()  # layer1's blocks switch it off, layer2.0 on
    assert "layer1.0.relu1" not in flat and "layer2.0.relu1" in flat
    doc.undo_stack.undo()
    assert doc.graph.snapshot() == before
    assert combo_items(inspector)[1] is None
    assert all(name != "optional" for name, _ in block_window.scene.node_item("relu1").key_params)
    doc.undo_stack.redo()
    assert unit(block_window).optional["relu1"] == "downsample"
    assert optional.choose(inspector, None)  # always there again
    assert "relu1" not in unit(block_window).optional


def test_new_switch_makes_a_bool_param_that_keeps_the_layer_in_one_undo_step(block_window, monkeypatch):
    doc = block_window.document
    inspector = inspect(block_window, "relu1")
    before, steps = doc.graph.snapshot(), doc.undo_stack.count()
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("gate", True))
    assert optional.choose(inspector, optional.NEW_SWITCH)
    assert doc.undo_stack.count() == steps + 1
    assert unit(block_window).params["gate"] is True  # default true: the instances keep the layer
    assert unit(block_window).optional["relu1"] == "gate"
    assert "layer1.0.relu1" in expand(doc.graph).graph.node_ids()
    doc.undo_stack.undo()
    assert doc.graph.snapshot() == before
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("planes", True))  # taken: refused, says why
    assert not optional.choose(inspector, optional.NEW_SWITCH)
    assert "planes" in inspector.optional_row.error.text()
    assert doc.graph.snapshot() == before and doc.undo_stack.count() == steps + 1  # nothing new pushed


def test_a_node_that_cannot_be_optional_says_why(block_window):
    doc = block_window.document
    inspector = inspect(block_window, "add")
    combo = inspector.optional_row.editor
    assert not combo.isEnabled()
    assert "one input and one output" in inspector.optional_row.reason.text()
    before = doc.graph.snapshot()
    assert not optional.choose(inspector, "downsample")
    assert "one input and one output" in inspector.optional_row.error.text()
    assert doc.graph.snapshot() == before
    inspector = inspect(block_window, "x")
    assert "port" in inspector.optional_row.reason.text()


def test_no_optional_row_outside_a_unit(window):
    window._set_project(Project(optional_resnet(), name="optional"))
    window.document.flush()
    assert inspect(window, "stem").optional_row is None


def test_renaming_an_optional_node_moves_its_entry_in_the_same_undo_step(block_window):
    doc = block_window.document
    steps = doc.undo_stack.count()
    assert doc.rename_node("downsample_0", "shortcut")
    assert doc.undo_stack.count() == steps + 1
    assert unit(block_window).optional == {"shortcut": "downsample", "downsample_1": "downsample"}
    assert unit(block_window).optional_problems() == []
    assert "layer2.0.shortcut" in expand(doc.graph).graph.node_ids()
    assert "layer1.0.shortcut" not in expand(doc.graph).graph.node_ids()
    doc.flush()
    assert not doc.result.errors
    doc.undo_stack.undo()
    assert unit(block_window).optional == {"downsample_0": "downsample", "downsample_1": "downsample"}
    doc.rename_node("relu1", "relu_a")  # not optional: a plain rename
    assert unit(block_window).optional == {"downsample_0": "downsample", "downsample_1": "downsample"}


def test_removing_an_optional_node_drops_its_entry_in_the_same_undo_step(block_window):
    doc = block_window.document
    before, steps = doc.graph.snapshot(), doc.undo_stack.count()
    assert doc.remove(["downsample_1"])
    assert doc.undo_stack.count() == steps + 1
    assert unit(block_window).optional == {"downsample_0": "downsample"}
    assert unit(block_window).optional_problems() == []
    doc.undo_stack.undo()
    assert doc.graph.snapshot() == before
    assert unit(block_window).optional == {"downsample_0": "downsample", "downsample_1": "downsample"}


def test_renaming_a_switch_param_and_undoing_it_keeps_the_optional_layers(block_window):
    from gui.units import params as unit_params

    doc = block_window.document
    before = doc.graph.snapshot()
    model = doc.graph
    unit_params.push(doc, "Rename", unit_params.plan_rename(model, "BasicBlock", "downsample", "shortcut"))
    assert unit(block_window).optional == {"downsample_0": "shortcut", "downsample_1": "shortcut"}
    doc.undo_stack.undo()
    assert doc.graph.snapshot() == before


def test_grouping_optional_layers_makes_the_instance_optional_in_the_same_undo_step(block_window):
    doc = block_window.document
    before, steps = doc.graph.snapshot(), doc.undo_stack.count()
    block_window.scene.select_nodes(["downsample_0", "downsample_1"])
    instance = block_window.units.group_selection("Shortcut")
    assert instance and doc.undo_stack.count() == steps + 1
    assert unit(block_window).optional == {instance: "downsample"}
    assert unit(block_window).optional_problems() == []
    flat = expand(doc.graph).graph.node_ids()  # layer2.0 switches it on, layer1's blocks off
    assert f"layer2.0.{instance}.downsample_0" in flat and not any(n.startswith("layer1.0.shortcut") for n in flat)
    doc.undo_stack.undo()
    assert doc.graph.snapshot() == before


def test_grouping_an_optional_layer_with_a_plain_one_is_refused_with_the_reason(block_window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    said = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: said.append(args[2]))
    doc = block_window.document
    before = doc.graph.snapshot()
    block_window.scene.select_nodes(["downsample_1", "add"])
    assert block_window.units.group_selection("Mixed") is None
    assert "downsample_1" in said[0] and "optional" in said[0]
    assert doc.graph.snapshot() == before


def test_ungrouping_an_optional_instance_is_refused_with_the_reason(block_window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    said = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: said.append(args[2]))
    block_window.scene.select_nodes(["downsample_0", "downsample_1"])
    instance = block_window.units.group_selection("Shortcut")
    before = block_window.document.graph.snapshot()
    block_window.scene.select_nodes([instance])
    assert block_window.units.ungroup_selection() == []
    assert instance in said[0] and "always there" in said[0]
    assert block_window.document.graph.snapshot() == before


def test_a_fix_that_removes_an_optional_node_drops_its_entry_in_the_fixs_undo_step(block_window):
    from engine.fixes import Fix
    from gui.fix_menu import apply_fix

    doc = block_window.document
    before, steps = doc.graph.snapshot(), doc.undo_stack.count()
    assert apply_fix(doc, Fix("Remove 'downsample_1'", [{"op": "remove_node", "node": "downsample_1"}]))
    assert doc.undo_stack.count() == steps + 1
    assert unit(block_window).optional == {"downsample_0": "downsample"}
    assert unit(block_window).optional_problems() == []
    doc.undo_stack.undo()
    assert doc.graph.snapshot() == before
