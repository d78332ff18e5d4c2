"""WAV files read with nothing but the standard library and numpy: the header, then only the frames asked for.

A WAV file is a RIFF container: a `fmt ` chunk says how samples are stored,
a `data` chunk holds them. `read_header` walks the chunks up to `data`
without reading it, so a 10-hour recording costs what its header costs;
`read_frames` then seeks to the frames wanted and reads just those.
Understood: PCM of 8 (unsigned), 16, 24 or 32 bits and IEEE float of 32 or
64 bits, plain or in the WAVE_FORMAT_EXTENSIBLE wrapper, any number of
channels. (Python's `wave` module would do for plain PCM, but before Python
3.12 it refuses the extensible wrapper that 24-bit and multichannel files
use, and it never reads float files.) Every problem is a `UserError` naming
the file as the caller gives it.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from engine.errors import UserError
from graphs.errors import printable

PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
PCM_BITS = (8, 16, 24, 32)
FLOAT_BITS = (32, 64)
MAX_CHUNKS = 4096  # chunks skipped before `data` (a real file has a handful; a hostile one could have millions)
MAX_CHANNELS = 256
MAX_RATE = 1_000_000  # samples a second


@dataclass(frozen=True)
class WavHeader:
    """How a WAV file stores its sound, and where the samples are."""

    channels: int
    sample_rate: int
    bits: int
    is_float: bool
    data_offset: int  # bytes from the start of the file to the first frame
    frames: int  # frames the file really holds (a header may claim more than was written)

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.bits // 8

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def read_header(handle: BinaryIO, name: str) -> WavHeader:
    """The header of the WAV file open as `handle` (binary, seekable); `name` is how messages name the file."""
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        raise UserError(f"cannot read sound {name}: the file is empty (0 bytes)")
    start = handle.read(12)
    if len(start) < 12 or start[:4] != b"RIFF" or start[8:12] != b"WAVE":
        raise UserError(f"cannot read sound {name}: not a WAV file (it starts with {_shown(start[:12])}, "
                        "not 'RIFF....WAVE'); only WAV files are read")
    fmt = None
    for _ in range(MAX_CHUNKS):
        chunk = handle.read(8)
        if len(chunk) < 8:
            break
        chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if chunk_id == b"fmt ":
            fmt = _format(handle.read(min(chunk_size, 40)), name)
            handle.seek(handle.tell() + max(0, chunk_size - 40) + (chunk_size & 1))
        elif chunk_id == b"data":
            if fmt is None:
                raise UserError(f"cannot read sound {name}: damaged WAV header (the samples come before the "
                                "'fmt ' chunk that says how they are stored)")
            offset = handle.tell()
            channels, rate, bits, is_float = fmt
            frame_bytes = channels * bits // 8
            frames = min(chunk_size, max(0, size - offset)) // frame_bytes  # a header may overstate its data
            if frames == 0:
                raise UserError(f"cannot read sound {name}: the file holds no samples (0 frames)")
            return WavHeader(channels, rate, bits, is_float, offset, frames)
        else:
            handle.seek(handle.tell() + chunk_size + (chunk_size & 1))  # chunks are padded to an even size
    what = "no 'fmt ' chunk" if fmt is None else "no 'data' chunk"
    raise UserError(f"cannot read sound {name}: damaged or truncated WAV file ({what})")


def _format(body: bytes, name: str) -> tuple[int, int, int, bool]:
    """(channels, sample rate, bits, is_float) from a `fmt ` chunk's body."""
    if len(body) < 16:
        raise UserError(f"cannot read sound {name}: damaged or truncated WAV header (a 'fmt ' chunk of "
                        f"{len(body)} bytes)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack("<H", body[24:26])[0]  # the first two bytes of the sub-format GUID
    if tag not in (PCM, IEEE_FLOAT):
        raise UserError(f"cannot read sound {name}: compressed WAV (format code {tag:#06x}); only PCM and "
                        "floating-point WAV are read: convert it, e.g. ffmpeg -i IN -c:a pcm_s16le OUT.wav")
    is_float = tag == IEEE_FLOAT
    allowed = FLOAT_BITS if is_float else PCM_BITS
    if bits not in allowed:
        kind = "floating-point" if is_float else "PCM"
        raise UserError(f"cannot read sound {name}: {bits}-bit {kind} samples are not read "
                        f"(only {', '.join(map(str, allowed))}-bit)")
    if not 1 <= channels <= MAX_CHANNELS or not 1 <= rate <= MAX_RATE:
        raise UserError(f"cannot read sound {name}: damaged WAV header ({channels} channels at {rate} Hz)")
    if block_align != channels * bits // 8:
        raise UserError(f"cannot read sound {name}: damaged WAV header (frames of {block_align} bytes, but "
                        f"{channels} channels of {bits} bits make {channels * bits // 8})")
    return channels, rate, bits, is_float


def read_frames(handle: BinaryIO, header: WavHeader, count: int, name: str, start: int = 0) -> np.ndarray:
    """Up to `count` frames from frame `start` as float32 [frames, channels], PCM scaled to [-1, 1)."""
    count = max(0, min(count, header.frames - start))
    handle.seek(header.data_offset + start * header.frame_bytes)
    raw = handle.read(count * header.frame_bytes)
    raw = raw[:len(raw) - len(raw) % header.frame_bytes]
    if header.is_float:
        samples = np.frombuffer(raw, dtype=f"<f{header.bits // 8}").astype(np.float32)
        if not np.isfinite(samples).all():
            raise UserError(f"cannot read sound {name}: it holds NaN or infinite samples")
    elif header.bits == 8:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif header.bits == 24:
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        samples = (values - ((values & 0x800000) << 1)).astype(np.float32) / 2.0**23  # sign-extend
    else:
        samples = np.frombuffer(raw, dtype=f"<i{header.bits // 8}").astype(np.float32) / 2.0 ** (header.bits - 1)
    return samples.reshape(-1, header.channels)


def _shown(data: bytes) -> str:
    return "'" + printable(data.decode("latin-1")) + "'" if data else "nothing"
