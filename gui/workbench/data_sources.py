"""What the data panel needs to know about data sources, without Qt: names to show, which options
each source takes and how to type them, a CSV file's column names, and the background preview load.

The list of sources and their accepted options comes from the engine
(`engine.data.SOURCES`, read once the engine is loaded); this module only
knows how to present them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from graphs.files import open_regular

FILE_SOURCES = {  # source -> (title, file dialog filter, or None for a folder)
    "csv": ("CSV file", "CSV files (*.csv *.tsv *.txt);;All files (*)"),
    "npz": ("NumPy .npz file", "NumPy archives (*.npz);;All files (*)"),
    "image_folder": ("Image folder (one subfolder per class)", None),
    "audio_folder": ("Audio folder (one subfolder of WAV files per class)", None),
    "text_csv": ("Text CSV file", "CSV files (*.csv *.tsv *.txt);;All files (*)"),
}
COLUMN_SOURCES = ("csv", "text_csv")  # sources whose target is a column of the file

# options shown as text fields for built-in sets: name -> (label, type); empty means the engine's default
NUMBER_OPTIONS = {"n_samples": ("Samples", int), "noise": ("Noise", float), "factor": ("Inner radius", float),
                  "arms": ("Arms", int), "sample_rate": ("Sample rate (Hz)", int), "duration": ("Duration (s)", float),
                  "n_mels": ("Mel bands", int), "n_mfcc": ("MFCC coefficients", int), "n_fft": ("FFT size", int),
                  "hop_length": ("Hop length", int),
                  "vocab_size": ("Vocabulary size", int), "max_length": ("Max tokens", int)}
AUDIO_FEATURES = {"log_mel": "Log-mel spectrogram", "mfcc": "MFCC", "waveform": "Waveform"}  # engine name -> shown
PREVIEW_SAMPLES = 24


def source_title(name: str) -> str:
    if name in FILE_SOURCES:
        return FILE_SOURCES[name][0]
    return {"breast_cancer": "Breast cancer"}.get(name, name.capitalize()) + " (built-in)"


def number_options(accepted: tuple[str, ...]) -> list[str]:
    return [name for name in accepted if name in NUMBER_OPTIONS]


def parse_number(name: str, text: str):
    """The typed value of an option field; None when empty; ValueError with a sentence when unreadable."""
    text = text.strip()
    if not text:
        return None
    kind = NUMBER_OPTIONS[name][1]
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{NUMBER_OPTIONS[name][0]} must be {what}, got '{text}'") from None


def parse_size(text: str) -> list[int] | None:
    """'32' or '32, 48' -> [32, 32] or [32, 48]; empty -> None."""
    parts = text.replace("x", ",").replace("×", ",").split(",")
    values = [int(p) for p in parts if p.strip()]
    if not values:
        return None
    if len(values) > 2:
        raise ValueError("image size is 'height, width' or one number for both")
    return values * 2 if len(values) == 1 else values


def csv_columns(path: str | Path, delimiter: str = ",") -> list[str]:
    """The header row of a CSV file (empty list when it can't be read)."""
    try:  # never plain open(): a named pipe given as the path would hang the GUI
        with io.TextIOWrapper(open_regular(path), encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle, delimiter=delimiter), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    return [name.strip() or f"column {i + 1}" for i, name in enumerate(header)]


@dataclass(frozen=True)
class PreviewKey:
    """What a preview was loaded from; a preview is current while the settings give the same key."""

    spec: str  # the dataset spec, as sorted JSON
    base_dir: str
    val_split: float
    seed: int

    @classmethod
    def of(cls, training: dict, base_dir: Path) -> PreviewKey:
        import json

        dataset = training.get("dataset")
        if isinstance(dataset, dict):  # augmentation changes what training sees, not the data (its own preview)
            dataset = {k: v for k, v in dataset.items() if k != "augment"}
        return cls(json.dumps(dataset, sort_keys=True), str(base_dir),
                   float(training.get("val_split", 0.2)), int(training.get("seed", 0)))


def load_preview(training: dict, base_dir: Path, samples: int = PREVIEW_SAMPLES):
    """Load the dataset the settings name (in a background thread); return (DataPreview, DataShapes)."""
    from engine.data import load_dataset
    from gui.workbench.settings import DataShapes

    dataset = load_dataset(training["dataset"], base_dir, training.get("val_split", 0.2), training.get("seed", 0))
    return dataset.preview(samples), DataShapes.of(dataset)
