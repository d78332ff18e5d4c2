"""From a waveform to a model's input, with torch only: resampling, a fixed length, log-mel and MFCC features.

`AudioSettings` holds what a run chose (sample rate, duration, features and
their sizes, named as torchaudio names them) and is what the run stores as its
`preprocessing` ({"kind": "audio", ...}), so a new file can be prepared the
same way later. The pieces, each a plain function:

* `resample`: band-limited FFT resampling (the spectrum cut or zero-padded at
  the new Nyquist frequency). The segment is mirrored before the transform so
  its two ends meet without a jump, which keeps ringing away from the edges.
* `fit_length`: silence appended, or the end cut off, to exactly `duration`.
* `log_mel`: `torch.stft` (Hann window, centred frames with reflection padding)
  to a power spectrogram, an HTK-scale triangular mel filter bank without area
  normalisation (torchaudio's default `mel_scale="htk"`, `norm=None`), then the
  natural log with a floor of LOG_FLOOR, so silence gives a finite value.
* `mfcc`: an orthonormal DCT-II of the log-mel bands, the first `n_mfcc` kept.

A feature input is [1, bands, frames] (`frames = 1 + samples // hop_length`);
a waveform input is [1, samples].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

from engine.errors import UserError
from graphs.errors import quoted

FEATURES = ("log_mel", "mfcc", "waveform")
MAX_SAMPLES = 1 << 24  # samples of one input, before and after resampling (the FFT's memory stays under 1 GB)
LOG_FLOOR = 1e-6  # mel power below this is taken as this before the log
MEL_SCALE = "htk"  # mel = 2595 * log10(1 + hz / 700)


@dataclass(frozen=True)
class AudioSettings:
    """How a sound becomes a model's input; the defaults suit 1-s keywords at 16 kHz (25 ms frames, 10 ms hop)."""

    sample_rate: int = 16000
    duration: float = 1.0  # seconds
    features: str = "log_mel"
    n_mels: int = 40
    n_fft: int = 400
    hop_length: int = 160
    n_mfcc: int = 13

    @property
    def samples(self) -> int:
        return max(1, round(self.duration * self.sample_rate))

    @property
    def frames(self) -> int:
        return 1 + self.samples // self.hop_length

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.features == "waveform":
            return (1, self.samples)
        return (1, self.n_mfcc if self.features == "mfcc" else self.n_mels, self.frames)

    def check(self) -> AudioSettings:
        """These settings, or a UserError saying which option cannot work with the others."""
        if self.features not in FEATURES:
            raise UserError(f"audio option 'features' must be one of {', '.join(FEATURES)}, got {quoted(self.features)}")
        if self.samples > MAX_SAMPLES:
            raise UserError(f"audio options 'duration' {self.duration:g} s at 'sample_rate' {self.sample_rate:,} Hz "
                            f"make {self.samples:,} samples, more than the {MAX_SAMPLES:,} one input may hold; "
                            "use a shorter duration or a lower sample rate")
        if self.features == "waveform":
            return self
        if self.n_fft > self.samples:
            raise UserError(f"audio option 'n_fft' ({self.n_fft}) is longer than the {self.samples} samples of "
                            f"'duration' {self.duration} s at {self.sample_rate} Hz; use a smaller n_fft")
        if self.n_mfcc > self.n_mels and self.features == "mfcc":
            raise UserError(f"audio option 'n_mfcc' ({self.n_mfcc}) must be at most 'n_mels' ({self.n_mels})")
        empty = int((mel_filter_bank(self.n_fft, self.n_mels, self.sample_rate).sum(dim=0) == 0).sum())
        if empty:
            raise UserError(f"audio option 'n_mels' ({self.n_mels}) is too many for 'n_fft' {self.n_fft}: {empty} "
                            "mel bands would hold no frequency bin; use fewer mel bands or a larger n_fft")
        return self

    def preprocessing(self) -> dict:
        """What a run stores so new files are prepared the same way (see `from_preprocessing`)."""
        return {"kind": "audio", **asdict(self), "mel_scale": MEL_SCALE, "log_floor": LOG_FLOOR, "window": "hann"}

    @classmethod
    def from_preprocessing(cls, preprocessing: dict) -> AudioSettings:
        if not isinstance(preprocessing, dict) or preprocessing.get("kind") != "audio":
            kind = preprocessing.get("kind") if isinstance(preprocessing, dict) else preprocessing
            raise UserError(f"these weights were trained on {quoted(kind)} inputs, not on audio")
        try:
            settings = cls(**{f.name: preprocessing[f.name] for f in fields(cls)})
        except KeyError as missing:
            raise UserError(f"the run's audio preprocessing lacks {missing}; train the model again") from None
        return settings.check()

    def __call__(self, waveforms: torch.Tensor) -> torch.Tensor:
        """[N, samples] waveforms at `sample_rate` -> [N, *input_shape] float32 inputs."""
        if self.features == "waveform":
            return waveforms[:, None].float()
        features = log_mel(waveforms, self.sample_rate, self.n_fft, self.hop_length, self.n_mels)
        if self.features == "mfcc":
            features = mfcc(features, self.n_mfcc)
        return features[:, None].float()


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """`waveform` [..., n] sampled at `orig_rate` as [..., round(n * new_rate / orig_rate)] at `new_rate`,
    band-limited: what lies above the lower rate's Nyquist frequency is removed, not folded back."""
    if orig_rate == new_rate:
        return waveform
    n = waveform.shape[-1]
    m = max(1, round(n * new_rate / orig_rate))
    mirrored = torch.cat([waveform, waveform.flip(-1)], dim=-1).float()  # periodic without a jump
    spectrum = torch.fft.rfft(mirrored)
    bins = m + 1  # of a 2m-point real signal
    kept = torch.zeros((*spectrum.shape[:-1], bins), dtype=spectrum.dtype)
    shared = min(bins, spectrum.shape[-1])
    kept[..., :shared] = spectrum[..., :shared]
    if m > n:  # upsampling: the old Nyquist bin stood for two frequencies (+ and -), now apart
        kept[..., n] *= 0.5
    out = torch.fft.irfft(kept, n=2 * m) * (m / n)
    return out[..., :m].to(waveform.dtype)


def fit_length(waveform: torch.Tensor, samples: int) -> torch.Tensor:
    """The first `samples` values of `waveform` [..., n], silence appended when it is shorter."""
    n = waveform.shape[-1]
    if n >= samples:
        return waveform[..., :samples]
    return torch.nn.functional.pad(waveform, (0, samples - n))


def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filter_bank(n_fft: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                    f_max: float | None = None) -> torch.Tensor:
    """[n_fft // 2 + 1, n_mels] triangular filters, equally spaced on the HTK mel scale from `f_min` to `f_max`
    (default: the Nyquist frequency), each peaking at 1 (no area normalisation)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    bin_hz = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_hz[:, None] - lower) / (centre - lower)
    falling = (upper - bin_hz[:, None]) / (upper - centre)
    return torch.from_numpy(np.clip(np.minimum(rising, falling), 0, None)).float()


def power_spectrogram(waveforms: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """[N, samples] -> [N, n_fft // 2 + 1, frames] |STFT|^2 with a periodic Hann window, centred frames."""
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float32)
    spectrum = torch.stft(waveforms.float(), n_fft, hop_length=hop_length, window=window, center=True,
                          pad_mode="reflect", return_complex=True)
    return spectrum.abs().square()


def log_mel(waveforms: torch.Tensor, sample_rate: int, n_fft: int, hop_length: int, n_mels: int) -> torch.Tensor:
    """[N, samples] -> [N, n_mels, frames]: log(max(mel power, LOG_FLOOR))."""
    bank = mel_filter_bank(n_fft, n_mels, sample_rate)
    mel = torch.einsum("nft,fm->nmt", power_spectrogram(waveforms, n_fft, hop_length), bank)
    return torch.log(torch.clamp(mel, min=LOG_FLOOR))


def dct_matrix(n_mfcc: int, n_mels: int) -> torch.Tensor:
    """[n_mfcc, n_mels] orthonormal DCT-II (scipy's `dct(type=2, norm="ortho")`), first n_mfcc rows."""
    k = torch.arange(n_mfcc, dtype=torch.float64)[:, None]
    n = torch.arange(n_mels, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi / n_mels * (n + 0.5) * k) * math.sqrt(2.0 / n_mels)
    basis[0] /= math.sqrt(2.0)
    return basis.float()


def mfcc(log_mels: torch.Tensor, n_mfcc: int) -> torch.Tensor:
    """[N, n_mels, frames] log-mel -> [N, n_mfcc, frames] cepstral coefficients."""
    return torch.einsum("km,nmt->nkt", dct_matrix(n_mfcc, log_mels.shape[1]), log_mels)


def picture(x: torch.Tensor, preprocessing: dict | None) -> np.ndarray:
    """One input as an image for people: [bands, frames] in [0, 1], low bands at the bottom. A waveform input
    is shown as its log-mel spectrogram (default sizes); features are scaled from their own range."""
    settings = AudioSettings.from_preprocessing(preprocessing) if preprocessing else AudioSettings()
    values = x.detach().float().cpu().reshape(-1, x.shape[-1])
    if settings.features == "waveform":  # shown with the default log-mel sizes (or fewer, for a very short sound)
        default = AudioSettings()
        n_fft = min(default.n_fft, values.shape[-1])
        hop_length, n_mels = max(1, n_fft * default.hop_length // default.n_fft), min(default.n_mels, n_fft // 10 or 1)
        values = log_mel(values.reshape(1, -1), settings.sample_rate, n_fft, hop_length, n_mels)[0]
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else torch.zeros_like(values)
    return scaled.flip(0).numpy()
