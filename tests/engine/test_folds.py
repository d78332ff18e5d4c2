"""K-fold cross-validation: the splits, each fold's metrics, their mean and deviation, and the run folder."""

from __future__ import annotations

import csv
import json
import statistics

import numpy as np
import pytest
import torch

from engine.errors import UserError
from engine.training import load_weights
from engine.training.folds import CrossValidation, FoldStarted, fold_indices, summary_statistics
from tests.engine.finetune_projects import cnn_project


def test_stratified_folds_cover_every_sample_once_and_keep_the_class_balance():
    y = torch.tensor([0] * 30 + [1] * 60 + [2] * 90)
    splits, stratified = fold_indices(y, "classification", 3, seed=7)
    assert stratified
    validated = np.concatenate([val for _, val in splits])
    assert sorted(validated.tolist()) == list(range(len(y)))
    for train, val in splits:
        assert not set(train) & set(val)
        assert np.bincount(y[val].numpy()).tolist() == [10, 20, 30]


def test_folds_are_seeded():
    y = torch.arange(40) % 4
    first, _ = fold_indices(y, "classification", 4, seed=1)
    again, _ = fold_indices(y, "classification", 4, seed=1)
    other, _ = fold_indices(y, "classification", 4, seed=2)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, other))


def test_regression_uses_plain_kfold():
    splits, stratified = fold_indices(torch.rand(20, 1), "regression", 5, seed=0)
    assert not stratified and [len(val) for _, val in splits] == [4] * 5


def test_more_folds_than_samples_is_a_clear_error():
    with pytest.raises(UserError, match="5 folds need at least 5 samples"):
        fold_indices(torch.zeros(3), "regression", 5, seed=0)


def test_mean_and_sample_standard_deviation():
    rows = [{"val_accuracy": 0.9}, {"val_accuracy": 0.8}, {"val_accuracy": 0.7}, {"val_accuracy": None}]
    mean, std = summary_statistics(rows, ["val_accuracy"])
    assert mean["val_accuracy"] == pytest.approx(0.8) and std["val_accuracy"] == pytest.approx(0.1)


def test_a_cross_validation_run_trains_each_fold_and_records_it(tmp_path):
    project = cnn_project(tmp_path, classes=3, folds=3, epochs=2)
    heard = []
    cv = CrossValidation(project, out_dir=tmp_path / "cv", callback=heard.append, max_batches=3)
    result = cv.run()
    assert result.status == "finished", result.message
    assert [e.fold for e in heard if isinstance(e, FoldStarted)] == [1, 2, 3]
    record = json.loads((tmp_path / "cv" / "folds.json").read_text())
    assert record["folds"] == 3 and record["complete"] and record["stratified"] and record["metric"] == "val_accuracy"
    samples = len(cv.dataset.train)
    assert sum(row["val_samples"] for row in record["per_fold"]) == samples
    started = [e for e in heard if isinstance(e, FoldStarted)]
    for row, fold in zip(record["per_fold"], started):
        rows = list(csv.DictReader((tmp_path / "cv" / row["folder"] / "metrics.csv").open()))
        assert len(rows) == 2
        last = rows[-1]  # no early stopping: a fold keeps its last epoch's weights
        assert row["val_accuracy"] == pytest.approx(float(last["val_accuracy"]))
        assert row["val_loss"] == pytest.approx(float(last["val_loss"]))
        assert (row["train_samples"], row["val_samples"]) == (fold.train_samples, fold.val_samples)
        assert row["train_samples"] + row["val_samples"] == samples
    splits, _ = fold_indices(cv.dataset.train.y, "classification", 3, seed=0)
    for row, (_, val) in zip(record["per_fold"], splits):  # each fold's weights score its metric on its own fold
        model = cv.trainer.model
        load_weights(model, tmp_path / "cv" / row["folder"] / "weights.safetensors")
        model.eval()
        with torch.no_grad():
            predicted = model(cv.dataset.train.x[torch.as_tensor(val)]).argmax(1)
        accuracy = (predicted == cv.dataset.train.y[torch.as_tensor(val)]).float().mean().item()
        assert row["val_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    accuracies = [row["val_accuracy"] for row in record["per_fold"]]
    assert record["mean"]["val_accuracy"] == pytest.approx(statistics.fmean(accuracies))
    assert record["std"]["val_accuracy"] == pytest.approx(statistics.stdev(accuracies))
    assert "mean ± standard deviation of 3 folds" in result.message
    notes = [e.notes for e in heard if type(e).__name__ == "RunStarted"]
    assert notes[0][0] == "fold 1 of 3" and "stratified by class" in notes[0][1]


def test_the_same_seed_gives_the_same_fold_metrics(tmp_path):
    runs = [CrossValidation(cnn_project(tmp_path, classes=3, folds=2), out_dir=tmp_path / f"cv{i}",
                            max_batches=2).run() for i in range(2)]
    assert runs[0].folds == runs[1].folds


def test_folds_must_be_two_or_more(tmp_path):
    with pytest.raises(UserError, match="'folds' must be a whole number from 2"):
        CrossValidation(cnn_project(tmp_path, folds=1))


def test_a_stop_ends_the_fold_in_progress_and_starts_no_other(tmp_path):
    project = cnn_project(tmp_path, classes=3, folds=3, epochs=3)
    cv = None

    def stop_in_fold_two(event):
        if isinstance(event, FoldStarted) and event.fold == 2:
            cv.stop()

    cv = CrossValidation(project, out_dir=tmp_path / "cv", callback=stop_in_fold_two, max_batches=2)
    result = cv.run()
    assert result.status == "stopped" and result.message.startswith("fold 2: stopped by request")
    assert [row["fold"] for row in result.folds] == [1]
    record = json.loads((tmp_path / "cv" / "folds.json").read_text())
    assert not record["complete"] and len(record["per_fold"]) == 1
    assert not (tmp_path / "cv" / "fold-3").exists()
    assert result.as_run_result().status == "stopped"


def test_shared_standardisation_is_said_and_regression_folds_report_mae(tmp_path):
    from graphs.project import project_from_dict
    from tests.engine.conftest import project_data

    iris = project_from_dict(project_data({"name": "iris"}, classes=3, folds=2), str(tmp_path / "iris.json"))
    heard = []
    CrossValidation(iris, out_dir=tmp_path / "iris", callback=heard.append, max_batches=2).run()
    notes = next(e.notes for e in heard if type(e).__name__ == "RunStarted")
    assert any("standardised with the statistics of all the samples" in note for note in notes)
    sine = project_from_dict(project_data({"name": "sine", "n_samples": 60}, classes=None, loss="MSELoss",
                                          folds=3), str(tmp_path / "sine.json"))
    result = CrossValidation(sine, out_dir=tmp_path / "sine", max_batches=2).run()
    record = json.loads((tmp_path / "sine" / "folds.json").read_text())
    assert result.metric == record["metric"] == "val_mae" and not record["stratified"]
    assert record["mean"]["val_mae"] == pytest.approx(statistics.fmean(r["val_mae"] for r in record["per_fold"]))
