"""Audio folders: one subfolder of WAV files per class, turned into log-mel, MFCC or waveform inputs.

`{"name": "audio_folder", "path": "sounds/", "sample_rate": 16000, "duration": 1.0, "features": "log_mel",
"n_mels": 40}`. Each file's first `duration` seconds are read (never more: a
10-hour recording costs what a 1-second one does), mixed down to mono,
resampled to `sample_rate`, padded with silence when shorter, and turned into
features (see `engine.data.audio_features`). `"sample": "keywords"` instead of
`"path"` reads a generated set (see `engine.data.audio_samples`). Files with
another suffix are skipped and a note names them; a `.wav` file that cannot
be read stops the load with a message naming it.

`prepare_audio_files(preprocessing, paths)` prepares new files exactly as a
run's training did, from the `preprocessing` the run stored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.data.arrays import ArrayData
from engine.data.audio_features import FEATURES, MAX_SAMPLES, AudioSettings, fit_length, resample
from engine.data.options import Options, open_file
from engine.data.progress import Progress, Throttled
from engine.data.wav import read_frames, read_header
from engine.errors import UserError, listing
from engine.memory_budget import available_bytes, gigabytes
from engine.shape_rules import fmt
from graphs.errors import printable, quoted
from graphs.files import kind_of

ACCEPTED = ("path", "sample", "sample_rate", "duration", "features", "n_mels", "n_fft", "hop_length", "n_mfcc")
WAV_SUFFIXES = (".wav", ".wave")
BLOCK_FILES = 256  # files whose waveforms are held at once while their features are computed, at most
BLOCK_BYTES = 256 << 20  # ... and the working memory of such a block (waveforms, spectrograms), at most
MAX_DURATION = 600.0  # seconds of each file an input may take
READ_FRAMES = 1 << 20  # frames read from a file at a time


def read_waveform(path: Path, settings: AudioSettings, name: str | None = None) -> torch.Tensor:
    """The first `settings.duration` seconds of WAV file `path` as mono float32 [settings.samples] at
    `settings.sample_rate`; `name` is how messages name the file (default: its path)."""
    name = quoted(name if name is not None else str(path))
    with open_file(path, f"sound {name}") as handle:
        header = read_header(handle, name)
        wanted = min(math.ceil(settings.duration * header.sample_rate), header.frames)
        if wanted > MAX_SAMPLES:
            raise UserError(f"sound {name}: {settings.duration:g} s at its {header.sample_rate:,} Hz are "
                            f"{wanted:,} samples, more than the {MAX_SAMPLES:,} one input may be made from; "
                            "use a shorter 'duration'")
        mono = np.zeros(wanted, dtype=np.float32)
        mix = np.full(header.channels, 1 / header.channels, dtype=np.float32)  # the mean of the channels
        for start in range(0, wanted, READ_FRAMES):  # a block at a time, so many channels never pile up
            frames = read_frames(handle, header, min(READ_FRAMES, wanted - start), name, start)
            mono[start:start + len(frames)] = frames @ mix if header.channels > 1 else frames[:, 0]
    return fit_length(resample(torch.from_numpy(mono), header.sample_rate, settings.sample_rate), settings.samples)


def prepare_audio_files(preprocessing: dict, paths: Sequence[str | Path]) -> torch.Tensor:
    """WAV files prepared as a run's training prepared its inputs: FloatTensor [N, *input_shape]."""
    settings = AudioSettings.from_preprocessing(preprocessing)
    x = np.empty((len(paths), *settings.input_shape), dtype=np.float32)
    _fill_inputs(x, [Path(p) for p in paths], settings)
    return torch.from_numpy(x)


def _fill_inputs(x: np.ndarray, files: list[Path], settings: AudioSettings, name=str,
                 throttled: Throttled | None = None) -> None:
    """x[i] = the input of files[i], computed a block of files at a time (as many as fit in BLOCK_BYTES);
    `name(path)` is how messages name a file, `throttled` hears how many files are done."""
    s = settings
    per_file = s.samples * 4 + (0 if s.features == "waveform" else (s.n_fft // 2 + 1) * s.frames * 16)
    block_files = max(1, min(BLOCK_FILES, BLOCK_BYTES // per_file))
    for start in range(0, len(files), block_files):
        block = files[start:start + block_files]
        waves = []
        for i, path in enumerate(block, start):
            waves.append(read_waveform(path, settings, name(path)))
            if throttled is not None:
                throttled(i + 1)
        x[start:start + len(block)] = settings(torch.stack(waves)).numpy()


@dataclass
class AudioFolder:
    """The WAV files found in an audio folder, and how to turn them into inputs."""

    root: Path
    files: list[Path]
    labels: list[int]
    class_names: list[str]
    settings: AudioSettings
    notes: list[str] = field(default_factory=list)

    def name(self, path: Path) -> str:
        """The file as `folder/class/file.wav`, relative to the audio folder's parent."""
        return str(path.relative_to(self.root.parent))

    def read_all(self, progress: Progress | None = None) -> ArrayData:
        """Every file's input in memory; `progress(done_files, total_files)` hears how far. Refused before
        anything is read when the inputs could not fit in the memory available."""
        shape = self.settings.input_shape
        needed = len(self.files) * math.prod(shape) * 4
        available = available_bytes()
        if available is not None and needed > available * 0.8:
            raise UserError(f"the {len(self.files):,} files of audio folder {quoted(self.root.name)} would take "
                            f"{gigabytes(needed)} as {fmt(shape)} inputs, more than the {gigabytes(available)} of "
                            "memory available; use a shorter 'duration', a lower 'sample_rate', fewer mel bands "
                            "or fewer files")
        x = np.empty((len(self.files), *shape), dtype=np.float32)
        throttled = Throttled(progress, len(self.files))
        throttled(0, final=True)
        _fill_inputs(x, self.files, self.settings, self.name, throttled)
        throttled(len(self.files), final=True)
        return ArrayData(x, np.asarray(self.labels, dtype=np.int64), "classification", list(self.class_names),
                         modality="audio", notes=list(self.notes), preprocessing=self.settings.preprocessing(),
                         owned=True)


def load_audio_folder(options: Options, progress: Progress | None = None) -> ArrayData:
    return scan_audio_folder(options).read_all(progress)


def settings_of(options: Options) -> AudioSettings:
    """The feature settings a dataset spec asks for (defaults: `AudioSettings`'s), checked together."""
    d = AudioSettings()
    return AudioSettings(
        sample_rate=options.int("sample_rate", d.sample_rate, 1000, 384000),
        duration=options.float("duration", d.duration, 0.01, MAX_DURATION),
        features=options.choice("features", FEATURES, d.features),
        n_mels=options.int("n_mels", d.n_mels, 1, 512),
        n_fft=options.int("n_fft", d.n_fft, 8, 65536),
        hop_length=options.int("hop_length", d.hop_length, 1, 65536),
        n_mfcc=options.int("n_mfcc", d.n_mfcc, 1, 512),
    ).check()


def _folder(options: Options) -> Path:
    """The folder a spec names: its `path`, or the generated set its `sample` names."""
    if "sample" not in options.spec:
        return options.path()
    from engine.data import audio_samples

    if "path" in options.spec:
        raise UserError("dataset 'audio_folder' takes 'path' (your own folder) or 'sample' (a generated set), "
                        "not both")
    name = options.choice("sample", tuple(audio_samples.SAMPLES))
    return audio_samples.sample_folder(name)


def _sound_files(folder: Path, root: Path) -> tuple[list[Path], list[Path]]:
    """(WAV files, other files) in `folder`, hidden files and subfolders aside; a pipe, a device or a socket
    named like a WAV file is refused, never opened."""
    sounds, others = [], []
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        try:
            kind = kind_of(path.stat().st_mode)
        except OSError:  # a link to nothing
            continue
        if kind == "a folder":
            continue
        if path.suffix.lower() not in WAV_SUFFIXES:
            others.append(path)
        elif kind is not None:
            raise UserError(f"{quoted(str(path.relative_to(root.parent)))} is {kind}, not a sound file")
        else:
            sounds.append(path)
    return sorted(sounds), sorted(others)


def scan_audio_folder(options: Options) -> AudioFolder:
    settings = settings_of(options)
    root = _folder(options)
    folder_name = quoted(root.name)
    if not root.is_dir():
        raise UserError(f"{folder_name} is a file; an audio folder holds one subfolder of WAV files per class")
    classes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    example = printable(root.name)
    if not classes:
        loose = "its WAV files must go into one subfolder per class" if _sound_files(root, root)[0] else "it is empty"
        raise UserError(f"audio folder {folder_name} has no class subfolders: {loose} "
                        f"(e.g. {example}/yes/1.wav, {example}/no/1.wav)")
    if len(classes) == 1:
        raise UserError(f"audio folder {folder_name} has a single class ({quoted(classes[0].name)}); "
                        f"a classifier needs at least two class subfolders (e.g. {example}/yes, {example}/no)")
    files, labels, skipped = [], [], []
    for index, folder in enumerate(classes):
        sounds, others = _sound_files(folder, root)
        skipped += others
        if not sounds:
            found = f"; it has {listing(p.name for p in others)}, and only WAV files are read" if others else ""
            raise UserError(f"class folder {quoted(f'{root.name}/{folder.name}')} holds no WAV files{found}")
        files += sounds
        labels += [index] * len(sounds)
    notes = []
    if skipped:
        names = listing((str(p.relative_to(root.parent)) for p in skipped), limit=5)
        notes.append(f"{len(skipped)} file{'s' if len(skipped) > 1 else ''} in {folder_name} "
                     f"{'are' if len(skipped) > 1 else 'is'} not WAV and skipped: {names}")
    return AudioFolder(root, files, labels, [c.name for c in classes], settings, notes)
