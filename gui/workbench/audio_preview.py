"""The Data panel's preview of an audio dataset: each sample's spectrogram, coloured, with its label.

The engine gives the pictures (`DataPreview.images` of kind "audio": [bands,
frames] in [0, 1], low bands at the bottom; a waveform input comes as its
log-mel); this module colours them (dark blue for quiet through red to
yellow for loud), lays them out with their labels in an `ImageGrid`, and says
what the axes are. It shows data; it never computes features.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.workbench.views import ImageGrid

# (position in [0, 1], RGB): quiet to loud
COLOURS = ((0.0, (8, 8, 40)), (0.35, (80, 20, 120)), (0.65, (200, 60, 60)), (0.85, (245, 150, 40)),
           (1.0, (252, 250, 160)))
FEATURE_NAMES = {"log_mel": "log-mel spectrograms", "mfcc": "MFCC (cepstral coefficients)",
                 "waveform": "waveforms, shown as log-mel spectrograms"}


def coloured(picture):
    """A [bands, frames] picture in [0, 1] as an RGB [bands, frames, 3] image in [0, 1]."""
    import numpy as np

    stops = np.array([p for p, _ in COLOURS])
    rgb = np.array([c for _, c in COLOURS], dtype=np.float32) / 255.0
    values = np.clip(picture, 0.0, 1.0)
    return np.stack([np.interp(values, stops, rgb[:, channel]) for channel in range(3)], axis=-1)


def axes_text(features: str, picture_shape: tuple[int, ...]) -> str:
    """What the pictures show, e.g. 'log-mel spectrograms: 40 mel bands (low pitch at the bottom) x 101 frames'."""
    bands, frames = picture_shape[:2]
    rows = "coefficients (first at the bottom)" if features == "mfcc" else "mel bands (low pitch at the bottom)"
    return f"{FEATURE_NAMES.get(features, features)}: {bands} {rows} × {frames} frames (time →); brighter is louder"


class SpectrogramPreview(QWidget):
    """Spectrograms of the previewed sounds with their labels, under a line saying what the axes are."""

    THUMB = 120  # pixels wide; the height keeps the picture's aspect

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.axes = QLabel()
        self.axes.setObjectName("mutedLabel")
        self.axes.setWordWrap(True)
        self.grid = ImageGrid(thumb=self.THUMB)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.axes)
        layout.addWidget(self.grid)

    @property
    def count(self) -> int:
        return self.grid.count

    def set_preview(self, pictures: list, labels: list[str], features: str) -> None:
        self.axes.setText(axes_text(features, pictures[0].shape) if pictures else "")
        self.grid.set_images([coloured(p) for p in pictures], labels)

    def clear(self) -> None:
        self.axes.setText("")
        self.grid.clear()
