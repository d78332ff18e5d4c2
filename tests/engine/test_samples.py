"""Generated sample sets: made once into the cache, complete or not at all."""

from __future__ import annotations

import pytest

from engine.data.samples import sample_dir
from engine.errors import UserError


def test_a_sample_set_is_generated_once_and_then_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCANVAS_CACHE", str(tmp_path))
    calls = []

    def generate(folder):
        calls.append(folder)
        (folder / "a.txt").write_text("x")

    first = sample_dir("toy", 1, generate)
    second = sample_dir("toy", 1, generate)
    assert first == second == tmp_path / "samples" / "toy-v1"
    assert (first / "a.txt").read_text() == "x"
    assert len(calls) == 1
    assert sample_dir("toy", 2, generate) != first and len(calls) == 2


def test_an_interrupted_generation_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCANVAS_CACHE", str(tmp_path))

    def generate(folder):
        (folder / "half.txt").write_text("x")
        raise OSError(28, "No space left on device")

    with pytest.raises(UserError, match="toy"):
        sample_dir("toy", 1, generate)
    assert list((tmp_path / "samples").iterdir()) == []
