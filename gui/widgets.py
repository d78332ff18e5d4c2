"""Small layout helpers shared by the editor's docks and the workbench's panels."""

from __future__ import annotations

from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget


def scroll_page(owner: QWidget, body: QWidget) -> QScrollArea:
    """Fill `owner` edge to edge with a resizable scroll area that shows `body`; returns the scroll area,
    for the caller's own settings (frame, scroll bar policies)."""
    scroll = QScrollArea(owner)
    scroll.setWidgetResizable(True)
    scroll.setWidget(body)
    outer = QVBoxLayout(owner)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    return scroll
