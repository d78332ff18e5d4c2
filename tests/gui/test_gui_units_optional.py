"""A unit's bool param, which switches its optional layers, is a checkbox in the inspector, and ticking it
is one undoable edit that switches the layers on in that instance."""

from PySide6.QtWidgets import QApplication, QCheckBox

from graphs.project import Project
from graphs.units import expand
from tests.graphs.optional_cases import optional_resnet


def test_a_bool_unit_param_is_a_checkbox_that_switches_the_optional_layers(window, qtbot):
    graph = optional_resnet()
    graph.add_node("BasicBlock", {"planes": 8}, "block", (900, 0))
    graph.disconnect(next(e for e in graph.edges() if e.source == "layer2"))
    graph.connect("layer2", "block", "y", "x")
    graph.connect("block", "pool", "y")
    window._set_project(Project(graph, name="optional"))
    window.document.flush()
    window.scene.select_nodes(["block"])
    QApplication.processEvents()
    editor = window.inspector.editor("downsample")
    assert isinstance(editor.check, QCheckBox) and not editor.check.isChecked()
    editor.check.setChecked(True)  # as a click does: the editor commits on toggled
    QApplication.processEvents()
    assert window.document.graph.node("block").params["downsample"] is True
    assert "block.downsample_0" in expand(window.document.graph).graph.node_ids()
    window.document.undo_stack.undo()
    assert "downsample" not in window.document.graph.node("block").params
    assert "block.downsample_0" not in expand(window.document.graph).graph.node_ids()
