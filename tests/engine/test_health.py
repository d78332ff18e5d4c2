"""Node health while training: sampled statistics per node id, a bounded rate, and where a NaN first appears."""

from __future__ import annotations

import math

import pytest
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


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def train_with(monitor, clock, model, batches: int, plain: float, sampled: float) -> list:
    """`batches` batches that take `plain` seconds each, or `sampled` when the monitor samples them."""
    x, told = torch.randn(8, 4), []

    def sampled_step(x, y):
        model(x).sum().backward()
        monitor.read_gradients()
        clock.now += sampled
        return None

    for batch in range(1, batches + 1):
        if monitor.due():
            monitor.sample(sampled_step, x, None, told.append, 1, batch, batch)
        else:
            clock.now += plain
    return told


def test_the_budget_counts_all_a_sampled_batch_costs_beyond_a_plain_one():
    model, types = tiny_model()
    clock = FakeClock()
    monitor = HealthMonitor(model, types, every=1, budget=0.1, min_interval=0.0, clock=clock)
    told = train_with(monitor, clock, model, 2000, plain=1.0, sampled=3.0)
    # 3 s a sampled batch, 1 s a plain one; the first, at batch 1, before any plain batch, is charged whole
    assert told[0].batch == 1 and monitor.spent_seconds == 3.0 + 2.0 * (len(told) - 1)
    assert 0.09 <= monitor.share <= 0.1  # the budget: 10% of the training time, sampled batches included
    assert abs(len(told) - 0.1 * (2000 + 2 * len(told)) / 2.0) <= 1


def test_samples_come_at_most_every_min_interval_seconds():
    model, types = tiny_model()
    clock = FakeClock()
    monitor = HealthMonitor(model, types, every=1, budget=1.0, min_interval=0.5, clock=clock)
    told = train_with(monitor, clock, model, 1000, plain=0.01, sampled=0.01)  # 10 s of training
    assert 18 <= len(told) <= 21
    assert all(b.batch - a.batch >= 50 for a, b in zip(told, told[1:]))


def test_the_statistics_match_torch_on_the_whole_output():
    from engine.training.health import node_health, output_sums

    x = torch.randn(64, 3, 5)
    x[:, 0, 0] = 0.0  # a unit that is zero for every sample
    x[x < -1.0] = 0.0
    values = torch.stack(output_sums(x, relu_like=True)).tolist()
    health = node_health("n", values, x.numel(), x[0].numel(), None)
    assert health.mean == pytest.approx(x.mean().item(), abs=1e-5)
    assert health.std == pytest.approx(x.std(unbiased=False).item(), rel=1e-4)
    assert health.zero_fraction == pytest.approx((x == 0).float().mean().item())
    assert health.dead_fraction == pytest.approx(1 / 15) and health.finite
    x[3, 1, 2] = math.inf
    values = torch.stack(output_sums(x, relu_like=False)).tolist()
    flat = node_health("n", values, x.numel(), x[0].numel(), None)
    assert not flat.finite and flat.zero_fraction is None and flat.dead_fraction is None
    x[3, 1, 2] = math.nan
    values = torch.stack(output_sums(x, relu_like=True)).tolist()
    assert not node_health("n", values, x.numel(), x[0].numel(), None).finite


def test_a_failing_sampled_step_leaves_no_hook():
    model, types = tiny_model()
    monitor = HealthMonitor(model, types)

    def failing_step(x, y):
        model(x)
        raise RuntimeError("a layer failed")

    with pytest.raises(RuntimeError):
        monitor.sample(failing_step, torch.randn(3, 4), None, lambda sample: None, 1, 1, 1)
    assert not monitor.armed and not any(module._forward_hooks for module in model.children())
