"""Colours and fonts of the editor, and the application-wide look (Fusion + dark palette + style.qss).

Graphics items cannot be styled with QSS, so the canvas reads its colours from
here; widgets get theirs from `resources/style.qss`.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from gui.files import ICONS_DIR, RESOURCES

CATEGORY_COLOURS = {
    "Data": "#3f8f5f",
    "Dense and convolution": "#3d6fa8",
    "Pooling": "#6a5bc4",
    "Normalisation": "#8c6f3a",
    "Sequence": "#a0527d",
    "Shape and merge": "#3f8189",
    "Activations": "#b07a26",
    "Losses": "#a94646",
    "Resampling and padding": "#6f7f2e",
    "Custom": "#8a5a9e",  # a project's own layers (graphs.custom_types)
    "Units": "#4b5fa0",  # instances, Repeats and a unit's ports (gui.units)
}
FALLBACK_CATEGORY = "#5c6370"

CANVAS = QColor("#1b1d21")
GRID_MINOR = QColor("#23262b")
GRID_MAJOR = QColor("#2b2f35")
NODE_BODY = QColor("#2c2f35")
NODE_BORDER = QColor("#111316")
NODE_TEXT = QColor("#e8eaed")
NODE_MUTED = QColor("#9aa1ab")
ACCENT = QColor("#f0b35a")
ERROR = QColor("#ff5c5c")
OK = QColor("#6fd08c")
WIRE = QColor("#8c939d")
WIRE_UNKNOWN = QColor("#5d636b")
PORT = QColor("#b9c0ca")
PORT_MISMATCH = QColor("#a0565a")  # a port that would take a dragged wire its node cannot use
HINT_TEXT = QColor("#6b717a")


def category_colour(category: str) -> QColor:
    return QColor(CATEGORY_COLOURS.get(category, FALLBACK_CATEGORY))


def font(point_delta: float = 0.0, bold: bool = False, mono: bool = False) -> QFont:
    """The application font, resized by `point_delta` points."""
    base = QFont("DejaVu Sans Mono") if mono else QFont(QApplication.font())
    size = QApplication.font().pointSizeF()
    base.setPointSizeF(max(6.0, (size if size > 0 else 10.0) + point_delta))
    base.setBold(bold)
    return base


def _dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#25282d", QPalette.ColorRole.WindowText: "#e3e5e8",
        QPalette.ColorRole.Base: "#1d1f23", QPalette.ColorRole.AlternateBase: "#23262b",
        QPalette.ColorRole.ToolTipBase: "#2f3238", QPalette.ColorRole.ToolTipText: "#e8eaed",
        QPalette.ColorRole.Text: "#e3e5e8", QPalette.ColorRole.Button: "#2d3036",
        QPalette.ColorRole.ButtonText: "#e3e5e8", QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: "#3d6fa8", QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#7fb0ff", QPalette.ColorRole.PlaceholderText: "#7d838c",
        QPalette.ColorRole.Mid: "#3a3e45", QPalette.ColorRole.Dark: "#16181b",
    }
    for role, value in colours.items():
        palette.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b717a"))
    return palette


def apply(app: QApplication) -> None:
    """Give `app` the Neurocanvas look: Fusion style, a dark palette, a 10-point font, style.qss."""
    app.setStyle("Fusion")
    app.setPalette(_dark_palette())
    app_font = QFont(app.font())
    if app_font.pointSizeF() < 10:
        app_font.setPointSizeF(10)
        app.setFont(app_font)
    qss = RESOURCES / "style.qss"
    if qss.exists():
        app.setStyleSheet(qss.read_text(encoding="utf-8").replace("@ICONS@", ICONS_DIR.as_posix()))
