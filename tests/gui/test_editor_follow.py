"""The panels that follow each inference result in the editor (the model summary and the fix marks)
update only what an edit changed; kept up edit by edit, they equal panels built afresh."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from engine.data_shapes import shapeless_data_nodes
from graphs.document import Graph
from gui.fix_menu import fixes_for_node
from gui.summary import ModelSummary


def edits(doc):
    """A run of edits of every kind on the small CNN: params, rewires, an error, add, rename, undo, redo."""
    edge = next(e for e in doc.graph.in_edges("flat"))
    yield lambda: doc.set_param("conv", "out_channels", 4)
    yield lambda: doc.disconnect([edge])
    yield lambda: doc.connect(edge.source, edge.source_port, edge.target, edge.target_port)
    yield lambda: doc.remove(["flat"])
    yield lambda: doc.connect("act", "out", "fc", "in")  # the loss gets a [C, H, 10] input: an error
    yield lambda: doc.set_param("fc", "out_features", 3)
    yield lambda: doc.add_node("ReLU", (300, 300))
    yield lambda: doc.rename_node("act", "relu")
    for _ in range(4):
        yield doc.undo_stack.undo
    yield doc.undo_stack.redo


def same_rows(summary, fresh, graph) -> bool:
    """The same rows and totals, in an order that keeps every node after its inputs (a summary kept up
    edit by edit keeps its rows' places, so its order may differ from a fresh one's)."""
    kept, made = summary.model.rows, fresh.model.rows
    place = {row[0]: i for i, row in enumerate(kept)}
    assert all(place[edge.source] < place[edge.target] for edge in graph.edges())
    return sorted(kept[:-1]) == sorted(made[:-1]) and kept[-1] == made[-1]


def test_the_summary_kept_up_edit_by_edit_equals_one_built_afresh(cnn_window):
    doc, summary = cnn_window.document, cnn_window.summary
    for edit in edits(doc):
        edit()
        doc.flush()
        fresh = ModelSummary(doc)
        assert same_rows(summary, fresh, doc.graph)
        fresh.deleteLater()
    assert any(row[2] for row in summary.model.rows) or doc.result.valid


def test_a_param_edit_repaints_only_its_rows_without_resetting_the_table(cnn_window, qtbot):
    doc, model = cnn_window.document, cnn_window.summary.model
    before = list(model.rows)
    resets, changed = [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda first, last: changed.append((first.row(), last.row())))
    doc.set_param("fc", "out_features", 5)
    doc.flush()
    assert not resets
    fc = cnn_window.summary.row_of("fc")
    assert model.rows[fc][1][2] == "[5]" and changed and changed[0][0] <= fc <= changed[0][1]
    untouched = [i for i, row in enumerate(before) if row[0] in ("x", "conv", "act", "flat", "y")]
    assert all(model.rows[i] is before[i] for i in untouched)  # the same row objects: not rebuilt


def test_a_hidden_summary_waits_and_catches_up_when_shown(cnn_window, qtbot):
    doc, summary = cnn_window.document, cnn_window.summary
    dock = cnn_window.docks["Model Summary"]
    dock.hide()
    shown = list(summary.model.rows)
    doc.set_param("conv", "out_channels", 2)
    doc.flush()
    assert summary.model.rows == shown  # nothing done while hidden
    assert summary.cell_text("conv", "Output shape") == "[2, 6, 6]"  # reading it catches up
    doc.set_param("conv", "out_channels", 3)
    doc.flush()
    dock.show()
    qtbot.waitUntil(summary.isVisible)
    fresh = ModelSummary(doc)
    assert same_rows(summary, fresh, doc.graph)
    fresh.deleteLater()


def test_the_fix_marks_kept_up_edit_by_edit_equal_marks_made_afresh(cnn_window):
    doc, scene = cnn_window.document, cnn_window.scene
    marked_once = False
    for edit in edits(doc):
        edit()
        doc.flush()
        QApplication.processEvents()  # the marker looks on the next turn of the loop
        for item in scene.node_items():
            expected = bool(doc.result.errors_for(item.node_id) and fixes_for_node(doc, item.node_id))
            assert item.fixable == expected, item.node_id
            marked_once |= expected
            if expected:
                assert item.fix_menu_requested is not None  # its lightbulb opens the menu
    assert marked_once  # the run of edits made a fixable error


def test_shapeless_data_nodes_lists_them_in_node_order():
    graph = Graph()
    graph.add_node("Target", {}, "y")
    graph.add_node("Input", {"shape": [3]}, "x_shaped")
    graph.add_node("Embedding", {"num_embeddings": None, "embedding_dim": 4}, "embed")
    graph.add_node("Linear", {"out_features": 2}, "fc")
    graph.add_node("Input", {}, "x")
    graph.add_node("Embedding", {"num_embeddings": 10, "embedding_dim": 4}, "embed_sized")
    assert shapeless_data_nodes(graph) == ["y", "embed", "x"]
    assert shapeless_data_nodes(Graph()) == []


def test_a_rewire_shows_in_the_rows_at_once_in_one_repaint_and_its_undo_too(cnn_window):
    doc, summary, model = cnn_window.document, cnn_window.summary, cnn_window.summary.model
    fc = summary.row_of("fc")
    shown = model.data(model.index(fc, 2))
    totals = summary.totals()
    resets, changed = [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda first, last: changed.append((first.row(), last.row())))
    edge = doc.graph.in_edges("flat")[0]
    doc.disconnect([edge])
    doc.flush()
    assert model.data(model.index(fc, 2)) == "?" and model.data(model.index(fc, 3)) == "–"  # read from the result
    assert summary.totals() != totals and summary.row_of("fc") == fc  # the rows keep their places
    assert len(changed) == 1 and changed[0][0] <= summary.row_of("flat") and changed[0][1] == model.rowCount() - 1
    doc.undo_stack.undo()
    doc.flush()
    assert model.data(model.index(fc, 2)) == shown and summary.totals() == totals
    assert not resets and len(changed) == 2


def test_a_small_models_rows_read_in_the_usual_order_again_after_an_undo(cnn_window):
    doc, summary = cnn_window.document, cnn_window.summary
    before = [row[0] for row in summary.model.rows]
    doc.remove(["flat"])
    doc.flush()
    doc.undo_stack.undo()
    doc.flush()
    assert [row[0] for row in summary.model.rows] == before


def test_a_change_to_rows_off_screen_repaints_nothing_and_shows_when_scrolled_to(window):
    from graphs.project import Project
    from tests.engine.test_incremental_shapes import chain

    window._set_project(Project(chain(1200), name="long"))  # over 1,000 nodes: rows keep their places
    doc, summary, model = window.document, window.summary, window.summary.model
    doc.flush()
    QApplication.processEvents()
    changed = []
    model.dataChanged.connect(lambda first, last: changed.append((first.row(), last.row())))
    edge = doc.graph.in_edges("n1100")[0]
    top, bottom = summary._rows_on_screen()
    assert summary.row_of("n1100") > bottom
    doc.disconnect([edge])
    doc.flush()
    assert changed == []  # nothing on screen changed
    row = summary.row_of("n1150")
    summary.table.scrollTo(model.index(row, 0))
    QApplication.processEvents()
    assert model.data(model.index(row, 2)) == "?"  # read from the live result when shown
    from gui import formatting
    from gui.result_changes import totals

    params, macs = sum(i.params for i in doc.result.info.values()), sum(i.macs for i in doc.result.info.values())
    assert totals(doc.result) == (params, macs)  # kept up from the result it follows, equal to a fresh sum
    assert summary.totals()[3:] == [formatting.grouped(params), formatting.grouped(macs)]
