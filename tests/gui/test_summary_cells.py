"""What the summary table shows in each cell, for each role the table asks: text, alignment, the error colour
and tooltip on a node with an error, the bold totals row, and nothing for the roles it does not use."""

from PySide6.QtCore import Qt

from bench.editor_scale import big_graph
from graphs.project import Project
from gui.summary import ERROR_BRUSH

Role = Qt.ItemDataRole


def test_cells_answer_each_role_the_table_asks(window):
    graph = big_graph(12)
    graph.set_param("x", "shape", [16])  # add0 then adds [32] to [16]: a shape error there
    window._set_project(Project(graph, name="cells"))
    model = window.summary.model
    rows = [model.row(i)[0] for i in range(model.rowCount())]
    broken, fine, totals = rows.index("add0"), rows.index("ln0"), model.rowCount() - 1

    def cell(row, column, role):
        return model.data(model.index(row, column), role)

    assert cell(fine, 0, Role.DisplayRole) == "ln0" and cell(fine, 1, Role.DisplayRole) == "LayerNorm"
    assert cell(fine, 2, 0) == cell(fine, 2, Role.DisplayRole) != "?"  # a plain int role is the same role
    assert cell(fine, 0, Role.TextAlignmentRole) == int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    assert cell(fine, 3, Role.TextAlignmentRole) == int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert cell(fine, 0, Role.ForegroundRole) is None and cell(fine, 0, Role.ToolTipRole) is None
    assert cell(broken, 1, Role.ForegroundRole) is ERROR_BRUSH
    assert cell(broken, 0, Role.ToolTipRole) == model.row(broken)[2] and "[16]" in cell(broken, 0, Role.ToolTipRole)
    assert cell(fine, 0, Role.FontRole) is None and cell(totals, 0, Role.FontRole).bold()
    assert cell(totals, 0, Role.DisplayRole) == "Total"
    for role in (Role.DecorationRole, Role.BackgroundRole, Role.CheckStateRole, Role.SizeHintRole):
        assert cell(fine, 0, role) is None
