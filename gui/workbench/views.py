"""Small display widgets shared by the data preview and the evaluation: an image grid with captions,
class counts as bars, a read-only table filler, and a placeholder that builds a dock's content on first
use. They show data; they never compute it. numpy is imported only when an image is drawn (start-up).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from graphs.errors import printable
from gui import theme

BAR = QColor("#4f8fd6")
WRONG = "#ff7b72"
RIGHT = "#9aa1ab"


def image_pixmap(image, size: int) -> QPixmap:
    """A [H, W] or [H, W, C] float image in [0, 1] (numpy) as a pixmap at most `size` pixels wide.
    Small images are scaled without smoothing, so 8x8 digits stay crisp blocks."""
    import numpy as np

    pixels = np.ascontiguousarray(np.clip(image, 0.0, 1.0) * 255.0, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = np.ascontiguousarray(pixels[:, :, 0])
    height, width = pixels.shape[:2]
    if pixels.ndim == 2:
        qimage = QImage(pixels.data, width, height, width, QImage.Format.Format_Grayscale8)
    else:
        rgb = np.ascontiguousarray(pixels[:, :, :3])
        qimage = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    smooth = Qt.TransformationMode.SmoothTransformation if width >= size else Qt.TransformationMode.FastTransformation
    return QPixmap.fromImage(qimage.copy()).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, smooth)


class ImageGrid(QWidget):
    """Thumbnails with captions (coloured when flagged), in as many columns as the width allows."""

    SPACING = 6

    def __init__(self, thumb: int = 48, parent: QWidget | None = None):
        super().__init__(parent)
        self.thumb = thumb
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(self.SPACING)
        self._grid.setVerticalSpacing(4)
        self._cells: list[QWidget] = []
        self.columns = 0

    @property
    def count(self) -> int:
        return len(self._cells)

    def clear(self) -> None:
        for cell in self._cells:
            self._grid.removeWidget(cell)
            cell.deleteLater()
        self._cells = []
        self.columns = 0

    def set_images(self, images: list, captions: list[str], flagged: list[bool] | None = None) -> None:
        self.clear()
        flagged = flagged or [False] * len(images)
        for image, caption, flag in zip(images, map(printable, captions), flagged):
            cell = QWidget()
            layout = QVBoxLayout(cell)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.setSpacing(1)
            picture = QLabel()
            picture.setPixmap(image_pixmap(image, self.thumb))
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text = QLabel(caption)
            text.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text.setStyleSheet(f"color: {WRONG if flag else RIGHT}; font-size: 8pt;")
            layout.addWidget(picture)
            layout.addWidget(text)
            self._cells.append(cell)
        self._place()

    def _place(self) -> None:
        columns = max(1, (self.width() + self.SPACING) // (self.thumb + 8 + self.SPACING))
        if columns == self.columns and all(self._grid.indexOf(c) >= 0 for c in self._cells):
            return
        self.columns = columns
        for cell in self._cells:
            self._grid.removeWidget(cell)
        for i, cell in enumerate(self._cells):
            self._grid.addWidget(cell, i // columns, i % columns)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place()

    def minimumSizeHint(self) -> QSize:
        return QSize(self.thumb + 8, super().minimumSizeHint().height())


class ClassCounts(QWidget):
    """Horizontal bars: one per class, its name on the left and its count on the right."""

    ROW = 16

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.counts: dict[str, int] = {}

    def set_counts(self, counts: dict[str, int] | None) -> None:
        self.counts = {printable(str(name)): count for name, count in (counts or {}).items()}
        self.setVisible(bool(self.counts))
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(220, self.ROW * max(1, len(self.counts)) + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(120, self.sizeHint().height())

    def paintEvent(self, _event) -> None:
        if not self.counts:
            return
        painter = QPainter(self)
        painter.setFont(theme.font(-1))
        metrics = painter.fontMetrics()
        names = list(self.counts)
        name_width = min(max(metrics.horizontalAdvance(n) for n in names) + 8, self.width() // 3)
        count_width = metrics.horizontalAdvance(f"{max(self.counts.values()):,}") + 8
        bar_width = max(10, self.width() - name_width - count_width)
        top = max(self.counts.values()) or 1
        for row, name in enumerate(names):
            y = row * self.ROW + 2
            painter.setPen(theme.NODE_TEXT)
            label = metrics.elidedText(name, Qt.TextElideMode.ElideRight, name_width - 6)
            painter.drawText(QRectF(0, y, name_width - 6, self.ROW), Qt.AlignmentFlag.AlignVCenter
                             | Qt.AlignmentFlag.AlignRight, label)
            length = bar_width * self.counts[name] / top
            painter.fillRect(QRectF(name_width, y + 3, length, self.ROW - 6), BAR)
            painter.setPen(theme.NODE_MUTED)
            painter.drawText(QRectF(name_width + length + 4, y, count_width, self.ROW), Qt.AlignmentFlag.AlignVCenter,
                             f"{self.counts[name]:,}")
        painter.end()


class Deferred(QWidget):
    """A dock's content built the first time it is needed (shown, or asked for through `content`), so that
    opening the editor doesn't pay for widgets (and imports, such as pyqtgraph) nobody has looked at yet."""

    def __init__(self, factory, parent: QWidget | None = None):
        super().__init__(parent)
        self._factory = factory
        self._content: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)

    @property
    def content(self) -> QWidget:
        if self._content is None:
            self._content = self._factory()
            self.layout().addWidget(self._content, 1)
        return self._content


def compact_combo() -> QComboBox:
    """A combo box whose long entries don't force its width (a narrow dock stays narrow)."""
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(10)
    return combo


def read_only_table() -> QTableWidget:
    table = QTableWidget()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.verticalHeader().setDefaultSectionSize(20)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def fill_table(table: QTableWidget, headers: list[str], rows: list[list], row_labels: list[str] | None = None
               ) -> None:
    """Show `rows` (numbers shown with %.4g) under `headers`; text (a file's column names, class names,
    cells) is shown escaped."""
    table.clear()
    table.setColumnCount(len(headers))
    table.setRowCount(len(rows))
    table.setHorizontalHeaderLabels([printable(str(h)) for h in headers])
    if row_labels is not None:
        table.setVerticalHeaderLabels([printable(str(label)) for label in row_labels])
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            text = f"{value:.4g}" if isinstance(value, float) else printable(str(value))
            item = QTableWidgetItem(text)
            if isinstance(value, (int, float)):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)
