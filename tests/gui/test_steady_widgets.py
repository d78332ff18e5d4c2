"""The status bar's labels and the toolbar's undo button change their text after each edit without laying
the main window out again (gui.steady_widgets), and still show all of their text."""

from PySide6.QtCore import QEvent, QObject

from gui.steady_widgets import SteadyLabel


class LayoutRequests(QObject):
    """Counts the LayoutRequest events that reach the watched widgets."""

    def __init__(self, *widgets):
        super().__init__()
        self.count = 0
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, _watched, event):  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def test_a_steady_label_grows_to_its_widest_text_and_keeps_that_width(qtbot):
    label = SteadyLabel()
    qtbot.addWidget(label)
    label.setText("✓ ready")
    narrow = label.width()
    assert label.width() >= label.fontMetrics().horizontalAdvance("✓ ready")
    label.setText("⚠ 12 problems in the model")
    wide = label.width()
    assert wide > narrow and wide >= label.fontMetrics().horizontalAdvance("⚠ 12 problems in the model")
    label.setText("✓ ready")
    assert label.width() == wide and label.text() == "✓ ready"  # no jitter back and forth
    label.shrink_to_text()  # (another project opened)
    assert label.width() == narrow


def test_edits_lay_out_neither_the_status_bar_nor_the_window(window, qtbot, cnn_builder):
    document = window.document
    cnn_builder(document.graph)
    document.set_project(document.project)
    qtbot.wait(10)
    edge = document.graph.edge_into("fc", "in")
    document.disconnect([edge])  # the undo text, the totals and the problem count all change
    document.flush()
    qtbot.wait(10)
    requests = LayoutRequests(window, window.statusBar(), window.toolbar)
    for edit in (lambda: document.connect(edge.source, edge.source_port, edge.target, edge.target_port),
                 document.undo_stack.undo, document.undo_stack.redo):
        before = (window.validity.text(), window.stats.text(), window.act.undo.text())
        edit()
        document.flush()
        qtbot.wait(10)
        assert (window.validity.text(), window.stats.text(), window.act.undo.text()) != before
        for label in (window.validity, window.stats):
            assert label.width() >= label.sizeHint().width()  # all of the text shows
    assert requests.count == 0
    assert window.validity.text() == "✓ ready"
    button = window.toolbar.widgetForAction(window.act.undo)
    assert button.isEnabled() and button.toolTip() == "Undo Connect 'flat' to 'fc.in'"  # it follows its action
