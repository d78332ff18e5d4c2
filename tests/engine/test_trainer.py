"""The Trainer: determinism, events, stop/pause, failures, early stopping, checkpoints, settings."""

from __future__ import annotations

import json
import threading
import time

import pytest
import torch

from engine.compiler import compile_graph
from engine.errors import UserError
from engine.training import (
    BatchProgress,
    EpochEnd,
    Paused,
    Resumed,
    RunEnded,
    RunStarted,
    RunState,
    Trainer,
    evaluate,
    list_devices,
    load_weights,
    read_metadata,
    read_weights,
    resolve_device,
)
from graphs.project import load_project


def run(project, tmp_path, name="run", **options):
    events = []
    trainer = Trainer(project, out_dir=tmp_path / name, callback=events.append, **options)
    return trainer, trainer.run(), events


def comparable(history):
    return [{k: v for k, v in row.items() if k not in ("seconds", "samples_per_sec", "threads")} for row in history]


# ---- determinism, events, outputs --------------------------------------------------

def test_two_seeded_runs_give_identical_metrics_and_weights(moons_project, tmp_path):
    _, first, _ = run(moons_project, tmp_path, "a", epochs=3)
    _, second, _ = run(moons_project, tmp_path, "b", epochs=3)
    assert first.status == second.status == "finished"
    assert comparable(first.history) == comparable(second.history)
    a, b = read_weights(first.weights), read_weights(second.weights)
    assert all(torch.equal(a[k], b[k]) for k in a)
    moons_project.training["seed"] = 1
    _, other, _ = run(moons_project, tmp_path, "c", epochs=3)
    assert comparable(other.history) != comparable(first.history)


def test_events_report_every_batch_once_in_order(moons_project, tmp_path):
    _, result, events = run(moons_project, tmp_path, epochs=2)
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded) and events[-1].result is result
    started = events[0]
    assert (started.total_epochs, started.batches_per_epoch, started.train_samples, started.val_samples) == (
        2, 8, 120, 40)
    assert started.metric == "val_accuracy" and started.device == "cpu"
    progress = [e for e in events if isinstance(e, BatchProgress)]
    assert sum(len(e.losses) for e in progress) == 16  # aggregated, but no batch lost or repeated
    assert [e.step for e in progress] == sorted(e.step for e in progress) and progress[-1].step == 16
    assert all(e.total_steps == 16 and e.samples_per_sec > 0 and e.eta_seconds >= 0 for e in progress)
    ends = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in ends] == [1, 2] and ends[0].improved
    last_of_epoch_one = [e for e in progress if e.epoch == 1][-1]
    assert last_of_epoch_one.batch == last_of_epoch_one.batches == 8  # an event closes every epoch
    row = result.history[-1]
    assert set(row) == {"epoch", "train_loss", "val_loss", "val_accuracy", "lr", "samples_per_sec", "seconds", "threads"}
    assert 0 <= row["val_accuracy"] <= 1 and row["lr"] == 0.01
    assert ends[-1].metrics.as_dict() == row and list(ends[-1].metrics.as_dict()) == list(row)  # the same row
    assert ends[-1].metrics.val_loss == row["val_loss"] and ends[-1].metrics.value("val_accuracy") == row["val_accuracy"]
    assert result.status is RunState.FINISHED and json.dumps(result.status) == '"finished"'


def test_progress_every_n_batches(moons_project, tmp_path):
    _, _, events = run(moons_project, tmp_path, epochs=1, progress_every=3)
    assert [len(e.losses) for e in events if isinstance(e, BatchProgress)] == [3, 3, 2]


def test_no_gradients_are_held_through_validation_or_after_a_stop(moons_project, tmp_path):
    def held_gradients(trainer):
        return [name for name, p in trainer.model.named_parameters() if p.grad is not None]

    seen = []

    def callback(event):
        if isinstance(event, EpochEnd):  # told after validation and the checkpoints
            seen.append(held_gradients(trainer))
        elif isinstance(event, BatchProgress) and event.epoch == 3:
            trainer.stop()

    trainer = Trainer(moons_project, out_dir=tmp_path / "run", epochs=5, callback=callback, progress_every=2)
    result = trainer.run()
    assert result.status == "stopped" and seen == [[], []] and held_gradients(trainer) == []


def test_regression_reports_mae(sine_project, tmp_path):
    _, result, events = run(sine_project, tmp_path, epochs=2)
    assert events[0].metric == "val_mae" and result.metric == "val_mae"
    assert result.history[-1]["val_mae"] > 0 and "val_accuracy" not in result.history[-1]


def test_run_folder_holds_metrics_weights_and_the_project_as_trained(moons_project, tmp_path):
    trainer, result, _ = run(moons_project, tmp_path, epochs=2)
    folder = tmp_path / "run"
    assert result.out_dir == folder and result.weights == folder / "weights.safetensors"
    assert result.checkpoints == {"best": folder / "best.safetensors", "last": folder / "last.safetensors"}
    lines = (folder / "metrics.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,val_loss,val_accuracy,lr,seconds,threads" and len(lines) == 3
    trained = load_project(folder / "project.json")
    assert trained.graph.node("x").params["shape"] == [2] and trained.training["epochs"] == 2
    model = compile_graph(trained.graph).model
    load_weights(model, result.weights)  # the saved project rebuilds a model the weights fit
    meta = read_metadata(result.weights)
    assert meta["epoch"] == "2" and json.loads(meta["class_names"]) == ["0", "1"]


def test_default_run_folder_is_beside_the_project(moons_project, tmp_path):
    result = Trainer(moons_project, epochs=1, max_batches=1).run()
    assert result.out_dir.parent == tmp_path / "runs" and result.out_dir.name.startswith("project-")


def test_file_paths_in_the_trained_project_are_absolute(write_project, tmp_path):
    (tmp_path / "d.csv").write_text("a,b,label\n" + "".join(f"{i},{i % 5},{i % 2}\n" for i in range(40)))
    project = write_project({"name": "csv", "path": "d.csv"})
    run(project, tmp_path, epochs=1)
    trained = load_project(tmp_path / "run" / "project.json")
    assert trained.training["dataset"]["path"] == str((tmp_path / "d.csv").resolve())


def test_max_batches_caps_each_epoch(moons_project, tmp_path):
    _, _, events = run(moons_project, tmp_path, epochs=2, max_batches=3)
    assert events[0].batches_per_epoch == 3
    assert sum(len(e.losses) for e in events if isinstance(e, BatchProgress)) == 6


def test_a_trainer_runs_once(moons_project, tmp_path):
    trainer, _, _ = run(moons_project, tmp_path, epochs=1, max_batches=1)
    with pytest.raises(RuntimeError, match="runs once"):
        trainer.run()


# ---- stop and pause ------------------------------------------------------------------

def test_stop_from_the_callback_is_honoured_before_the_next_batch(moons_project, tmp_path):
    trainer = None

    def callback(event):
        if isinstance(event, BatchProgress) and event.step == 5:
            trainer.stop()

    trainer = Trainer(moons_project, out_dir=tmp_path / "run", epochs=50, callback=lambda e: (
        events.append(e), callback(e)), progress_every=1)
    events = []
    result = trainer.run()
    steps = [e.step for e in events if isinstance(e, BatchProgress)]
    assert result.status == "stopped" and steps[-1] == 5  # no batch ran after the stop
    assert "stopped by request at epoch 1, batch 5" in result.message
    assert result.weights_from == "partial" and result.weights.exists() and result.checkpoints["last"].exists()
    assert read_metadata(result.weights)["epoch"] == "1 (stopped after batch 5)"


def background(trainer):
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("result", trainer.run()), daemon=True)
    thread.start()
    return thread, outcome


def test_stop_from_another_thread_within_one_batch(moons_project, tmp_path):
    steps, first = [], threading.Event()

    def callback(event):
        if isinstance(event, BatchProgress):
            steps.append(event.step)
            first.set()

    trainer = Trainer(moons_project, out_dir=tmp_path / "run", epochs=10_000, callback=callback, progress_every=1)
    thread, outcome = background(trainer)
    assert first.wait(60)
    trainer.stop()
    done_when_stopped = len(steps)
    thread.join(60)
    assert outcome["result"].status == "stopped"
    assert len(steps) - done_when_stopped <= 1  # at most the batch that was running


def test_pause_blocks_without_spinning_and_resume_continues(moons_project, tmp_path):
    events, paused, first = [], threading.Event(), threading.Event()

    def callback(event):
        events.append(event)
        if isinstance(event, BatchProgress):
            first.set()
        if isinstance(event, Paused):
            paused.set()

    trainer = Trainer(moons_project, out_dir=tmp_path / "run", epochs=3, callback=callback, progress_every=1)
    thread, outcome = background(trainer)
    assert first.wait(60)
    trainer.pause()
    assert paused.wait(60) and trainer.paused
    time.sleep(0.1)  # let torch's worker threads settle
    count, cpu = len(events), time.process_time()
    time.sleep(0.5)
    assert len(events) == count  # nothing happens while paused
    assert time.process_time() - cpu < 0.2  # and the training thread is not busy-waiting
    trainer.resume()
    thread.join(60)
    result = outcome["result"]
    assert result.status == "finished" and len(result.history) == 3
    kinds = [type(e) for e in events]
    assert kinds.index(Paused) + 1 == kinds.index(Resumed)
    assert sum(len(e.losses) for e in events if isinstance(e, BatchProgress)) == 24  # no batch skipped


def test_stop_wakes_a_paused_run(moons_project, tmp_path):
    paused = threading.Event()
    trainer = Trainer(moons_project, out_dir=tmp_path / "run", epochs=3,
                      callback=lambda e: isinstance(e, Paused) and paused.set())
    trainer.pause()  # before it starts: it pauses before the first batch
    thread, outcome = background(trainer)
    assert paused.wait(60)
    trainer.stop()
    thread.join(60)
    assert not thread.is_alive() and outcome["result"].status == "stopped"


# ---- failures ----------------------------------------------------------------------

def test_a_huge_learning_rate_fails_with_advice(write_project, tmp_path):
    project = write_project({"name": "sine", "n_samples": 160}, classes=None, loss="MSELoss",
                            optimizer={"type": "SGD", "lr": 1e6})
    _, result, events = run(project, tmp_path, epochs=3)
    assert result.status == "failed" and not result.ok and isinstance(events[-1], RunEnded)
    assert result.message.startswith("loss became ") and "at epoch 1, batch " in result.message
    assert "try a lower learning rate (now 1000000.0) or gradient clipping" in result.message
    assert result.weights is None and "no checkpoint had been saved yet" in result.message


def test_a_nan_keeps_the_last_good_checkpoint(write_project, tmp_path):
    project = write_project({"name": "sine", "n_samples": 160}, classes=None, loss="MSELoss",
                            optimizer={"type": "SGD", "lr": 0.01}, schedule={"type": "step", "step_size": 1,
                                                                             "gamma": 1e8})
    trainer, result, _ = run(project, tmp_path, epochs=3)
    assert result.status == "failed" and "at epoch 2, batch" in result.message
    assert "last good weights (epoch 1)" in result.message and len(result.history) == 1
    fresh = compile_graph(trainer.graph).model
    load_weights(fresh, result.checkpoints["last"])
    assert all(torch.isfinite(p).all() for p in fresh.parameters())
    assert all(torch.equal(a, b) for a, b in zip(fresh.parameters(), trainer.model.parameters()))  # restored


def test_cuda_out_of_memory_becomes_a_failed_run(moons_project, tmp_path, monkeypatch):
    real_step, calls = Trainer._train_step, []

    def step(self, x, y):
        calls.append(1)
        if len(calls) == 11:  # in epoch 2, after a checkpoint
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real_step(self, x, y)

    monkeypatch.setattr(Trainer, "_train_step", step)
    _, result, events = run(moons_project, tmp_path, epochs=3)
    assert result.status == "failed" and isinstance(events[-1], RunEnded)
    assert "out of CPU memory at epoch 2, batch 3 with batch size 16" in result.message
    assert "try a smaller batch size, e.g. 8" in result.message and "last good weights (epoch 1)" in result.message
    monkeypatch.setattr(Trainer, "_train_step", real_step)
    _, again, _ = run(moons_project, tmp_path, "again", epochs=1)  # the process carries on
    assert again.status == "finished"


def test_data_too_big_for_the_gpu_becomes_a_failed_run(moons_project, tmp_path, monkeypatch):
    def place(self):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(Trainer, "_place_on_device", place)
    _, result, events = run(moons_project, tmp_path, epochs=1)
    assert result.status == "failed" and "try a smaller batch size" in result.message
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)


def test_an_unexpected_torch_error_fails_the_run_with_details(moons_project, tmp_path, monkeypatch):
    monkeypatch.setattr(Trainer, "_train_step", lambda self, x, y: (_ for _ in ()).throw(RuntimeError("boom")))
    _, result, _ = run(moons_project, tmp_path, epochs=1)
    assert result.status == "failed" and result.message.startswith("training failed at epoch 1, batch 1: boom")
    assert "Traceback" in result.details


def test_an_unreadable_streamed_image_fails_the_run_naming_it(write_project, tmp_path):
    from PIL import Image

    for name in ("a", "b"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(6):
            Image.new("L", (4, 4), 40 * i).save(tmp_path / "imgs" / name / f"{i}.png")
    (tmp_path / "imgs" / "b" / "3.png").write_bytes(b"not a png at all")
    project = write_project({"name": "image_folder", "path": "imgs", "size": [4, 4], "grayscale": True,
                             "stream": True}, input_params={"shape": [16]})
    _, result, _ = run(project, tmp_path, epochs=2)
    assert result.status == "failed" and "cannot read image 'imgs/b/3.png'" in result.message


# ---- early stopping and final weights ---------------------------------------------------

def test_early_stopping_keeps_the_best_weights(moons_project, tmp_path):
    moons_project.training.update(optimizer={"type": "SGD", "lr": 0.0}, patience=2)  # nothing ever improves
    trainer, result, _ = run(moons_project, tmp_path, epochs=10)
    assert result.status == "early_stopped" and len(result.history) == 3 and result.best_epoch == 1
    assert "has not improved for 2 epochs (best: epoch 1)" in result.message
    assert result.weights_from == "best" and read_metadata(result.weights)["epoch"] == "1"
    best, final = read_weights(result.checkpoints["best"]), read_weights(result.weights)
    assert all(torch.equal(best[k], final[k]) for k in best)


def test_improving_runs_do_not_stop_early(moons_project, tmp_path):
    moons_project.training["patience"] = 3
    _, result, _ = run(moons_project, tmp_path, epochs=3)
    assert result.status == "finished" and result.weights_from == "best"


def test_weights_round_trip_and_load_errors(moons_project, write_project, tmp_path):
    trainer, result, _ = run(moons_project, tmp_path, epochs=1)
    model = compile_graph(trainer.graph).model
    load_weights(model, result.weights)
    x = trainer.dataset.x_val
    assert torch.equal(model.eval()(x), trainer.model.eval()(x))
    (tmp_path / "noise.safetensors").write_bytes(torch.randn(100).numpy().tobytes())
    with pytest.raises(UserError, match="noise.safetensors"):
        load_weights(model, tmp_path / "noise.safetensors")
    data = result.weights.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) - 40])
    with pytest.raises(UserError, match="cut.safetensors"):
        load_weights(model, tmp_path / "cut.safetensors")
    wider = write_project({"name": "moons"}, name="wider.json", hidden=32)
    other = Trainer(wider, out_dir=tmp_path / "w")
    other.prepare()
    with pytest.raises(UserError) as error:
        load_weights(other.model, result.weights)
    assert "tensor 'fc1.weight' has shape [16, 2]" in str(error.value) and "[32, 2]" in str(error.value)


# ---- settings ------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", [
    {"type": "SGD", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"type": "Adam", "lr": 0.01, "betas": [0.8, 0.99]},
    {"type": "AdamW", "lr": 0.01, "weight_decay": 0.1},
    {"type": "rmsprop", "lr": 0.01, "alpha": 0.9},
])
def test_every_optimizer_trains(moons_project, tmp_path, optimizer):
    moons_project.training.update(optimizer=optimizer, grad_clip=1.0)
    _, result, _ = run(moons_project, tmp_path, epochs=2)
    assert result.status == "finished" and result.history[-1]["train_loss"] < result.history[0]["train_loss"] * 2


@pytest.mark.parametrize("schedule, check", [
    ({"type": "step", "step_size": 1, "gamma": 0.5}, lambda lrs: lrs == [0.01, 0.005, 0.0025]),
    ({"type": "cosine"}, lambda lrs: lrs[0] == 0.01 and lrs[0] > lrs[1] > lrs[2] > 0),
    ({"type": "one-cycle", "max_lr": 0.1}, lambda lrs: lrs[0] == pytest.approx(0.1 / 25) and 0.1 >= lrs[1] > lrs[2]),
    ({"type": "none"}, lambda lrs: lrs == [0.01] * 3),
])
def test_schedules(moons_project, tmp_path, schedule, check):
    moons_project.training["schedule"] = schedule
    _, result, _ = run(moons_project, tmp_path, epochs=3)
    lrs = [row["lr"] for row in result.history]
    assert result.status == "finished" and check(lrs), lrs


@pytest.mark.parametrize("change, words", [
    ({"optimizer": {"type": "Adam", "lr": 0.1, "momentum": 0.9}}, ["optimizer Adam has no setting 'momentum'",
                                                                   "betas"]),
    ({"optimizer": {"type": "Adamax"}}, ["unknown optimizer 'Adamax'", "SGD, Adam, AdamW, RMSprop"]),
    ({"schedule": {"type": "cosine", "T_max": 3}}, ["schedule cosine has no setting 'T_max'"]),
    ({"schedule": {"type": "exp"}}, ["unknown schedule 'exp'"]),
    ({"epoch": 3}, ["unknown training setting 'epoch'"]),
    ({"batch_size": 0}, ["'batch_size'", "from 1"]),
    ({"device": "gpu"}, ["unknown device 'gpu'"]),
    ({"amp": "fp8"}, ["'amp'"]),
])
def test_bad_settings_name_the_setting(moons_project, tmp_path, change, words):
    moons_project.training.update(change)
    with pytest.raises(UserError) as error:
        Trainer(moons_project, out_dir=tmp_path / "run").run()
    assert all(w in str(error.value) for w in words), str(error.value)


def test_a_bad_optimizer_value_is_a_user_error(moons_project, tmp_path):
    moons_project.training["optimizer"] = {"type": "SGD", "lr": -1}
    with pytest.raises(UserError, match="optimizer SGD: Invalid learning rate"):
        Trainer(moons_project, out_dir=tmp_path / "run").run()


def test_mixed_precision_and_compile_are_skipped_with_a_note_on_cpu(moons_project, tmp_path):
    moons_project.training.update(amp="bf16", compile=True)
    _, result, events = run(moons_project, tmp_path, epochs=1, max_batches=2)
    assert result.status == "finished"
    assert any("amp 'bf16' needs a CUDA device" in n for n in events[0].notes)
    assert any("compile is used on CUDA only" in n for n in events[0].notes)


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    devices = list_devices()
    assert devices[0]["id"] == "cpu" and devices[0]["name"] and set(devices[0]) == {"id", "name", "memory"}
    with pytest.raises(UserError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(UserError, match="device 'cuda:1' is not available"):
            resolve_device("cuda:1")


# ---- data that doesn't fit the graph --------------------------------------------------------

def test_an_invalid_graph_lists_its_node_errors(write_project, tmp_path):
    project = write_project({"name": "moons"})
    project.graph.disconnect(project.graph.edge_into("loss", "target"))
    project.graph.disconnect(project.graph.edge_into("fc1", "in"))
    with pytest.raises(UserError) as error:
        Trainer(project, out_dir=tmp_path / "run").run()
    lines = str(error.value).split("\n")  # one problem a line, as the CLI prints it
    assert lines[0].startswith("the graph has") and lines[0].endswith("problems:")
    assert any(line.startswith("  node 'loss'") for line in lines) and any(line.startswith("  node 'fc1'") for line in lines)


@pytest.mark.parametrize("dataset, options, words", [
    ("digits", {"input_params": {"shape": [5]}}, ["Input 'x' has shape [5] but dataset 'digits' gives [1, 8, 8]"]),
    ("digits", {"classes": 4, "input_params": {"shape": [64]}},
     ["the model gives 4 class scores (from 'fc2') but dataset 'digits' has 10 classes"]),
    ("sine", {"target_params": {"shape": [], "dtype": "int64"}},
     ["Target 'y' is int64 (class indices) but dataset 'sine' gives float32 values (regression)"]),
])
def test_data_that_does_not_fit_the_model(write_project, tmp_path, dataset, options, words):
    project = write_project({"name": dataset}, **options)
    with pytest.raises(UserError) as error:
        Trainer(project, out_dir=tmp_path / "run").run()
    assert all(w in str(error.value) for w in words), str(error.value)


def test_index_inputs_need_index_data(tmp_path):
    from graphs.project import project_from_dict

    nodes = [{"id": "x", "type": "Input", "params": {"shape": [1], "dtype": "int64"}},
             {"id": "emb", "type": "Embedding", "params": {"num_embeddings": 10, "embedding_dim": 4}},
             {"id": "flat", "type": "Flatten"}, {"id": "fc", "type": "Linear", "params": {"out_features": 2}},
             {"id": "y", "type": "Target"}, {"id": "loss", "type": "CrossEntropyLoss"}]
    edges = [{"source": "x", "target": "emb"}, {"source": "emb", "target": "flat"},
             {"source": "flat", "target": "fc"}, {"source": "fc", "target": "loss", "target_port": "input"},
             {"source": "y", "target": "loss", "target_port": "target"}]
    project = project_from_dict({"format": "neurocanvas", "version": 1, "nodes": nodes, "edges": edges,
                                 "training": {"dataset": {"name": "moons"}, "device": "cpu"}})
    with pytest.raises(UserError, match="Input 'x' is int64 \\(indices\\) but dataset 'moons' gives float32"):
        Trainer(project, out_dir=tmp_path / "run").run()


def test_inputs_are_reshaped_to_the_input_node(write_project, tmp_path):
    project = write_project({"name": "digits"}, classes=10, input_params={"shape": [64]})
    trainer, result, _ = run(project, tmp_path, epochs=1, max_batches=2)
    assert result.status == "finished" and trainer.dataset.x_train.shape[1:] == (64,)


# ---- evaluation ------------------------------------------------------------------------------

def test_evaluate_classification(moons_project, tmp_path):
    trainer, result, _ = run(moons_project, tmp_path, epochs=3)
    report = trainer.evaluate()
    assert report.task == "classification" and report.class_names == ["0", "1"]
    assert report.confusion.shape == (2, 2) and report.confusion.sum() == 40
    assert report.accuracy == pytest.approx(result.history[-1]["val_accuracy"])
    assert [row["class"] for row in report.per_class] == ["0", "1"]
    assert sum(row["support"] for row in report.per_class) == 40
    assert all(0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1 for row in report.per_class)


def test_binary_classification_with_a_single_logit(write_project, tmp_path):
    project = write_project({"name": "breast_cancer"}, classes=1, loss="BCEWithLogitsLoss",
                            target_params={"shape": [1], "dtype": "float32"})
    trainer, result, _ = run(project, tmp_path, epochs=3)
    report = trainer.evaluate()
    assert result.status == "finished" and result.history[-1]["val_accuracy"] > 0.8
    assert report.accuracy == pytest.approx(result.history[-1]["val_accuracy"])
    assert report.class_names == ["malignant", "benign"] and report.confusion.sum() == len(trainer.dataset.val)


def test_evaluate_regression(sine_project, tmp_path):
    trainer, result, _ = run(sine_project, tmp_path, epochs=2)
    report = evaluate(trainer.compiled, trainer.dataset)
    assert report.task == "regression" and report.predictions.shape == report.targets.shape == (40, 1)
    assert report.mae == pytest.approx(result.history[-1]["val_mae"], rel=1e-5) and report.rmse >= report.mae


# ---- val_split 0: every sample trains, no validation ------------------------------------------

def test_val_split_0_trains_on_all_data_and_says_so(moons_project, tmp_path):
    moons_project.training.update(val_split=0, patience=2)
    trainer, result, events = run(moons_project, tmp_path, epochs=6)
    assert result.status in ("finished", "early_stopped"), result.message
    started = events[0]
    assert (started.train_samples, started.val_samples) == (160, 0)
    assert ("no validation data (val_split 0): training on all 160 samples; the best checkpoint and early "
            "stopping follow the training loss") in started.notes
    assert all(row["val_loss"] is None and row["val_accuracy"] is None for row in result.history)
    best = min(result.history, key=lambda row: row["train_loss"])
    assert result.best_epoch == best["epoch"]
    improved = [e.epoch for e in events if isinstance(e, EpochEnd) and e.improved]
    assert improved[-1] == best["epoch"]
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert rows[0] == "epoch,train_loss,val_loss,val_accuracy,lr,seconds,threads"
    assert all(row.split(",")[2:4] == ["", ""] for row in rows[1:])
    assert read_metadata(result.checkpoints["best"])["train_loss"] == repr(best["train_loss"])
    with pytest.raises(UserError, match="no validation data to evaluate on"):
        trainer.evaluate()


def test_early_stopping_without_validation_follows_the_training_loss(moons_project, tmp_path):
    moons_project.training.update(val_split=0, patience=1, optimizer={"type": "SGD", "lr": 0.0})
    _, result, _ = run(moons_project, tmp_path, epochs=10)  # lr 0: the training loss never improves
    assert result.status == "early_stopped" and len(result.history) == 2
    assert "the training loss has not improved for 1 epochs (best: epoch 1)" in result.message


@pytest.mark.parametrize("value", [1, 1.0, -0.1, 1.5, True, "0.2"])
def test_val_split_is_0_or_a_share_below_1(moons_project, value):
    moons_project.training["val_split"] = value
    with pytest.raises(UserError, match="'val_split' must be a number from 0 .no validation: train on all the "
                                        "data. up to but not including 1"):
        Trainer(moons_project)
