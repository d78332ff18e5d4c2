"""The generated "keywords" sound set: five kinds of 1-s sounds, written once as 16-kHz WAV files.

`{"name": "audio_folder", "sample": "keywords"}` reads it. Each class is a
kind of sound a small CNN on log-mel features can tell apart, drawn with
random pitch, length, onset, loudness and background noise from a fixed seed,
so every machine generates the same files:

* `up`: a tone sweeping up (a logarithmic chirp over 1 to 2 octaves);
* `down`: the same sweeping down;
* `two_tone`: two tones alternating like a siren;
* `buzz`: a low tone rich in harmonics (a sawtooth), with a little vibrato;
* `hiss`: a burst of noise in a band around a random centre frequency.

The files are 16-bit mono PCM written with Python's `wave` module; generation
takes about a second and lands in the cache (see `engine.data.samples`).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from engine.data.samples import sample_dir

SAMPLE_RATE = 16000
SECONDS = 1.0
PER_CLASS = 60
SEED = 14
VERSION = 1


def _tone(rng: np.random.Generator, hz: np.ndarray) -> np.ndarray:
    """A sine whose frequency follows `hz` (one value per sample), from a random phase."""
    return np.sin(rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.cumsum(hz) / SAMPLE_RATE)


def _sweep(rng: np.random.Generator, n: int, up: bool) -> np.ndarray:
    low = rng.uniform(300, 1200)
    high = low * 2 ** rng.uniform(1, 2)
    hz = np.geomspace(low, high, n) if up else np.geomspace(high, low, n)
    return _tone(rng, hz)


def _two_tone(rng: np.random.Generator, n: int) -> np.ndarray:
    first = rng.uniform(400, 1500)
    second = first * rng.uniform(1.3, 1.8)
    step = int(rng.uniform(0.06, 0.12) * SAMPLE_RATE)
    hz = np.where((np.arange(n) // step) % 2 == 0, first, second)
    return _tone(rng, hz)


def _buzz(rng: np.random.Generator, n: int) -> np.ndarray:
    base = rng.uniform(100, 300) * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(4, 7) * np.arange(n) / SAMPLE_RATE))
    phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.cumsum(base) / SAMPLE_RATE
    return sum(np.sin(k * phase) / k for k in range(1, 11)) / 2


def _hiss(rng: np.random.Generator, n: int) -> np.ndarray:
    spectrum = np.fft.rfft(rng.normal(size=n))
    hz = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    centre = rng.uniform(1000, 5000)
    spectrum[(hz < centre * 0.7) | (hz > centre * 1.3)] = 0
    band = np.fft.irfft(spectrum, n)
    return band / (np.abs(band).max() + 1e-9)


KINDS = {"up": lambda rng, n: _sweep(rng, n, True), "down": lambda rng, n: _sweep(rng, n, False),
         "two_tone": _two_tone, "buzz": _buzz, "hiss": _hiss}


def keyword(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One 1-s sound of `kind` in [-1, 1]: the event at a random onset, faded in and out, over faint noise."""
    total = int(SECONDS * SAMPLE_RATE)
    n = int(rng.uniform(0.3, 0.6) * SAMPLE_RATE)
    fade = int(0.02 * SAMPLE_RATE)
    envelope = np.ones(n)
    envelope[:fade] = np.linspace(0, 1, fade)
    envelope[-fade:] = np.linspace(1, 0, fade)
    onset = int(rng.integers(0, total - n))
    sound = rng.normal(scale=rng.uniform(0.003, 0.03), size=total)
    sound[onset:onset + n] += rng.uniform(0.3, 0.8) * envelope * KINDS[kind](rng, n)
    return np.clip(sound, -1, 1)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """`samples` in [-1, 1] as a 16-bit mono PCM WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def generate_keywords(folder: Path) -> None:
    rng = np.random.default_rng(SEED)
    for kind in KINDS:
        (folder / kind).mkdir()
        for i in range(PER_CLASS):
            write_wav(folder / kind / f"{i:03d}.wav", keyword(kind, rng))


SAMPLES = {"keywords": (VERSION, generate_keywords)}


def sample_folder(name: str) -> Path:
    """The folder of generated set `name` (one of SAMPLES), written the first time it is asked for."""
    version, generate = SAMPLES[name]
    return sample_dir(f"audio-{name}", version, generate)
