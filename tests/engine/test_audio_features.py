"""Audio features against reference formulas: resampling, the mel filter bank, log-mel and MFCC."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import torch

from engine.data.audio_features import (
    AudioSettings,
    fit_length,
    hz_to_mel,
    log_mel,
    mel_filter_bank,
    mel_to_hz,
    mfcc,
    resample,
)
from engine.errors import UserError
from tests.engine.wav_files import tone


def _dominant_hz(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / rate)[spectrum.argmax()])


def test_resampling_keeps_a_tone_s_pitch_and_shape():
    down = resample(torch.tensor(tone(1000, rate=44100)), 44100, 16000).numpy()
    assert len(down) == 16000
    assert _dominant_hz(down, 16000) == pytest.approx(1000, abs=2)
    middle = slice(400, -400)  # away from where the file starts and ends
    np.testing.assert_allclose(down[middle], tone(1000, rate=16000)[middle], atol=2e-3)
    up = resample(torch.tensor(tone(440, rate=8000)), 8000, 16000).numpy()
    assert len(up) == 16000
    np.testing.assert_allclose(up[middle], tone(440, rate=16000)[middle], atol=2e-3)


def test_resampling_removes_what_the_new_rate_cannot_hold_instead_of_folding_it_back():
    """A 10 kHz tone cannot exist at 16 kHz (Nyquist 8 kHz); naive decimation would turn it into 6 kHz."""
    high = torch.tensor(tone(10000, rate=44100))
    down = resample(high, 44100, 16000)
    assert float(down[400:-400].abs().max()) < 0.01
    naive = high[(torch.arange(16000) * 44100 // 16000)]
    assert _dominant_hz(naive.numpy(), 16000) == pytest.approx(6000, abs=10)  # what the test guards against


def test_fit_length_pads_with_silence_or_keeps_the_start():
    x = torch.arange(1.0, 6.0)
    assert fit_length(x, 3).tolist() == [1, 2, 3]
    assert fit_length(x, 7).tolist() == [1, 2, 3, 4, 5, 0, 0]


def test_the_mel_scale_is_htk_s():
    assert hz_to_mel(1000) == pytest.approx(2595 * np.log10(1 + 1000 / 700))
    assert hz_to_mel(700) == pytest.approx(2595 * np.log10(2))
    assert mel_to_hz(hz_to_mel(3456.0)) == pytest.approx(3456.0)


def _reference_bank(n_fft: int, n_mels: int, rate: int) -> np.ndarray:
    """The HTK triangular filters written out bin by bin."""
    top = 2595 * np.log10(1 + (rate / 2) / 700)
    edges_hz = [700 * (10 ** (top * i / (n_mels + 1) / 2595) - 1) for i in range(n_mels + 2)]
    bank = np.zeros((n_fft // 2 + 1, n_mels))
    for b in range(n_fft // 2 + 1):
        hz = b * rate / n_fft
        for m in range(n_mels):
            lo, mid, hi = edges_hz[m:m + 3]
            if lo <= hz <= mid:
                bank[b, m] = (hz - lo) / (mid - lo)
            elif mid < hz <= hi:
                bank[b, m] = (hi - hz) / (hi - mid)
    return bank


def test_the_filter_bank_is_triangles_equally_spaced_in_mel():
    np.testing.assert_allclose(mel_filter_bank(400, 40, 16000).numpy(), _reference_bank(400, 40, 16000), atol=1e-6)


def test_a_pure_tone_s_energy_lands_in_the_mel_band_centred_nearest_it():
    top = hz_to_mel(8000)
    centres = mel_to_hz(np.linspace(0, top, 42)[1:-1])
    for hz in (250, 1000, 3000, 6500):
        bands = log_mel(torch.tensor(tone(hz), dtype=torch.float32)[None], 16000, 400, 160, 40)[0]
        loudest = int(bands[:, 5:-5].mean(dim=1).argmax())
        assert loudest == int(np.abs(centres - hz).argmin()), hz


def _reference_features(signal: np.ndarray, n_fft=400, hop=160, n_mels=40, n_mfcc=13):
    """log-mel and MFCC in numpy and scipy: reflect-padded centred frames, periodic Hann, power, HTK bank,
    log with the floor, orthonormal DCT-II."""
    padded = np.pad(signal, n_fft // 2, mode="reflect")
    frames = np.stack([padded[i:i + n_fft] for i in range(0, len(padded) - n_fft + 1, hop)])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    mel = np.log(np.maximum(power @ _reference_bank(n_fft, n_mels, 16000), 1e-6)).T  # [n_mels, frames]
    return mel, scipy.fft.dct(mel, type=2, norm="ortho", axis=0)[:n_mfcc]


def test_log_mel_and_mfcc_match_a_numpy_computation():
    rng = np.random.default_rng(0)
    signal = tone(440) + tone(2500, amplitude=0.2) + rng.normal(scale=0.01, size=16000)
    mel, coefficients = _reference_features(signal)
    ours = log_mel(torch.tensor(signal, dtype=torch.float32)[None], 16000, 400, 160, 40)
    assert ours.shape == (1, 40, 101)
    np.testing.assert_allclose(ours[0].numpy(), mel, atol=2e-3, rtol=1e-3)
    np.testing.assert_allclose(mfcc(ours, 13)[0].numpy(), coefficients, atol=5e-3, rtol=1e-3)


def test_settings_give_the_input_shape_of_each_kind_of_feature():
    waves = torch.zeros(2, 16000)
    assert AudioSettings()(waves).shape == (2, 1, 40, 101)
    assert AudioSettings(features="mfcc", n_mfcc=20)(waves).shape == (2, 1, 20, 101)
    assert AudioSettings(features="waveform")(waves).shape == (2, 1, 16000)
    assert AudioSettings(duration=0.5, hop_length=200).input_shape == (1, 40, 41)
    assert torch.isfinite(AudioSettings()(waves)).all()  # silence is the log floor, not -inf


def test_settings_round_trip_through_their_preprocessing():
    settings = AudioSettings(sample_rate=8000, duration=0.5, features="mfcc", n_mels=32, n_fft=256, hop_length=80)
    stored = settings.preprocessing()
    assert stored["kind"] == "audio" and stored["mel_scale"] == "htk"
    assert AudioSettings.from_preprocessing(stored) == settings
    with pytest.raises(UserError, match="'images' inputs, not on audio"):
        AudioSettings.from_preprocessing({"kind": "images", "size": [8, 8]})


@pytest.mark.parametrize("settings, words", [
    (AudioSettings(n_mels=128), "'n_mels' (128) is too many for 'n_fft' 400"),
    (AudioSettings(duration=0.01), "'n_fft' (400) is longer than the 160 samples"),
    (AudioSettings(features="mfcc", n_mfcc=50), "'n_mfcc' (50) must be at most 'n_mels' (40)"),
])
def test_settings_that_cannot_work_together_are_refused_saying_which(settings, words):
    with pytest.raises(UserError, match=words.replace("(", r"\(").replace(")", r"\)")):
        settings.check()
