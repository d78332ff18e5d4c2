"""Lesson 8 (transfer learning): its shipped weights are what its script makes, and fine-tuning from them
starts higher and converges sooner than training from scratch, as the lesson's text says."""

import importlib.util

import pytest

from gui.lessons import LESSONS_DIR

torch = pytest.importorskip("torch")

LESSON = LESSONS_DIR / "08_transfer_learning.json"


def weights_script():
    path = LESSONS_DIR / "08_transfer_learning_weights.py"
    spec = importlib.util.spec_from_file_location("lesson_08_weights", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_weights_are_what_the_script_makes(tmp_path):
    from engine.weights import read_weights

    script = weights_script()
    assert script.WEIGHTS == LESSONS_DIR / "08_transfer_learning.safetensors"
    shipped = read_weights(script.WEIGHTS)
    made = read_weights(script.make_weights(tmp_path / "made.safetensors"))
    assert sorted(made) == sorted(shipped) and "conv1.weight" in made and "fc.weight" in made
    for name, tensor in made.items():  # rerun the script if the pretraining project or the trainer changed
        torch.testing.assert_close(tensor, shipped[name], rtol=1e-3, atol=1e-4, msg=name)


def run(tmp_path, name: str, from_scratch: bool):
    from engine.training.trainer import Trainer
    from graphs.project import load_project

    torch.set_num_threads(1)
    project = load_project(LESSON)
    if from_scratch:  # what the lesson asks: Clear the initial weights and unfreeze conv1 and bn1
        del project.training["init_from"]
        for node_id in ("conv1", "bn1"):
            project.graph.set_training_options(node_id, trainable=True)
    trainer = Trainer(project, device="cpu", epochs=3, out_dir=tmp_path / name, threads=1)
    result = trainer.run()
    assert result.status == "finished", result.message
    return trainer, result.history


def test_fine_tuning_starts_higher_and_converges_sooner_than_from_scratch(tmp_path):
    tuned, tuned_history = run(tmp_path, "tuned", from_scratch=False)
    _, scratch_history = run(tmp_path, "scratch", from_scratch=True)
    assert tuned.init_report.loaded_nodes() == {"conv1", "bn1", "conv2"}  # the new head stays random
    assert tuned.init_report.missing_in_file == ["head.weight", "head.bias"]
    assert tuned_history[0]["val_accuracy"] > scratch_history[0]["val_accuracy"] + 0.1
    assert all(t["val_loss"] < s["val_loss"] for t, s in zip(tuned_history, scratch_history))
    assert tuned_history[-1]["val_accuracy"] > 0.85  # "val_accuracy should pass 0.9 by about the third epoch"
