"""Writes WAV files of every kind the reader understands (and some it must refuse), for the audio tests."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

PCM, IEEE_FLOAT, EXTENSIBLE = 1, 3, 0xFFFE


def encode(samples: np.ndarray, bits: int, is_float: bool = False) -> bytes:
    """[frames, channels] values in [-1, 1] as little-endian sample bytes."""
    if is_float:
        return samples.astype(f"<f{bits // 8}").tobytes()
    scale = 2.0 ** (bits - 1)
    values = np.clip(np.round(samples * scale), -scale, scale - 1).astype(np.int64)
    if bits == 8:
        return (values + 128).astype(np.uint8).tobytes()
    if bits == 24:
        values &= 0xFFFFFF
        return np.stack([values & 0xFF, (values >> 8) & 0xFF, values >> 16], axis=-1).astype(np.uint8).tobytes()
    return values.astype(f"<i{bits // 8}").tobytes()


def wav_bytes(samples: np.ndarray, rate: int = 16000, bits: int = 16, is_float: bool = False,
              extensible: bool = False, extra_chunks: bytes = b"", data_size: int | None = None) -> bytes:
    """A whole WAV file; `samples` [frames] or [frames, channels]; `data_size` overrides the data chunk's
    declared size (a header that lies)."""
    samples = samples.reshape(len(samples), -1)
    channels = samples.shape[1]
    data = encode(samples, bits, is_float)
    tag = IEEE_FLOAT if is_float else PCM
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", EXTENSIBLE if extensible else tag, channels, rate, rate * block, block, bits)
    if extensible:  # cbSize, valid bits, channel mask, sub-format GUID (its first two bytes are the format tag)
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
    body = b"WAVE" + chunk(b"fmt ", fmt) + extra_chunks
    body += b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def tone(hz: float, seconds: float = 1.0, rate: int = 16000, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)


def sound_folder(root: Path, classes: dict[str, list[np.ndarray]], rate: int = 16000) -> Path:
    """root/<class>/<i>.wav for each class's sounds (16-bit PCM)."""
    for name, sounds in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i, sound in enumerate(sounds):
            (root / name / f"{i}.wav").write_bytes(wav_bytes(sound, rate))
    return root
