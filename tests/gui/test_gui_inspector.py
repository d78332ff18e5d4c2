"""The inspector and the model summary, driven through their widgets."""

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QTabBar

from gui import formatting
from gui.param_widgets import ChoiceEditor, FloatEditor, IntEditor, TextEditor


def select(window, node_id):
    window.scene.select_nodes([node_id])
    QApplication.processEvents()  # layouts show new editors on the next turn of the loop
    assert window.inspector.node_id == node_id
    return window.inspector


def type_into(widget, text):
    """Replace the text of a line edit or spin box as a user would, then press Enter."""
    line = widget if isinstance(widget, QLineEdit) else widget.lineEdit()
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Backspace)
    QTest.keyClicks(line, text)
    QTest.keyClick(line, Qt.Key.Key_Return)


def test_editors_follow_the_param_schema(cnn_window):
    doc = cnn_window.document
    inspector = select(cnn_window, "conv")
    out_channels = inspector.editor("out_channels")
    assert isinstance(out_channels, IntEditor) and isinstance(out_channels.spin, QSpinBox)
    assert out_channels.spin.allowed == (1, 65536)
    assert out_channels.spin.value() == 8
    assert isinstance(inspector.editor("kernel_size"), TextEditor)
    assert inspector.editor("kernel_size").edit.text() == "3"
    assert isinstance(inspector.editor("bias").check, QCheckBox)
    padding_mode = inspector.editor("padding_mode")
    assert isinstance(padding_mode, ChoiceEditor) and isinstance(padding_mode.combo, QComboBox)
    assert [padding_mode.combo.itemText(i) for i in range(padding_mode.combo.count())] == [
        "zeros", "reflect", "replicate", "circular"]

    dropout = doc.add_node("Dropout", (0, 300))
    p = select(cnn_window, dropout).editor("p")
    assert isinstance(p, FloatEditor) and isinstance(p.spin, QDoubleSpinBox)
    assert (*p.spin.allowed, p.spin.value()) == (0.0, 1.0, 0.5)

    embedding = doc.add_node("Embedding", (0, 500))
    padding_idx = select(cnn_window, embedding).editor("padding_idx")
    assert padding_idx.none_box is not None and padding_idx.none_box.isChecked()
    assert padding_idx.value() is None

    bn = doc.add_node("BatchNorm2d", (0, 700))
    eps = select(cnn_window, bn).editor("eps")
    assert eps.spin.text() == "1e-05"


def test_spin_box_edit_updates_node_and_summary(cnn_window, qtbot):
    w = cnn_window
    spin = select(w, "conv").editor("out_channels").spin
    type_into(spin, "4")
    assert w.document.graph.node("conv").params["out_channels"] == 4
    assert w.document.undo_stack.count() == 1
    assert w.document.undo_stack.text(0) == "Set out_channels of 'conv'"
    qtbot.waitUntil(lambda: w.scene.node_item("conv").shape_text == "[4, 6, 6]")
    assert w.summary.cell_text("conv", "Output shape") == "[4, 6, 6]"
    assert w.summary.cell_text("conv", "Params") == "40"
    assert "[4, 6, 6]" in w.inspector.info.text()


def test_out_of_range_numbers_are_refused_under_the_field_not_reverted(cnn_window):
    w = cnn_window
    doc = w.document
    fc = doc.add_node("Linear", (0, 300), {"out_features": 10})
    dropout = doc.add_node("Dropout", (0, 500))
    doc.undo_stack.setClean()
    for node_id, name, typed, words in ((fc, "out_features", "0", "must be at least 1, got 0"),
                                        (dropout, "p", "1.5", "must be at most 1")):
        before = doc.graph.node(node_id).params
        row = select(w, node_id).rows[name]
        type_into(row.editor.spin, typed)
        assert row.error.isVisibleTo(w.inspector) and words in row.error.text(), row.error.text()
        assert row.editor.spin.text() == typed  # what was typed stays, with the reason under it
        assert doc.graph.node(node_id).params == before and doc.undo_stack.isClean()
    spin = select(w, fc).rows["out_features"].editor.spin
    spin.setValue(1)
    spin.stepBy(-1)  # the arrows stay in range
    assert spin.value() == 1
    assert not spin.stepEnabled() & spin.StepEnabledFlag.StepDownEnabled


def test_selecting_a_node_raises_the_inspector_over_data_and_training(cnn_window, qtbot):
    w = cnn_window

    def front_tab() -> str:
        (bar,) = [bar for bar in w.findChildren(QTabBar) if "Inspector" in
                  [bar.tabText(i) for i in range(bar.count())]]
        return bar.tabText(bar.currentIndex())

    for name, title in (("data", "Data"), ("training", "Training")):
        w.workbench.show_dock(name)
        assert front_tab() == title
        w.scene.clearSelection()
        select(w, "conv")
        assert front_tab() == "Inspector"


def test_invalid_value_refused_with_message_document_unchanged(cnn_window):
    w = cnn_window
    before = w.document.graph.snapshot()
    inspector = select(w, "conv")
    row = inspector.rows["kernel_size"]
    type_into(row.editor.edit, "0")
    assert row.error.isVisible()
    assert row.error.text() == "param 'kernel_size' must be at least 1, got 0"
    assert w.statusBar().currentMessage() == row.error.text()
    type_into(row.editor.edit, "three")
    assert "expected whole numbers" in row.error.text()
    type_into(row.editor.edit, "3, 3, 3")
    assert "2 integers" in row.error.text()
    assert w.document.graph.snapshot() == before
    assert w.document.undo_stack.count() == 0
    type_into(row.editor.edit, "3, 5")  # a valid value clears the message
    assert not row.error.isVisible()
    assert w.document.graph.node("conv").params["kernel_size"] == [3, 5]


def test_tuple_list_and_optional_values(cnn_window):
    w = cnn_window
    doc = w.document
    pool = doc.add_node("MaxPool2d", (0, 300))
    stride = select(w, pool).editor("stride")
    assert stride.edit.text() == "" and stride.value() is None
    type_into(stride.edit, "1")
    assert doc.graph.node(pool).params["stride"] == 1
    type_into(stride.edit, "")
    assert doc.graph.node(pool).params["stride"] is None

    shape = select(w, "x").editor("shape")
    assert shape.edit.text() == "1, 8, 8"
    type_into(shape.edit, "1, 10, 10")
    assert doc.graph.node("x").params["shape"] == [1, 10, 10]
    target_shape = select(w, "y").editor("shape")
    assert target_shape.edit.text() == "[]"

    embedding = doc.add_node("Embedding", (0, 500))
    padding = select(w, embedding).editor("padding_idx")
    padding.none_box.setChecked(False)
    assert doc.graph.node(embedding).params["padding_idx"] == 0


def test_typing_floats(cnn_window):
    w = cnn_window
    dropout = w.document.add_node("Dropout", (0, 300))
    type_into(select(w, dropout).editor("p").spin, "0.25")
    assert w.document.graph.node(dropout).params["p"] == 0.25
    bn = w.document.add_node("BatchNorm2d", (0, 500))
    eps = select(w, bn).editor("eps").spin
    type_into(eps, "1e-3")
    assert w.document.graph.node(bn).params["eps"] == 0.001
    assert eps.text() == "0.001"


def test_checkbox_and_combo_commit(cnn_window):
    w = cnn_window
    inspector = select(w, "conv")
    inspector.editor("bias").check.click()
    assert w.document.graph.node("conv").params["bias"] is False
    combo = inspector.editor("padding_mode").combo
    combo.setCurrentIndex(1)
    combo.activated.emit(1)
    assert w.document.graph.node("conv").params["padding_mode"] == "reflect"
    assert w.document.undo_stack.count() == 2


def test_undo_refreshes_the_editor(cnn_window):
    w = cnn_window
    spin = select(w, "fc").editor("out_features").spin
    type_into(spin, "33")
    assert w.document.graph.node("fc").params["out_features"] == 33
    w.act.undo.trigger()
    assert spin.value() == 10


def test_inspector_shows_id_doc_shapes_params_macs(cnn_window):
    w = cnn_window
    inspector = select(w, "conv")
    info = w.document.result.info["conv"]
    assert "Conv2d" in inspector.title.text() and inspector.id_row.editor.text() == "conv"
    assert inspector.doc.text() == "2-D convolution over [C, H, W]."
    text = inspector.info.text()
    assert "[1, 8, 8]" in text and "[8, 6, 6]" in text
    assert formatting.grouped(info.params) in text and formatting.grouped(info.macs) in text
    assert not inspector.errors.isVisible()


def test_renaming_a_node_in_the_inspector_keeps_its_wires_and_undoes(cnn_window, qtbot):
    w = cnn_window
    graph = w.document.graph
    before = graph.snapshot()
    wires = sorted((e.source, e.target) for e in graph.edges() if "conv" in (e.source, e.target))
    type_into(select(w, "conv").id_row.editor, " features ")
    renamed = graph.node("features")
    assert not graph.has_node("conv") and (renamed.type, renamed.params, renamed.position) == before["nodes"]["conv"]
    assert sorted((e.source, e.target) for e in graph.edges() if "features" in (e.source, e.target)) == [
        tuple("features" if end == "conv" else end for end in wire) for wire in wires]
    assert w.document.undo_stack.text(0) == "Rename 'conv' to 'features'"
    qtbot.waitUntil(lambda: w.inspector.node_id == "features")  # the renamed node stays selected
    assert w.scene.selected_node_ids() == ["features"] and w.scene.node_item("conv") is None
    assert w.statusBar().currentMessage() == "Renamed to 'features'"
    qtbot.waitUntil(lambda: w.summary.cell_text("features", "Output shape") == "[8, 6, 6]")
    w.act.undo.trigger()
    assert graph.snapshot() == before
    w.act.redo.trigger()
    assert graph.has_node("features") and not graph.has_node("conv")


def test_an_unusable_or_taken_id_is_refused_under_the_field(cnn_window):
    w = cnn_window
    before = w.document.graph.snapshot()
    row = select(w, "conv").id_row
    type_into(row.editor, "fc")
    assert row.error.isVisible() and row.error.text() == "a node with id 'fc' already exists"
    type_into(row.editor, "2conv")
    assert "node id '2conv'" in row.error.text()
    assert w.statusBar().currentMessage() == row.error.text()
    QTest.keyClick(row.editor, Qt.Key.Key_Escape)  # Esc puts the id back and the message goes
    assert row.editor.text() == "conv" and not row.error.isVisible()
    type_into(row.editor, "conv")  # its own id again: no edit
    assert not row.error.isVisible()
    assert w.document.graph.snapshot() == before and w.document.undo_stack.count() == 0


def test_inspector_lists_node_errors_and_multi_selection(cnn_window, qtbot):
    w = cnn_window
    w.document.set_param("fc", "out_features", 3)
    w.document.set_param("y", "shape", [2])
    inspector = select(w, "loss")
    qtbot.waitUntil(lambda: inspector.errors.isVisible())
    assert inspector.errors.text().startswith("⚠")
    w.scene.select_nodes(["x", "conv"])
    assert w.inspector.node_id is None
    assert w.inspector.hint.text() == "2 nodes selected."


def test_variadic_inputs_change_ports(cnn_window):
    w = cnn_window
    concat = w.document.add_node("Concat", (0, 300))
    type_into(select(w, concat).editor("inputs").spin, "4")
    assert list(w.scene.node_item(concat).inputs) == ["in0", "in1", "in2", "in3"]


def test_summary_rows_totals_and_click(cnn_window, qtbot):
    w = cnn_window
    result = w.document.result
    table = w.summary.table
    assert w.summary.node_ids() == ["x", "conv", "act", "flat", "fc", "y", "loss"]
    totals = w.summary.totals()
    assert totals[0] == "Total"
    assert totals[3] == formatting.grouped(result.total_params)
    assert totals[4] == formatting.grouped(result.total_macs)
    row = w.summary.row_of("fc")
    rect = table.visualRect(w.summary.model.index(row, 0))
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    assert w.scene.selected_node_ids() == ["fc"]
    assert w.inspector.node_id == "fc"
    w.document.add_node("ReLU", (0, 400))
    qtbot.waitUntil(lambda: w.summary.model.rowCount() == 9)
