"""The editor's trust gate for a project that runs its own code (custom layers, `graphs.custom_types`).

Before anything of such a project is imported, `TrustDialog` shows each file (its path and its text,
escaped, read-only) and asks. Trusting is remembered per folder (QSettings, under the resolved folder
path) with a hash of the files' names and contents, so the same project opens without asking again and a
changed file asks again. Declining opens nothing and is not remembered. `code_loader(parent, path)` is
the `code` callable `graphs.project.load_project` takes: it asks (or finds the answer remembered), then
hands the files to `engine.custom_layers`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QTabWidget,
    QVBoxLayout,
)

from engine.errors import UserError
from graphs.custom_types import CodeFile, fingerprint
from graphs.errors import printable

SETTINGS_GROUP = "trustedCode"


class CodeNotTrusted(UserError):
    """The person declined to run the project's code: the project is not opened."""


def _folder_key(folder: Path) -> str:
    """A QSettings key for a folder (its resolved path hashed: keys may not hold every character)."""
    resolved = str(Path(folder).resolve())
    return f"{SETTINGS_GROUP}/{hashlib.sha256(resolved.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


def is_trusted(folder: Path, files: list[CodeFile]) -> bool:
    return QSettings().value(_folder_key(folder), "") == fingerprint(files)


def remember_trust(folder: Path, files: list[CodeFile]) -> None:
    QSettings().setValue(_folder_key(folder), fingerprint(files))


class TrustDialog(QDialog):
    """Shows the files a project would run and asks whether to trust them."""

    def __init__(self, files: list[CodeFile], parent=None):
        super().__init__(parent)
        self.setObjectName("trustDialog")
        self.setWindowTitle("Run this project's code?")
        self.resize(820, 560)
        layout = QVBoxLayout(self)
        names = "".join(f"<li><tt>{_html(str(file.path))}</tt></li>" for file in files)
        intro = QLabel(
            "<b>This project defines custom layers in Python.</b> Opening it runs the code below, which can "
            "do anything a program can: read, change or send your files. Open it only if you trust where it "
            f"came from.<ul>{names}</ul>", self)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(intro)
        self.tabs = QTabWidget(self)
        for file in files:
            view = QPlainTextEdit(self)
            view.setReadOnly(True)
            view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            view.setFont(QFont("DejaVu Sans Mono"))
            view.setPlainText("\n".join(printable(line) for line in file.text.split("\n")))
            self.tabs.addTab(view, printable(file.path.name))
            self.tabs.setTabToolTip(self.tabs.count() - 1, printable(str(file.path)))
        layout.addWidget(self.tabs, 1)
        buttons = QDialogButtonBox(self)
        self.trust_button = buttons.addButton("Trust and Open", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setDefault(True)  # Enter does not run code by accident
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def shown_text(self, index: int = 0) -> str:
        return self.tabs.widget(index).toPlainText()


def _html(text: str) -> str:
    import html

    return html.escape(printable(text))


def ask(parent, files: list[CodeFile]) -> bool:
    """Whether the person trusts `files` (a modal TrustDialog)."""
    return TrustDialog(files, parent).exec() == QDialog.DialogCode.Accepted


def code_loader(parent, project_path, asker=None):
    """The `code` callable for `graphs.project.load_project` in the editor: runs the files once trusted
    (asking with `asker(parent, files)` unless this folder trusted these very files before), else raises
    CodeNotTrusted."""
    folder = Path(project_path).resolve().parent

    def load(files: list[CodeFile]):
        if not is_trusted(folder, files):
            if not (asker or ask)(parent, files):
                raise CodeNotTrusted("the project was not opened: its custom layers' code was not trusted")
            remember_trust(folder, files)
        from engine.custom_layers.loading import load_code

        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return load_code(files)
        finally:
            QApplication.restoreOverrideCursor()

    return load
