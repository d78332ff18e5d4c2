"""The memory check before training (issue 16): the estimate's parts, the largest batch that fits,
the trainer's refusal and `check --json --batch-size`. How close the estimate is to the real peak is
measured in bench/memory_estimate.py (section 16), not here."""

import json
from pathlib import Path

import pytest

import engine.memory_estimate
import main
from engine.errors import UserError
from engine.memory_estimate import (
    NotEnoughMemory,
    batch_size_that_fits,
    estimate_training,
    largest_batch,
    memory_problem,
    optimizer_buffers,
)
from engine.shapes import infer
from engine.training import Trainer
from graphs import Graph
from graphs.project import Project, load_project, save_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def classifier(hidden: int = 32, between: str | None = None) -> Graph:
    """Input [20] -> Linear(hidden) -> ReLU [-> `between`] -> Linear(3) -> CrossEntropyLoss with a class Target."""
    graph = Graph()
    graph.add_node("Input", {"shape": [20]}, "x")
    graph.add_node("Linear", {"out_features": hidden}, "fc1")
    graph.add_node("ReLU", {}, "relu")
    graph.add_node("Linear", {"out_features": 3}, "fc2")
    graph.add_node("Target", {"shape": [], "dtype": "int64"}, "y")
    graph.add_node("CrossEntropyLoss", {}, "loss")
    graph.connect("x", "fc1")
    graph.connect("fc1", "relu")
    last = "relu"
    if between:
        graph.add_node(between, {}, "between")
        graph.connect("relu", "between")
        last = "between"
    graph.connect(last, "fc2")
    graph.connect("fc2", "loss", "out", "input")
    graph.connect("y", "loss", "out", "target")
    return graph


def estimate(graph, batch, **training):
    return estimate_training(graph, infer(graph), {"optimizer": {"type": "Adam"}, **training}, batch)


@pytest.mark.parametrize(("optimizer", "buffers"), [
    ({"type": "SGD"}, 0), ({"type": "SGD", "momentum": 0.9}, 1), ({"type": "Adam"}, 2), ({"type": "AdamW"}, 2),
    ({"type": "Adam", "amsgrad": True}, 3), ({"type": "RMSprop"}, 1),
    ({"type": "RMSprop", "momentum": 0.9, "centered": True}, 3), ("Adam", 2)])
def test_optimiser_state_is_counted_in_parameter_sized_buffers(optimizer, buffers):
    assert optimizer_buffers(optimizer) == buffers


def test_parameters_gradients_and_optimiser_state_follow_the_parameter_count():
    graph = classifier()
    params = (20 * 32 + 32) + (32 * 3 + 3)
    adam = estimate(graph, 8)
    assert adam.parameters == adam.gradients == params * 4
    assert adam.optimizer_state == 2 * params * 4
    assert estimate(graph, 8, optimizer={"type": "SGD"}).optimizer_state == 0


def test_activations_and_the_batch_grow_with_the_batch_size_and_the_weights_do_not():
    graph = classifier()
    one, many = estimate(graph, 1), estimate(graph, 100)
    assert many.parameters == one.parameters and many.optimizer_state == one.optimizer_state
    assert many.activations == 100 * one.activations > 0
    # inputs [20] float32 and a class index int64 per sample
    assert one.data_batch == 20 * 4 + 8 and many.data_batch == 100 * one.data_batch
    assert many.total == sum(many.as_dict()[k] for k in ("parameters", "gradients", "optimizer_state",
                                                         "activations", "data_batch"))


def test_a_dropout_keeps_its_output_and_a_mask():
    plain, with_dropout = estimate(classifier(), 10), estimate(classifier(between="Dropout"), 10)
    # the peak is at fc2's backward (the loss's log-probabilities already freed): ReLU's output, Dropout's
    # output and mask, and fc2's gradients in flight (its output and input); without the Dropout, at the ReLU
    hidden, scores = 10 * 32 * 4, 10 * 3 * 4
    assert with_dropout.activations == 3 * hidden + (scores + hidden)
    assert plain.activations == hidden + 2 * hidden  # ReLU's output kept, its output and input gradients


def test_mixed_precision_halves_activations_and_float_inputs_but_not_the_weights():
    full, half = estimate(classifier(), 64), estimate(classifier(), 64, amp="bf16")
    assert half.activations == full.activations // 2
    assert half.data_batch == 64 * (20 * 2 + 8)
    assert half.parameters == full.parameters and half.optimizer_state == full.optimizer_state


def test_views_count_nothing():
    assert estimate(classifier(between="Flatten"), 4).activations == estimate(classifier(), 4).activations


@pytest.mark.parametrize("budget", [10**6, 3 * 10**6, 10**8])
def test_the_largest_batch_is_the_largest_whose_estimate_fits(budget):
    graph, training = classifier(256), {"optimizer": {"type": "Adam"}}
    shapes = infer(graph)
    fits = largest_batch(graph, shapes, training, budget)
    assert fits >= 1
    assert estimate_training(graph, shapes, training, fits).total <= budget
    assert estimate_training(graph, shapes, training, fits + 1).total > budget


def test_a_budget_below_one_sample_gives_no_batch_size():
    graph = classifier(256)
    assert largest_batch(graph, infer(graph), {}, 1000) == 0


def test_the_refusal_names_the_estimate_and_the_batch_size_that_fits():
    graph = classifier(256)
    shapes, training = infer(graph), {"optimizer": {"type": "Adam"}}
    assert memory_problem(graph, shapes, training, 64, available=None) is None  # unknown: no refusal
    assert memory_problem(graph, shapes, training, 64, available=10**9) is None
    problem = memory_problem(graph, shapes, training, 4096, available=2 * 10**6)  # 90% of it is offered
    assert isinstance(problem, NotEnoughMemory) and isinstance(problem, UserError)
    assert problem.batch_size == largest_batch(graph, shapes, training, 18 * 10**5) > 0
    message = str(problem)
    assert message.startswith("Training needs about ") and "at batch size 4,096" in message
    assert "2 MB free" in message and f"largest batch size that fits is {problem.batch_size:,};" in message
    assert batch_size_that_fits(message) == problem.batch_size
    assert batch_size_that_fits("Training failed: the file is not an image") is None


def test_the_trainer_refuses_a_run_that_does_not_fit_before_it_starts(tmp_path, monkeypatch):
    project = load_project(EXAMPLES / "iris_mlp.json")
    project.training["batch_size"] = 120
    monkeypatch.setattr(engine.memory_estimate, "device_available", lambda device: 20_000)
    trainer = Trainer(project, out_dir=tmp_path / "run", epochs=1)
    with pytest.raises(NotEnoughMemory) as refusal:
        trainer.prepare()
    assert 0 < refusal.value.batch_size < 120
    assert "at batch size 120" in str(refusal.value)
    assert not (tmp_path / "run").exists()  # nothing was written


def test_train_exits_2_with_the_estimate(tmp_path, monkeypatch, capsys):
    project = load_project(EXAMPLES / "iris_mlp.json")
    path = tmp_path / "iris.json"
    save_project(project, path)
    monkeypatch.setattr(engine.memory_estimate, "device_available", lambda device: 5_000)
    monkeypatch.chdir(tmp_path)
    assert main.main(["train", str(path), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "Training needs about" in err and "Traceback" not in err


def test_check_json_reports_the_estimate_at_the_batch_size(tmp_path, capsys):
    path = tmp_path / "small.json"
    save_project(Project(graph=classifier(), name="small", training={"dataset": {"name": "iris"}}), path)
    assert main.main(["check", str(path), "--json", "--batch-size", "10"]) == 0
    memory = json.loads(capsys.readouterr().out)["memory"]
    assert memory == {**estimate(classifier(), 10).as_dict(), "batch_size": 10}
    assert main.main(["check", str(path), "--json", "--batch-size", "1000"]) == 0
    assert json.loads(capsys.readouterr().out)["memory"]["activations"] == 100 * memory["activations"]


def test_check_refuses_a_batch_size_below_one_with_one_json_object(tmp_path, capsys):
    path = tmp_path / "small.json"
    save_project(Project(graph=classifier(), name="small"), path)
    assert main.main(["check", str(path), "--json", "--batch-size", "0"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert not report["valid"] and "--batch-size" in report["errors"][0]["message"]


def test_check_without_a_batch_size_keeps_its_report_and_prints_the_estimate_with_one(tmp_path, capsys):
    path = tmp_path / "small.json"
    save_project(Project(graph=classifier(), name="small"), path)
    assert main.main(["check", str(path), "--json"]) == 0
    assert "memory" not in json.loads(capsys.readouterr().out)
    assert main.main(["check", str(path), "--batch-size", "10"]) == 0
    assert f"training memory (estimate): {estimate(classifier(), 10).describe()}" in capsys.readouterr().out


def test_a_skip_connection_keeps_its_gradient_waiting_across_the_block():
    """x -> fc1 -> relu -> [fc2 (wide) -> relu2 -> fc3] -> add(relu, fc3): relu's gradient from the Add waits
    through the block's backward, where the peak is; without the skip, fc3 reads the block only."""

    def block(skip: bool) -> Graph:
        graph = Graph()
        graph.add_node("Input", {"shape": [20]}, "x")
        for node_id, type_name, params in (("fc1", "Linear", {"out_features": 32}), ("relu", "ReLU", {}),
                                           ("fc2", "Linear", {"out_features": 512}), ("relu2", "ReLU", {}),
                                           ("fc3", "Linear", {"out_features": 32})):
            graph.add_node(type_name, params, node_id)
        for source, target in (("x", "fc1"), ("fc1", "relu"), ("relu", "fc2"), ("fc2", "relu2"), ("relu2", "fc3")):
            graph.connect(source, target)
        if skip:
            graph.add_node("Add", {}, "add")
            graph.connect("fc3", "add", "out", "in0")
            graph.connect("relu", "add", "out", "in1")
        return graph

    hidden = 10 * 32 * 4
    assert estimate(block(True), 10).activations == estimate(block(False), 10).activations + hidden


def test_a_device_whose_memory_is_unknown_is_not_refused(monkeypatch):
    from engine.memory_estimate import check_training_memory, device_available

    assert device_available("mps") is None
    graph = classifier(256)
    check_training_memory(graph, infer(graph), {}, 1 << 20, "mps")  # no refusal: nothing to compare with
