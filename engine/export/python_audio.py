"""The audio part of a `.py` export's predicting code: WAV files to a model's input with torch and the standard library.

The exported file reads a WAV file as `engine.data.wav` does (PCM of 8, 16,
24 or 32 bits, float of 32 or 64 bits, plain or in the extensible wrapper,
only the frames the duration needs), mixes it to mono, and prepares it as
`engine.data.audio.read_waveform` and `engine.data.audio_features` do. The
torch-only pieces (`resample`, `fit_length`, `power_spectrogram`,
`dct_matrix`, `mfcc`) are copied from `engine.data.audio_features` itself, so
the two can never drift apart; the mel filter bank, written there with numpy,
is written here with torch in float64, which gives the same float32 values.
A file that cannot be read raises `SoundError`, a `ValueError` naming it.
"""

from __future__ import annotations

import inspect

from engine.data import audio_features

SHARED = (audio_features.resample, audio_features.fit_length, audio_features.power_spectrogram,
          audio_features.dct_matrix, audio_features.mfcc)
STANDARD_IMPORTS = ("import math", "import struct")

_READING = '''
INPUTS_HELP = "WAV files, or folders of them"
SOUND_SUFFIXES = (".wav",)
LOG_FLOOR = PREPROCESSING.get("log_floor", 1e-6)  # mel power below this is taken as this before the log


class SoundError(ValueError):
    """A WAV file that cannot be read; the message names it."""


def read_inputs(arguments):
    """(name, WAV path) of every WAV file named, or found in a folder named (hidden ones aside), in order."""
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in SOUND_SUFFIXES and p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            yield from ((str(p), p) for p in found)
        else:
            yield str(path), path


def prepare(paths):
    """WAV files as the model's input: the first `duration` seconds, mixed to mono, resampled to
    `sample_rate`, padded with silence or cut to the duration, then the run's features."""
    rate = PREPROCESSING["sample_rate"]
    samples = max(1, round(PREPROCESSING["duration"] * rate))
    waves = []
    for path in paths:
        frames, file_rate = read_wav(path)
        channels = frames.shape[1]
        mono = frames @ torch.full((channels,), 1 / channels) if channels > 1 else frames[:, 0]
        waves.append(fit_length(resample(mono, file_rate, rate), samples))
    waves = torch.stack(waves)
    if PREPROCESSING["features"] == "waveform":
        return waves[:, None].float()
    features = log_mel(waves, rate, PREPROCESSING["n_fft"], PREPROCESSING["hop_length"], PREPROCESSING["n_mels"])
    if PREPROCESSING["features"] == "mfcc":
        features = mfcc(features, PREPROCESSING["n_mfcc"])
    return features[:, None].float()


def read_wav(path):
    """(float32 [frames, channels], sample rate) of the first `duration` seconds of WAV file `path`,
    PCM scaled to [-1, 1); only the frames needed are read."""
    def fail(why):
        raise SoundError(f"cannot read sound {path}: {why}")

    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as handle:
            start = handle.read(12)
            if len(start) < 12 or start[:4] != b"RIFF" or start[8:12] != b"WAVE":
                fail("not a WAV file (it does not start with 'RIFF....WAVE'); only WAV files are read")
            layout = None
            for _ in range(4096):  # chunks before the samples (a real file has a handful)
                chunk = handle.read(8)
                if len(chunk) < 8:
                    break
                chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if chunk_id == b"fmt ":
                    layout = wav_layout(handle.read(min(chunk_size, 40)), fail)
                    handle.seek(max(0, chunk_size - 40) + (chunk_size & 1), 1)
                elif chunk_id == b"data":
                    if layout is None:
                        fail("damaged WAV header (the samples come before the 'fmt ' chunk)")
                    channels, file_rate, bits, is_float = layout
                    frame_bytes = channels * bits // 8
                    frames = min(chunk_size, max(0, size - handle.tell())) // frame_bytes
                    if frames == 0:
                        fail("the file holds no samples (0 frames)")
                    wanted = min(math.ceil(PREPROCESSING["duration"] * file_rate), frames)
                    raw = handle.read(wanted * frame_bytes)
                    raw = raw[:len(raw) - len(raw) % frame_bytes]
                    return wav_samples(raw, bits, is_float, fail).reshape(-1, channels), file_rate
                else:
                    handle.seek(chunk_size + (chunk_size & 1), 1)  # chunks are padded to an even size
            fail("damaged or truncated WAV file (no " + ("'fmt '" if layout is None else "'data'") + " chunk)")
    except OSError as error:
        fail(error.strerror or str(error))


def wav_layout(body, fail):
    """(channels, sample rate, bits, is_float) from a 'fmt ' chunk's body."""
    if len(body) < 16:
        fail(f"damaged or truncated WAV header (a 'fmt ' chunk of {len(body)} bytes)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
        tag = struct.unpack("<H", body[24:26])[0]
    if tag not in (1, 3):
        fail(f"compressed WAV (format code {tag:#06x}); only PCM and floating-point WAV are read")
    is_float = tag == 3
    if bits not in ((32, 64) if is_float else (8, 16, 24, 32)):
        fail(f"{bits}-bit {'floating-point' if is_float else 'PCM'} samples are not read")
    if not 1 <= channels <= 256 or not 1 <= rate <= 1_000_000 or block_align != channels * bits // 8:
        fail(f"damaged WAV header ({channels} channels at {rate} Hz, frames of {block_align} bytes)")
    return channels, rate, bits, is_float


def wav_samples(raw, bits, is_float, fail):
    """Little-endian sample bytes as float32 values, PCM scaled to [-1, 1)."""
    raw = bytearray(raw)
    if is_float:
        samples = torch.frombuffer(raw, dtype=torch.float32 if bits == 32 else torch.float64).float()
        if not torch.isfinite(samples).all():
            fail("it holds NaN or infinite samples")
        return samples
    if bits == 8:
        return (torch.frombuffer(raw, dtype=torch.uint8).float() - 128.0) / 128.0
    if bits == 24:
        triples = torch.frombuffer(raw, dtype=torch.uint8).reshape(-1, 3).int()
        values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        return (values - ((values & 0x800000) << 1)).float() / 2.0**23  # sign-extended
    dtype = torch.int16 if bits == 16 else torch.int32
    return torch.frombuffer(raw, dtype=dtype).float() / 2.0 ** (bits - 1)
'''

_FEATURES = '''
def mel_filter_bank(n_fft, n_mels, sample_rate):
    """[n_fft // 2 + 1, n_mels] triangular filters equally spaced on the HTK mel scale up to the Nyquist
    frequency, each peaking at 1 (torchaudio's mel_scale="htk", norm=None)."""
    def hz_to_mel(hz):
        return 2595.0 * torch.log10(1.0 + hz / 700.0)

    def mel_to_hz(mel):
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    bin_hz = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    top = hz_to_mel(torch.tensor(sample_rate / 2, dtype=torch.float64))
    edges = mel_to_hz(torch.linspace(0.0, float(top), n_mels + 2, dtype=torch.float64))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_hz[:, None] - lower) / (centre - lower)
    falling = (upper - bin_hz[:, None]) / (upper - centre)
    return torch.minimum(rising, falling).clamp(min=0).float()


def log_mel(waveforms, sample_rate, n_fft, hop_length, n_mels):
    """[N, samples] -> [N, n_mels, frames]: log(max(mel power, LOG_FLOOR))."""
    bank = mel_filter_bank(n_fft, n_mels, sample_rate)
    mel = torch.einsum("nft,fm->nmt", power_spectrogram(waveforms, n_fft, hop_length), bank)
    return torch.log(torch.clamp(mel, min=LOG_FLOOR))
'''


def audio_block() -> str:
    """The audio `read_inputs` and `prepare`, and everything they call, as one block of the file."""
    shared = "\n\n\n".join(inspect.getsource(function).strip("\n") for function in SHARED)
    return "\n\n\n".join([_READING.strip("\n"), shared, _FEATURES.strip("\n")])
