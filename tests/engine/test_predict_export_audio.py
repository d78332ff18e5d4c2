"""The `.py` export predicts from WAV files as `predict` does: the same reading, features and answers."""

from __future__ import annotations

import importlib.util
import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data.audio import prepare_audio_files
from engine.data.audio_features import AudioSettings
from engine.export.python_audio import audio_block
from engine.predict.predictor import Predictor
from graphs.project import load_project
from tests.engine.predict_fixtures import cnn_project, train
from tests.engine.test_predict_export import exported, predict_lines, run_file
from tests.engine.wav_files import sound_folder, tone, wav_bytes

RATE = 8000


def _exported_prepare(settings: AudioSettings):
    """The exported file's `prepare`, run here: its audio block with the run's PREPROCESSING."""
    namespace = {"torch": torch, "Path": Path, "math": math, "struct": struct, "PREPROCESSING": settings.preprocessing()}
    exec(compile(audio_block(), "exported", "exec"), namespace)
    return namespace


def _sounds(tmp_path) -> list[Path]:
    """WAV files of every kind the reader takes: 8/16/24/32-bit PCM, 32/64-bit float, extensible, stereo, other
    rates, shorter and longer than the duration."""
    rng = np.random.default_rng(3)
    kinds = [dict(bits=8), dict(bits=16), dict(bits=24, extensible=True), dict(bits=32),
             dict(bits=32, is_float=True), dict(bits=64, is_float=True, extensible=True)]
    paths = []
    for i, kind in enumerate(kinds):
        rate = (RATE, 11025, 22050, 6000)[i % 4]
        seconds = (0.3, 0.5, 0.8)[i % 3]
        sound = tone(200 + 150 * i, seconds, rate) + rng.normal(scale=0.05, size=int(seconds * rate))
        if i % 2:
            sound = np.stack([sound, 0.5 * sound[::-1]], axis=1)  # stereo
        path = tmp_path / f"{i}.wav"
        path.write_bytes(wav_bytes(np.clip(sound, -1, 0.99), rate, **kind))
        paths.append(path)
    return paths


@pytest.mark.parametrize("features", ["log_mel", "mfcc", "waveform"])
def test_the_exported_prepare_gives_what_training_gave(tmp_path, features):
    settings = AudioSettings(sample_rate=RATE, duration=0.5, features=features, n_mels=20, n_fft=256,
                             hop_length=80, n_mfcc=10)
    paths = _sounds(tmp_path)
    expected = prepare_audio_files(settings.preprocessing(), paths)
    got = _exported_prepare(settings)["prepare"](paths)
    assert got.dtype == torch.float32 and got.shape == expected.shape == (len(paths), *settings.input_shape)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("data, words", [
    (b"", "not a WAV file"),
    (b"RIFF\x00\x00\x00\x00WAVEjunk", "damaged or truncated WAV file (no 'fmt ' chunk)"),
    (wav_bytes(np.zeros(10), bits=16)[:44], "the file holds no samples"),
    (wav_bytes(np.zeros(10), bits=16).replace(b"\x01\x00\x01\x00", b"\x55\x00\x01\x00", 1), "compressed WAV"),
])
def test_a_bad_wav_file_raises_a_message_naming_it(tmp_path, data, words):
    path = tmp_path / "bad.wav"
    path.write_bytes(data)
    prepare = _exported_prepare(AudioSettings(sample_rate=RATE, duration=0.5))["prepare"]
    with pytest.raises(ValueError, match=re.escape(f"cannot read sound {path}: ") + ".*" + re.escape(words)):
        prepare([path])


def test_the_exported_file_predicts_from_wav_files_as_predict_does(tmp_path, capsys):
    rng = np.random.default_rng(0)
    sound_folder(tmp_path / "sounds", {name: [tone(hz * (1 + 0.05 * k), 0.5, RATE) + rng.normal(scale=0.01, size=RATE // 2)
                                              for k in range(6)] for name, hz in (("low", 300), ("high", 1800))},
                 rate=RATE)
    dataset = {"name": "audio_folder", "path": "sounds", "sample_rate": RATE, "duration": 0.5, "n_mels": 16,
               "n_fft": 200, "hop_length": 100}
    project = cnn_project(tmp_path, dataset)
    weights = train(project, tmp_path / "run")
    (tmp_path / "export").mkdir()
    out = exported(capsys, project, weights, tmp_path / "export" / "model.py")
    assert out[2].startswith("it predicts from WAV files, prepared as the run prepared its data")
    new = tmp_path / "new"
    new.mkdir()
    (new / "a.wav").write_bytes(wav_bytes(tone(1750, 0.7, 16000), 16000, bits=24))  # longer, another rate
    (new / "b.wav").write_bytes(wav_bytes(np.stack([tone(310, 0.3, RATE)] * 2, axis=1), RATE, is_float=True, bits=32))
    inputs = [new / "a.wav", new / "b.wav", tmp_path / "sounds" / "low"]
    result = run_file(tmp_path / "export" / "model.py", *inputs)
    assert result.returncode == 0, result.stderr
    expected = predict_lines(capsys, project, weights, *inputs)
    assert result.stdout.splitlines() == expected and len(expected) == 8

    files = [new / "a.wav", new / "b.wav", *sorted((tmp_path / "sounds" / "low").glob("*.wav"))]
    module = _imported(tmp_path / "export" / "model.py")
    with torch.no_grad():
        got = module.scores(module.load(str(weights))(module.prepare(files)))
    predictor = Predictor.load(load_project(project), weights)
    wanted = predictor.probabilities(predictor.forward(predictor.tensor(files)))
    torch.testing.assert_close(got, wanted, atol=1e-5, rtol=0)

    (new / "bad.wav").write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    result = run_file(tmp_path / "export" / "model.py", new / "a.wav", new / "bad.wav")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: cannot read sound {new / 'bad.wav'}: damaged or truncated WAV file " \
                                    "(no 'fmt ' chunk)"



def _imported(path: Path):
    spec = importlib.util.spec_from_file_location("exported_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
