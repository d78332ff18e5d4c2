"""The breadcrumb bar over the canvas while a unit is open: "Model › layer1 (BasicBlock)".

Each level but the last is a link back to it; the bar hides itself when the canvas shows the model.
It only reads the controller's scope and asks it to change (`enter_scope`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from graphs.errors import printable

SEPARATOR = "›"


def level_text(scope) -> str:
    """How one opened level reads: the instance and its unit, or the unit alone (opened from the palette)."""
    return f"{printable(scope.label)} ({printable(scope.unit)})" if scope.label else printable(scope.unit)


class Breadcrumb(QWidget):
    """Links to the model and to each opened unit, the current one last."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.setObjectName("unitBreadcrumb")
        self.controller = controller
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 3, 8, 3)
        self._layout.setSpacing(4)
        controller.scopeChanged.connect(self.refresh)
        controller.projectReset.connect(self.refresh)
        self.refresh()

    def texts(self) -> list[str]:
        """The levels as shown, outermost first (for tests and the accessible name)."""
        return ["Model", *(level_text(level) for level in self.controller.scope)]

    def refresh(self) -> None:
        while self._layout.count():
            widget = self._layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        scope = self.controller.scope
        self.setVisible(bool(scope))
        for depth, text in enumerate(self.texts()):
            if depth:
                self._layout.addWidget(QLabel(SEPARATOR))
            if depth == len(scope):
                label = QLabel(f"<b>{_html(text)}</b>")
                label.setTextFormat(Qt.TextFormat.RichText)
                self._layout.addWidget(label)
            else:
                button = QToolButton()
                button.setText(text)
                button.setAutoRaise(True)
                button.setToolTip("Back to the model" if depth == 0 else f"Back to {text}")
                button.clicked.connect(lambda _checked=False, d=depth: self.go_to(d))
                self._layout.addWidget(button)
        hint = QLabel("  editing the definition: every instance changes · Esc or Alt+Up goes back")
        hint.setObjectName("breadcrumbHint")
        hint.setEnabled(False)
        self._layout.addWidget(hint)
        self._layout.addStretch(1)
        self.setAccessibleName(f" {SEPARATOR} ".join(self.texts()))

    def go_to(self, depth: int) -> None:
        """Show level `depth` (0: the model)."""
        self.controller.enter_scope(self.controller.scope[:depth])


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
