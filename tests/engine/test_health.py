"""Node health while training: sampled statistics per node id, a bounded rate, and where a NaN first appears."""

from __future__ import annotations

import math

import torch

from engine.compiler import compile_graph
from engine.training import events
from engine.training.health import HealthMonitor
from engine.training.trainer import Trainer


def samples_of(project, tmp_path, **options):
    seen = []
    result = Trainer(project, out_dir=tmp_path / "run", callback=seen.append, **options).run()
    return result, [e for e in seen if isinstance(e, events.HealthSample)]


def test_a_run_reports_health_per_node_id(write_project, tmp_path):
    project = write_project({"name": "moons", "n_samples": 2000, "noise": 0.1})  # 94 batches an epoch
    result, samples = samples_of(project, tmp_path, epochs=1)
    assert result.status == "finished" and samples and all(s.step % 10 == 0 for s in samples)  # every 10th batch
    assert len(samples) < 94 / 10  # ... at most, and within the time budget
    nodes = {n.node_id: n for n in samples[0].nodes}
    assert set(nodes) == {"fc1", "act", "fc2"}
    assert nodes["fc1"].grad_norm > 0 and nodes["act"].grad_norm is None  # ReLU has no parameters
    assert 0 <= nodes["act"].zero_fraction <= 1 and 0 <= nodes["act"].dead_fraction <= nodes["act"].zero_fraction
    assert nodes["fc1"].zero_fraction is None and all(n.finite for n in nodes.values())
    assert all(math.isfinite(n.mean) and n.std >= 0 for n in nodes.values())


def test_health_can_be_turned_off(moons_project, tmp_path):
    result, samples = samples_of(moons_project, tmp_path, epochs=1, health=False)
    assert result.status == "finished" and samples == [] and result.advice == []


def tiny_model():
    from graphs.document import Graph

    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, node_id="x")
    for node_id, kind in [("fc1", "Linear"), ("act", "ReLU"), ("fc2", "Linear")]:
        graph.add_node(kind, {"out_features": 8} if kind == "Linear" else {}, node_id=node_id)
    for a, b in [("x", "fc1"), ("fc1", "act"), ("act", "fc2")]:
        graph.connect(a, b)
    model = compile_graph(graph).model
    return model, {node.id: node.type for node in graph.nodes()}


def sample_once(monitor, model, x):
    monitor.arm()
    model(x).sum().backward()
    monitor.read_gradients()
    return monitor.collect(1, 1, 1)


def test_a_relu_fed_only_negative_values_is_dead():
    model, types = tiny_model()
    with torch.no_grad():
        model.fc1.bias.fill_(-100.0)
    sample = sample_once(HealthMonitor(model, types), model, torch.randn(16, 4))
    act = next(n for n in sample.nodes if n.node_id == "act")
    assert act.dead_fraction == 1.0 and act.zero_fraction == 1.0
    fc1 = next(n for n in sample.nodes if n.node_id == "fc1")
    assert fc1.grad_norm == 0.0  # nothing flows back through a dead ReLU
    assert not model.fc1._forward_hooks  # hooks only while sampling


def test_the_first_non_finite_node_in_execution_order():
    model, types = tiny_model()
    with torch.no_grad():
        model.fc2.weight[0, 0] = math.nan
    monitor = HealthMonitor(model, types)
    assert monitor.locate_non_finite(model, torch.randn(3, 4)) == "fc2"
    sample = sample_once(monitor, model, torch.randn(3, 4))
    assert sample.first_non_finite == "fc2" and not model.fc2._forward_hooks


def test_the_rate_is_bounded_by_every_and_by_the_time_budget():
    model, types = tiny_model()
    every = HealthMonitor(model, types, every=5, budget=1e9)
    assert [i + 1 for i in range(20) if every.due()] == [5, 10, 15, 20]
    starved = HealthMonitor(model, types, every=1, budget=0.0)
    assert starved.due()  # nothing spent yet
    sample_once(starved, model, torch.randn(3, 4))
    assert starved.spent_seconds > 0 and not any(starved.due() for _ in range(10))
    first = HealthMonitor(model, types, every=1, budget=1e9, first_batches=3)  # a distributed run's rank 0
    assert [first.due() for _ in range(5)] == [True, True, True, False, False]


def test_divergence_names_the_node_in_the_message_and_the_advice(write_project, tmp_path):
    project = write_project({"name": "sine", "n_samples": 160}, classes=None, loss="MSELoss",
                            optimizer={"type": "SGD", "lr": 1e6})
    result, _ = samples_of(project, tmp_path, epochs=3)
    assert result.status == "failed" and "the first non-finite value appeared at node 'fc1'" in result.message
    divergence = result.advice[0]
    assert divergence["kind"] == "divergence" and divergence["node"] == "fc1" and divergence["epoch"] == 1
    assert divergence["fix"]["key"] == ["optimizer", "lr"] and divergence["fix"]["value"] == 1e5


def test_gradient_norms_are_unscaled_for_mixed_precision():
    model, types = tiny_model()
    x = torch.randn(8, 4)
    plain = sample_once(HealthMonitor(model, types), model, x)
    model.zero_grad(set_to_none=True)
    monitor = HealthMonitor(model, types)
    monitor.arm()
    (model(x).sum() * 1024.0).backward()  # as a GradScaler's scaled loss
    monitor.read_gradients(1024.0)
    scaled = monitor.collect(1, 1, 1)
    for a, b in zip(plain.nodes, scaled.nodes):
        assert (a.grad_norm is None and b.grad_norm is None) or abs(a.grad_norm - b.grad_norm) <= 1e-4 * a.grad_norm


def test_the_cli_prints_divergence_advice_with_the_failure(write_project, tmp_path, capsys):
    import main

    project = write_project({"name": "sine", "n_samples": 160}, classes=None, loss="MSELoss",
                            optimizer={"type": "SGD", "lr": 1e6})
    code = main.main(["train", str(project.path), "--epochs", "2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1 and "failed: loss became" in err
    assert "advice (divergence): diverged: the loss became NaN or infinite at epoch 1" in err
    assert "  fix: set lr 100000" in err
