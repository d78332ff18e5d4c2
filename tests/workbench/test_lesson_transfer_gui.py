"""Lesson 8 trains from the editor as it opens: the run starts from the weights shipped beside the lesson."""

import json

from gui.lessons import LESSONS_DIR


def test_lesson_8_trains_from_its_shipped_weights_in_the_editor(bench, finished, monkeypatch, qtbot):
    window = bench.window
    messages = []
    monkeypatch.setattr(window, "show_message", lambda text, timeout_ms=8000: messages.append(text))
    assert window.lessons.open(LESSONS_DIR / "08_transfer_learning.json")
    settings = bench.settings.training
    settings.update({"device": "cpu", "epochs": 1})
    bench.settings.update(settings, "one epoch")
    run = finished(bench)
    assert run.status == "finished", run.message
    notes = [m for m in messages if m.startswith("Note: initial weights from")]
    assert len(notes) == 1 and "loaded 9 of 11 tensors" in notes[0], messages  # all but the new head
    init = json.loads((run.result.out_dir / "init.json").read_text())
    assert {name.split(".")[0] for name in init["loaded"]} == {"conv1", "bn1", "conv2"}
    qtbot.waitUntil(lambda: run.evaluation is not None, timeout=60_000)  # its follow-up jobs end with the test
    bench.tasks.wait()
    bench.document.undo_stack.setClean()
