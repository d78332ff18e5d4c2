"""audio_folder: WAV files of every common kind read right, bad input named, long files never read whole."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
import torch

import main
from engine.data import audio, load_dataset
from engine.data.audio import prepare_audio_files, read_waveform
from engine.data.audio_features import AudioSettings
from engine.errors import UserError
from tests.engine.wav_files import chunk, sound_folder, tone, wav_bytes

RATE = 16000


def _read(tmp_path, data: bytes, settings=AudioSettings(features="waveform")) -> np.ndarray:
    path = tmp_path / "s.wav"
    path.write_bytes(data)
    return read_waveform(path, settings, "s.wav").numpy()


@pytest.mark.parametrize("bits, is_float, extensible, tolerance", [
    (8, False, False, 1 / 100), (16, False, False, 1e-4), (24, False, False, 1e-6), (32, False, False, 1e-7),
    (24, False, True, 1e-6), (32, True, False, 1e-7), (64, True, False, 1e-7), (32, True, True, 1e-7),
])
def test_pcm_and_float_wav_files_read_as_written(tmp_path, bits, is_float, extensible, tolerance):
    sound = tone(440, amplitude=0.7)
    read = _read(tmp_path, wav_bytes(sound, RATE, bits, is_float, extensible))
    np.testing.assert_allclose(read, sound, atol=tolerance)


def test_stereo_is_mixed_down_and_chunks_before_the_samples_are_skipped(tmp_path):
    left, right = tone(440, amplitude=0.4), tone(880, amplitude=0.2)
    extra = chunk(b"LIST", b"INFOodd")  # an odd-sized chunk is padded to an even size
    read = _read(tmp_path, wav_bytes(np.stack([left, right], axis=1), RATE, 16, extra_chunks=extra))
    np.testing.assert_allclose(read, (left + right) / 2, atol=1e-4)


def test_another_rate_is_resampled_and_the_length_fitted_to_the_duration(tmp_path):
    settings = AudioSettings(features="waveform", duration=0.5)
    read = _read(tmp_path, wav_bytes(tone(500, seconds=2.0, rate=44100), 44100), settings)
    assert read.shape == (8000,)
    np.testing.assert_allclose(read[400:-400], tone(500, seconds=0.5)[400:-400], atol=3e-3)
    short = _read(tmp_path, wav_bytes(tone(500, seconds=0.25), RATE), AudioSettings(features="waveform"))
    assert short.shape == (16000,) and not short[4000:].any()


def test_a_header_that_claims_more_samples_than_the_file_holds_reads_what_is_there(tmp_path):
    read = _read(tmp_path, wav_bytes(tone(440, seconds=0.5), RATE, data_size=10**8))
    np.testing.assert_allclose(read[:8000], tone(440, seconds=0.5), atol=1e-4)
    assert not read[8000:].any()


def _ten_hours(path):
    """A WAV file declaring ten hours of 16-bit mono at 16 kHz (1.15 GB), sparse: a header and a hole."""
    frames = 10 * 3600 * RATE
    path.write_bytes(wav_bytes(tone(440, seconds=0.1), RATE, data_size=frames * 2)[:44 + 3200])
    os.truncate(path, 44 + frames * 2)
    return path


def test_a_ten_hour_file_is_never_read_whole(tmp_path, monkeypatch):
    path = _ten_hours(tmp_path / "long.wav")
    read_bytes = []
    real_open = audio.open_file

    def counting_open(*args):
        handle = real_open(*args)
        original = handle.read
        handle.read = lambda n=-1: read_bytes.append(len(data := original(n))) or data
        return handle

    monkeypatch.setattr(audio, "open_file", counting_open)
    x = prepare_audio_files(AudioSettings().preprocessing(), [path])
    assert x.shape == (1, 1, 40, 101)
    assert sum(read_bytes) < 40_000  # the header and one second of samples (32,000 bytes), of 1.15 GB


def _folder(tmp_path, classes=("down", "up"), per_class=3):
    rng = np.random.default_rng(0)
    return sound_folder(tmp_path / "sounds", {
        name: [tone(300 * (i + 1) + 50 * k) + rng.normal(scale=0.01, size=RATE) for k in range(per_class)]
        for i, name in enumerate(classes)})


def test_a_folder_loads_as_log_mel_inputs_with_its_preprocessing_and_progress(tmp_path):
    _folder(tmp_path)
    heard = []
    dataset = load_dataset({"name": "audio_folder", "path": "sounds"}, tmp_path, val_split=1 / 3,
                           progress=lambda done, total: heard.append((done, total)))
    assert dataset.describe() == "audio_folder: 4 train / 2 validation, input [1, 40, 101] float32, 2 classes"
    assert dataset.class_names == ["down", "up"] and dataset.modality == "audio"
    assert dataset.preprocessing == AudioSettings().preprocessing()
    assert heard[0] == (0, 6) and heard[-1] == (6, 6)
    preview = dataset.preview(3)
    assert preview.kind == "audio" and len(preview.images) == 3 and preview.images[0].shape == (40, 101)


def test_prepare_audio_files_gives_what_training_gave(tmp_path):
    root = _folder(tmp_path)
    spec = {"name": "audio_folder", "path": "sounds", "features": "mfcc", "n_mels": 32, "n_mfcc": 12,
            "sample_rate": 8000, "duration": 0.75, "n_fft": 256, "hop_length": 64}
    dataset = load_dataset(spec, tmp_path, val_split=0)
    files = sorted(root.glob("*/*.wav"))
    prepared = prepare_audio_files(dataset.preprocessing, files)
    assert prepared.shape == (6, 1, 12, 94) == (6, *dataset.input_shape)
    assert prepare_audio_files(dataset.preprocessing, []).shape == (0, 1, 12, 94)
    trained = dataset.x_train
    for x in prepared:  # the same numbers, up to float32 rounding (training computes a batch of files at once)
        closest = (trained - x).abs().flatten(1).max(dim=1).values.min()
        assert closest < 1e-4 * x.abs().max()


def test_the_generated_keywords_set_is_written_once_and_reads_like_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCANVAS_CACHE", str(tmp_path))
    dataset = load_dataset({"name": "audio_folder", "sample": "keywords"}, tmp_path)
    assert dataset.class_names == ["buzz", "down", "hiss", "two_tone", "up"]
    assert len(dataset.train) + len(dataset.val) == 300
    again = load_dataset({"name": "audio_folder", "sample": "keywords"}, tmp_path)
    assert torch.equal(dataset.x_train, again.x_train)
    with pytest.raises(UserError, match="not both"):
        load_dataset({"name": "audio_folder", "sample": "keywords", "path": "x"}, tmp_path)
    with pytest.raises(UserError, match="'sample' must be one of 'keywords'"):
        load_dataset({"name": "audio_folder", "sample": "birds"}, tmp_path)


# ---- bad input: each names the file ----------------------------------------------------------------------

def _with_bad_file(tmp_path, data: bytes, name="bad.wav"):
    root = _folder(tmp_path)
    (root / "up" / name).write_bytes(data)
    return root


HEADER = wav_bytes(tone(440, seconds=0.1), RATE)


@pytest.mark.parametrize("data, words", [
    (b"", "the file is empty"),
    (b"ID3\x04\x00 an mp3 file renamed", "not a WAV file (it starts with 'ID3"),
    (HEADER[:12], "damaged or truncated WAV file (no 'fmt ' chunk)"),
    (HEADER[:30], "truncated WAV header (a 'fmt ' chunk of 10 bytes)"),
    (HEADER[:44], "holds no samples"),
    (HEADER[:34] + struct.pack("<H", 12) + HEADER[36:], "12-bit PCM samples are not read"),
    (HEADER[:32] + struct.pack("<H", 3) + HEADER[34:], "damaged WAV header (frames of 3 bytes"),
    (HEADER[:20] + struct.pack("<H", 0x55) + HEADER[22:], "compressed WAV (format code 0x0055)"),
    (HEADER[:22] + struct.pack("<H", 0) + HEADER[24:], "damaged WAV header (0 channels"),
    (wav_bytes(np.array([0.0, np.nan]), RATE, 32, is_float=True), "NaN or infinite"),
])
def test_a_bad_wav_file_stops_the_load_naming_it(tmp_path, data, words):
    _with_bad_file(tmp_path, data)
    with pytest.raises(UserError) as error:
        load_dataset({"name": "audio_folder", "path": "sounds"}, tmp_path)
    assert "'sounds/up/bad.wav'" in str(error.value) and words in str(error.value)


def test_files_that_are_not_wav_are_skipped_with_a_note_naming_them(tmp_path):
    _with_bad_file(tmp_path, b"ID3...", name="song.mp3")
    dataset = load_dataset({"name": "audio_folder", "path": "sounds"}, tmp_path)
    assert len(dataset.train) + len(dataset.val) == 6
    assert dataset.notes == ("1 file in 'sounds' is not WAV and skipped: 'sounds/up/song.mp3'",)


@pytest.mark.parametrize("layout, words", [
    ({"yes": ["a.wav"]}, "audio folder 'sounds' has a single class ('yes')"),
    ({"": ["a.wav"]}, "has no class subfolders: its WAV files must go into one subfolder per class"),
    ({"yes": ["a.wav"], "no": ["a.mp3"]}, "class folder 'sounds/no' holds no WAV files; it has 'a.mp3'"),
])
def test_a_folder_that_cannot_make_a_classifier_says_why(tmp_path, layout, words):
    for folder, names in layout.items():
        (tmp_path / "sounds" / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            (tmp_path / "sounds" / folder / name).write_bytes(HEADER)
    with pytest.raises(UserError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_dataset({"name": "audio_folder", "path": "sounds"}, tmp_path)


def test_a_pipe_named_like_a_wav_file_is_refused_never_opened(tmp_path):
    root = _folder(tmp_path)
    os.mkfifo(root / "up" / "live.wav")
    with pytest.raises(UserError, match="'sounds/up/live.wav' is a named pipe"):
        load_dataset({"name": "audio_folder", "path": "sounds"}, tmp_path)


def test_a_ten_hour_file_in_a_folder_loads_its_first_second(tmp_path):
    root = _folder(tmp_path)
    _ten_hours(root / "up" / "long.wav")
    dataset = load_dataset({"name": "audio_folder", "path": "sounds"}, tmp_path, val_split=0)
    assert len(dataset.train) == 7


def test_the_cli_reports_a_bad_file_by_name_and_writes_nothing(tmp_path, capsys, write_project):
    _with_bad_file(tmp_path, b"not a sound")
    project = write_project({"name": "audio_folder", "path": "sounds"})
    out = tmp_path / "run"
    assert main.main(["train", str(project.path), "--out", str(out), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot read sound 'sounds/up/bad.wav': not a WAV file" in err and "Traceback" not in err
    assert not out.exists()


def test_a_folder_whose_inputs_cannot_fit_in_memory_is_refused_before_reading(tmp_path, monkeypatch):
    _folder(tmp_path)
    monkeypatch.setattr(audio, "available_bytes", lambda: 100_000)  # 6 inputs of 16 KB need 97 KB
    monkeypatch.setattr(audio, "read_waveform", lambda *a: pytest.fail("a file was read"))
    with pytest.raises(UserError, match=r"the 6 files of audio folder 'sounds' would take .* as \[1, 40, 101\] "
                                        r"inputs, more than the .* of memory available; use a shorter 'duration'"):
        load_dataset({"name": "audio_folder", "path": "sounds"}, tmp_path)


def test_the_cli_counts_sound_files_while_loading(tmp_path, write_project):
    from engine.training import Trainer

    _folder(tmp_path)
    project = write_project({"name": "audio_folder", "path": "sounds"}, input_params={"shape": [40 * 101]})
    heard = []
    Trainer(project, epochs=1, max_batches=1, out_dir=tmp_path / "run",
            callback=lambda event: heard.append(event) if type(event).__name__ == "DataProgress" else None).run()
    assert heard and {event.unit for event in heard} == {"sound files"} and heard[-1].done == heard[-1].total == 6


def test_many_channels_are_read_and_mixed_a_block_at_a_time(tmp_path, monkeypatch):
    channels = np.stack([tone(100 * (c + 1), amplitude=0.1) for c in range(6)], axis=1)
    data = wav_bytes(channels, RATE, 24, extensible=True)
    whole = _read(tmp_path, data)
    monkeypatch.setattr(audio, "READ_FRAMES", 1000)
    np.testing.assert_array_equal(_read(tmp_path, data), whole)
    np.testing.assert_allclose(whole, channels.mean(axis=1), atol=1e-6)


def test_a_file_whose_duration_holds_too_many_samples_is_refused_naming_it(tmp_path):
    path = tmp_path / "fast.wav"  # 20 s at a claimed 1 MHz: 20 million samples, sparse
    path.write_bytes(wav_bytes(tone(440, seconds=0.01), 1_000_000, data_size=40_000_000)[:1000])
    os.truncate(path, 44 + 40_000_000)
    with pytest.raises(UserError, match=r"sound 'fast.wav': 20 s at its 1,000,000 Hz are 20,000,000 samples, more "
                                        r"than the 16,777,216"):
        read_waveform(path, AudioSettings(duration=20.0), "fast.wav")
    with pytest.raises(UserError, match=r"'duration' 600 s at 'sample_rate' 48,000 Hz make 28,800,000 samples"):
        load_dataset({"name": "audio_folder", "path": "x", "duration": 600, "sample_rate": 48000}, tmp_path)


@pytest.mark.parametrize("features, rows", [("waveform", 40), ("mfcc", 13), ("log_mel", 40)])
def test_every_kind_of_feature_previews_as_a_picture_low_bands_at_the_bottom(tmp_path, features, rows):
    sound_folder(tmp_path / "sounds", {"high": [tone(5000)] * 2, "low": [tone(150)] * 2})
    dataset = load_dataset({"name": "audio_folder", "path": "sounds", "features": features}, tmp_path, val_split=0)
    preview = dataset.preview(4)
    assert preview.kind == "audio"
    for picture, label in zip(preview.images, preview.labels):
        assert picture.shape == (rows, 101) and picture.min() >= 0 and picture.max() == 1
        if features != "mfcc":  # a spectrogram: the tone's band is the brightest row, low pitches last
            loudest = picture[:, 10:-10].mean(axis=1).argmax()
            assert (loudest < rows // 2) == (label == "high")
