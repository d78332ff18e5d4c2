"""The Data panel's view of a text dataset: samples with their tokens, and how long the texts are.

`TextPreview` shows a `DataPreview` of kind "text" (see `engine.data.text.preview_texts`): a table
of the first training samples (label, token count, and a cell of two lines: the text as its tokens
read back, then the token strings one by one, so a person sees what the tokenizer made of the
words: [UNK] for a word it never saw, "##" pieces for WordPiece), and a histogram of tokens per text over the training
split (`LengthHistogram`), which shows whether max_length cuts many texts or pads most of each.
It only shows what the engine computed; nothing here tokenizes.
"""

from __future__ import annotations

import statistics

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from graphs.errors import printable
from gui import theme
from gui.workbench.views import BAR, fill_table, read_only_table

LONGEST = QColor("#d6a24f")  # the bar at the longest length: texts that may have been cut
MAX_BINS = 48
TOKEN_SEPARATOR = " · "


def length_bins(lengths: list[int], max_bins: int = MAX_BINS) -> tuple[list[int], int]:
    """Counts of texts per bin of token counts 0..max(lengths), and the bin width (whole tokens)."""
    if not lengths:
        return [], 1
    top = max(lengths)
    width = max(1, -(-(top + 1) // max_bins))
    counts = [0] * (top // width + 1)
    for length in lengths:
        counts[length // width] += 1
    return counts, width


class LengthHistogram(QWidget):
    """Bars of how many texts have each token count; the last bar (the longest, perhaps cut) stands out."""

    HEIGHT = 72

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.counts: list[int] = []
        self.width_tokens = 1

    def set_lengths(self, lengths: list[int]) -> None:
        self.counts, self.width_tokens = length_bins(lengths)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(260, self.HEIGHT)

    def minimumSizeHint(self) -> QSize:
        return QSize(120, self.HEIGHT)

    def paintEvent(self, _event) -> None:
        if not self.counts:
            return
        painter = QPainter(self)
        painter.setFont(theme.font(-2))
        label_height = painter.fontMetrics().height() + 2
        plot = QRectF(2, 2, self.width() - 4, self.height() - label_height - 4)
        top = max(self.counts) or 1
        step = plot.width() / len(self.counts)
        for i, count in enumerate(self.counts):
            height = plot.height() * count / top
            colour = LONGEST if i == len(self.counts) - 1 else BAR
            painter.fillRect(QRectF(plot.left() + i * step + 0.5, plot.bottom() - height, max(1.0, step - 1),
                                    height), colour)
        painter.setPen(theme.NODE_MUTED)
        below = QRectF(plot.left(), plot.bottom() + 2, plot.width(), label_height)
        painter.drawText(below, Qt.AlignmentFlag.AlignLeft, "0 tokens")
        longest = (len(self.counts) - 1) * self.width_tokens
        painter.drawText(below, Qt.AlignmentFlag.AlignRight, f"{longest}" + (
            f"–{longest + self.width_tokens - 1}" if self.width_tokens > 1 else ""))


def length_summary(lengths: list[int]) -> str:
    """'Tokens per text (training split): median 17, longest 38, 4,800 texts'."""
    if not lengths:
        return ""
    return (f"<b>Tokens per text</b> (training split): median {statistics.median(lengths):g}, "
            f"longest {max(lengths)}, {len(lengths):,} texts")


class TextPreview(QWidget):
    """Samples with their tokens, and the histogram of text lengths in tokens."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = read_only_table()
        self.table.setMinimumHeight(140)
        self.table.setWordWrap(False)  # a cell holds two lines: the text, then its tokens
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.histogram = LengthHistogram()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.histogram)

    def show_preview(self, preview) -> None:
        rows = [[label, len(tokens), ""] for label, tokens in zip(preview.labels, preview.tokens)]
        fill_table(self.table, ["label", "tokens", "text, then its tokens"], rows)
        for row, (text, tokens) in enumerate(zip(preview.texts, preview.tokens)):
            item = self.table.item(row, 2)  # two lines, each escaped on its own
            item.setText(f"{printable(text)}\n{printable(TOKEN_SEPARATOR.join(tokens))}")
            item.setToolTip(printable(text))
        self.table.resizeRowsToContents()
        self.summary.setText(length_summary(preview.lengths))
        self.histogram.set_lengths(preview.lengths)

    def clear(self) -> None:
        fill_table(self.table, [], [])
        self.summary.setText("")
        self.histogram.set_lengths([])
