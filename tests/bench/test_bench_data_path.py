"""bench.data_path: the engine side is the real Trainer, the baseline a plain DataLoader loop that trains."""

import torch

from bench.data_path import digits_project, engine_epochs, hand_written
from bench.models import EXAMPLES, mlp_classifier
from engine.compiler import compile_graph
from engine.data import load_dataset


def test_the_engine_side_is_a_fresh_trainer_run_each_time_and_gives_its_epoch_time(tmp_path):
    data = load_dataset({"name": "digits"}, EXAMPLES, 0.2, 0)
    run = engine_epochs(digits_project(mlp_classifier([1, 8, 8], [16], 10), tmp_path, 64), data, 2, tmp_path)
    assert 0 < run() < 10 and 0 < run() < 10
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["run0", "run1"]
    assert all((tmp_path / name / "metrics.csv").read_text().count("\n") == 3 for name in ("run0", "run1"))


def test_the_hand_written_loop_trains_the_model():
    data = load_dataset({"name": "digits"}, EXAMPLES, 0.2, 0)
    model = compile_graph(mlp_classifier([1, 8, 8], [16], 10)).model
    before = [p.detach().clone() for p in model.parameters()]
    assert 0 < hand_written(model, data.x_train, data.y_train, 64, 1)() < 10
    assert all(not torch.equal(p, q) for p, q in zip(model.parameters(), before))
