"""Weight sharing in the editor: the inspector's "shares" combo offers the nodes of the same type and params,
a choice is one undoable step, and the node's face says which node's weights it uses."""

from PySide6.QtWidgets import QApplication


def second_branch(window):
    graph = window.document.graph
    graph.add_node("Input", {"shape": [1, 8, 8]}, "x2", (0, 300))
    graph.add_node("Conv2d", {"out_channels": 8, "kernel_size": 3}, "conv2", (200, 300))
    graph.add_node("Conv2d", {"out_channels": 4, "kernel_size": 3}, "other", (200, 500))
    graph.add_node("ReLU", {}, "act2", (400, 300))
    graph.connect("x2", "conv2")
    graph.connect("x2", "other")
    graph.connect("conv2", "act2")
    window.document.flush()


def inspect(window, node_id):
    window.scene.select_nodes([node_id])
    QApplication.processEvents()
    return window.inspector


def combo_items(inspector):
    combo = inspector.shares_row.editor
    return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]


def test_choosing_a_node_to_share_with_is_one_undoable_step(cnn_window):
    w = cnn_window
    second_branch(w)
    inspector = inspect(w, "conv2")
    assert combo_items(inspector) == [("none (its own weights)", None), ("conv", "conv")]
    combo = inspector.shares_row.editor
    combo.setCurrentIndex(1)
    combo.activated.emit(1)
    graph = w.document.graph
    assert graph.node("conv2").shares == "conv"
    assert ("shares", "conv") in w.scene.node_item("conv2").key_params
    assert not w.document.flush().errors_for("conv2")
    assert w.document.undo_stack.undoText() == "Set shares of 'conv2'"

    w.document.undo_stack.undo()
    QApplication.processEvents()
    assert graph.node("conv2").shares is None
    assert combo.currentIndex() == 0 and inspector.shares_row.editor is combo
    assert all(name != "shares" for name, _ in w.scene.node_item("conv2").key_params)
    w.document.undo_stack.redo()
    QApplication.processEvents()
    assert graph.node("conv2").shares == "conv" and combo.currentData() == "conv"

    combo.setCurrentIndex(0)
    combo.activated.emit(0)
    assert graph.node("conv2").shares is None and "shares" not in graph.node("conv2").params


def test_only_nodes_with_weights_of_the_same_type_and_params_are_offered(cnn_window):
    w = cnn_window
    second_branch(w)
    assert inspect(w, "other").shares_row is None  # no Conv2d with its params
    assert inspect(w, "act2").shares_row is None  # a ReLU has no weights
    assert inspect(w, "x2").shares_row is None


def test_a_sharing_error_shows_on_the_node(cnn_window):
    w = cnn_window
    second_branch(w)
    w.document.set_params("other", {"out_channels": 4, "kernel_size": 3, "shares": "conv"})
    result = w.document.flush()
    assert [e.message for e in result.errors_for("other")] == [
        "Conv2d 'other' shares the weights of 'conv', whose params differ; both must have the same params, as one "
        "module computes both"]
    inspector = inspect(w, "other")
    assert combo_items(inspector)[-1] == ("conv", "conv") and inspector.shares_row.editor.currentData() == "conv"
    assert "whose params differ" in inspector.errors.text()


def test_renaming_the_owner_takes_its_sharers_along_and_undo_brings_both_back(cnn_window):
    w = cnn_window
    second_branch(w)
    graph = w.document.graph
    graph.set_param("conv2", "shares", "conv")
    assert w.document.rename_node("conv", "stem")
    assert graph.node("conv2").shares == "stem" and not w.document.flush().errors_for("conv2")
    w.document.undo_stack.undo()
    assert graph.node("conv2").shares == "conv" and graph.has_node("conv")


def test_a_pasted_pair_shares_between_its_copies_and_a_pasted_sharer_keeps_its_owner(cnn_window):
    from gui.clipboard import selection_data

    w = cnn_window
    second_branch(w)
    graph = w.document.graph
    graph.set_param("conv2", "shares", "conv")
    both = w.document.paste(selection_data(graph, ["conv", "conv2"]))
    copies = {graph.node(i).shares for i in both}
    owner_copy = next(i for i in both if graph.node(i).shares is None)
    assert copies == {None, owner_copy}  # the copy of conv2 uses the copy of conv
    (alone,) = w.document.paste(selection_data(graph, ["conv2"]))
    assert graph.node(alone).shares == "conv"
