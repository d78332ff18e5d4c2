"""Status-bar labels and toolbar buttons whose text changes after every edit without laying the window out again.

Qt lays a widget's parent out again whenever the widget's text changes (`QWidget::updateGeometry`), and
the status bar's or the toolbar's layout then lays out the whole main window, its docks included: about
0.4 ms for each of them after every edit of a model (the totals and the problem count change, and so does
the undo action's text, "Undo <the last command>"). A widget of fixed size asks for no layout, so these
keep a fixed size: the label's grows to its widest text so far (it never jitters back and forth), and an
icon-only button's is its icon's.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QToolBar


class SteadyLabel(QLabel):
    """A QLabel that keeps the size of its widest text so far: a new text lays nothing out unless it is wider."""

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        if text != self.text():
            super().setText(text)
            self._fit()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):  # (a style sheet's padding)
            self._fit()

    def shrink_to_text(self) -> None:
        """Fit the text it shows now, narrower too (another project opened: its widest text so far is forgotten)."""
        text = self.text()
        super().setText("")  # (QLabel keeps a size hint no narrower than its minimum: made anew from the text)
        self.setMinimumSize(0, 0)
        super().setText(text)
        self._fit()

    def _fit(self) -> None:
        hint = self.sizeHint()
        width = max(hint.width(), self.minimumWidth())
        if (width, hint.height()) != (self.minimumWidth(), self.minimumHeight()) or self.maximumWidth() != width:
            self.setFixedSize(width, hint.height())


class SteadyToolBar(QToolBar):
    """A QToolBar whose icon-only buttons (`keep_steady`) change their text and tooltip without a layout."""

    def __init__(self, *args):
        super().__init__(*args)
        self._steady: set[QAction] = set()
        self.iconSizeChanged.connect(self._refit)

    def keep_steady(self, action: QAction) -> None:
        """`action`'s button shows only its icon, and the action never hides: a change of its text, tooltip
        or enabled state is the button's own business (it repaints itself), not the bar's."""
        self._steady.add(action)
        self._refit()

    def _refit(self) -> None:
        for action in self._steady:
            button = self.widgetForAction(action)
            button.setMinimumSize(0, 0)
            button.setMaximumSize(16777215, 16777215)  # QWIDGETSIZE_MAX: its own size hint again
            button.setFixedSize(button.sizeHint())

    def actionEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.ActionChanged and event.action() in self._steady:
            return  # QToolBar would lay itself and the window out again
        super().actionEvent(event)
