"""The training advisor: pure rules over made-up curves, and whole runs that overfit or train well."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.training import advisor, events
from engine.training.trainer import Trainer
from graphs.document import Graph
from graphs.project import load_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def rows(train, val):
    return [{"epoch": i + 1, "train_loss": t, "val_loss": v} for i, (t, v) in enumerate(zip(train, val))]


def kinds(advice):
    return [a.kind for a in advice]


def test_overfitting_names_the_epoch_validation_loss_turned():
    history = rows([1.0, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05],
                   [1.0, 0.7, 0.5, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9])
    found = advisor.overfitting(history)
    assert found is not None and found.kind == "overfitting"
    assert 3 <= found.epoch <= 5 and found.evidence["epochs"][1] == 9


@pytest.mark.parametrize("train, val", [
    ([1.0, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1], [1.0, 0.7, 0.5, 0.4, 0.35, 0.3, 0.28]),  # both falling
    ([1.0, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1], [1.0, 0.7, 0.5, 0.52, 0.5, 0.51, 0.5]),  # a plateau with noise
    ([1.0, 0.6, 0.4], [1.0, 0.7, 0.9]),  # too short to say
])
def test_no_overfitting_on_healthy_or_short_curves(train, val):
    assert advisor.overfitting(rows(train, val)) is None


def test_underfitting_when_both_losses_stay_flat_and_high():
    assert advisor.underfitting(rows([0.70, 0.69, 0.69, 0.69, 0.69], [0.70, 0.69, 0.69, 0.69, 0.69])).kind == \
        "underfitting"
    assert advisor.underfitting(rows([0.7, 0.3, 0.1, 0.1, 0.1], [0.7, 0.3, 0.1, 0.1, 0.1])) is None


def test_divergence_names_the_batch_and_node_and_offers_a_lower_rate():
    found = advisor.divergence([], {"epoch": 2, "batch": 7, "node": "fc1"}, 0.5)
    assert found.kind == "divergence" and found.epoch == 2 and found.node == "fc1"
    assert "batch 7" in found.message and "'fc1'" in found.message
    assert found.fixes[0].edit == {"op": "set_training", "key": ["optimizer", "lr"], "value": 0.05}
    growing = advisor.divergence(rows([0.5, 0.4, 0.6, 0.9, 1.4], [0.5] * 5), None, 0.1)
    assert growing.kind == "divergence" and growing.epoch == 2


def test_learning_rate_from_the_early_batch_losses():
    rising = [1.0 + i * 0.05 for i in range(40)]
    flat = [1.0 - i * 0.0001 for i in range(40)]
    falling = [1.0 / (1 + i * 0.2) for i in range(40)]
    high = advisor.learning_rate(rising, 0.1)
    assert high.kind == "lr_too_high" and high.fixes[0].edit["value"] == pytest.approx(0.01)
    low = advisor.learning_rate(flat, 1e-5)
    assert low.kind == "lr_too_low" and low.fixes[0].edit["value"] == pytest.approx(1e-4)
    assert advisor.learning_rate(falling, 0.01) is None


def health(epoch, **nodes):
    return events.HealthSample(epoch, 1, 1, tuple(
        events.NodeHealth(node_id, 0.0, 1.0, dead, dead, grad, True) for node_id, (dead, grad) in nodes.items()))


def test_dead_relus_and_vanishing_and_exploding_gradients_from_health():
    samples = [health(3, act=(0.9, None), fc1=(None, 1e-9), fc2=(None, 0.5), fc3=(None, 5e3)) for _ in range(3)]
    found = {a.kind: a for a in advisor.node_health(samples)}
    assert found["dead_relu"].node == "act" and "90%" in found["dead_relu"].message
    assert found["vanishing_gradients"].node == "fc1" and found["exploding_gradients"].node == "fc3"
    assert found["exploding_gradients"].fixes[0].edit["key"] == ["grad_clip"]
    assert advisor.node_health([health(3, act=(0.3, None), fc1=(None, 0.1), fc2=(None, 0.5))]) == []


def test_class_imbalance_from_the_class_counts():
    assert advisor.class_imbalance({"a": 500, "b": 20}).kind == "class_imbalance"
    assert advisor.class_imbalance({"a": 50, "b": 40}) is None


def test_regularisation_fixes_place_dropout_after_the_last_hidden_layer():
    graph = Graph()
    for node_id, kind in [("x", "Input"), ("fc1", "Linear"), ("act", "ReLU"), ("fc2", "Linear")]:
        graph.add_node(kind, {"out_features": 4} if kind == "Linear" else {}, node_id=node_id)
    for a, b in [("x", "fc1"), ("fc1", "act"), ("act", "fc2")]:
        graph.connect(a, b)
    fixes = advisor.regularisation_fixes(graph, {"optimizer": {"type": "Adam", "lr": 0.01}})
    assert [f.title for f in fixes] == ["insert Dropout(0.3) after act", "set weight_decay 1e-4",
                                        "set patience 5 (early stopping)"]
    assert fixes[0].edit == {"op": "insert_after", "node": "act", "type": "Dropout", "params": {"p": 0.3}}
    done = advisor.regularisation_fixes(graph, {"optimizer": {"weight_decay": 0.01}, "patience": 3})
    assert [f.title for f in done] == ["insert Dropout(0.3) after act"]


def overfitting_project(tmp_path):
    """A wide MLP on 48 noisy moons, half held out, many epochs: it memorises the training half."""
    nodes = [{"id": "x", "type": "Input"}, {"id": "fc1", "type": "Linear", "params": {"out_features": 256}},
             {"id": "act1", "type": "ReLU"}, {"id": "fc2", "type": "Linear", "params": {"out_features": 256}},
             {"id": "act2", "type": "ReLU"}, {"id": "fc3", "type": "Linear", "params": {"out_features": 2}},
             {"id": "y", "type": "Target"}, {"id": "loss", "type": "CrossEntropyLoss"}]
    chain = ["x", "fc1", "act1", "fc2", "act2", "fc3"]
    edges = [{"source": a, "target": b} for a, b in zip(chain, chain[1:])]
    edges += [{"source": "fc3", "target": "loss", "target_port": "input"},
              {"source": "y", "target": "loss", "target_port": "target"}]
    training = {"dataset": {"name": "moons", "n_samples": 48, "noise": 0.35}, "val_split": 0.5, "batch_size": 24,
                "epochs": 40, "seed": 0, "device": "cpu", "optimizer": {"type": "Adam", "lr": 0.01}}
    path = tmp_path / "overfit.json"
    path.write_text(json.dumps({"format": "neurocanvas", "version": 1, "name": "overfit", "nodes": nodes,
                                "edges": edges, "training": training}))
    return load_project(path)


def test_a_run_built_to_overfit_is_flagged_and_kept_in_report_json(tmp_path):
    seen = []
    result = Trainer(overfitting_project(tmp_path), out_dir=tmp_path / "run", callback=seen.append).run()
    assert result.status == "finished"
    overfit = [a for a in result.advice if a["kind"] == "overfitting"]
    assert overfit, result.advice
    assert overfit[0]["fix"] == {"title": "insert Dropout(0.3) after act2", "op": "insert_after", "node": "act2",
                                 "type": "Dropout", "params": {"p": 0.3}}
    epoch = overfit[0]["epoch"]
    val = [row["val_loss"] for row in result.history]
    assert val[-1] > val[epoch - 1]  # it points at the turn of the validation curve
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report == {"advice": result.advice}
    advised = [e for e in seen if isinstance(e, events.Advised)]
    assert len(advised) == 40 and "overfitting" in kinds(advised[-1].advice)  # told while it trains too


@pytest.mark.parametrize("name, epochs", [("moons_mlp", 30), ("sine_regression", 40), ("digits_cnn", 12)])
def test_silent_on_examples_that_train_well(name, epochs, tmp_path):
    result = Trainer(load_project(EXAMPLES / f"{name}.json"), out_dir=tmp_path / "run", device="cpu",
                     epochs=epochs).run()
    assert result.status == "finished" and result.advice == []
    assert json.loads((tmp_path / "run" / "report.json").read_text()) == {"advice": []}


def test_the_cli_prints_the_advice_at_the_end_of_a_run(tmp_path, capsys):
    import main

    project = overfitting_project(tmp_path)
    code = main.main(["train", str(project.path), "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0
    assert "advice (overfitting): overfitting from epoch " in out
    assert "  fix: insert Dropout(0.3) after act2\n  fix: set weight_decay 1e-4" in out
