"""Distributed training: shards, the global batch, and real 2-process gloo runs under torchrun."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import main
from engine.data import TensorSplit
from engine.training import Trainer, read_metadata, read_weights
from engine.training.distributed import World, launched_by_torchrun, session, shard

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).with_name("torchrun")
TIMEOUT = 180
# the moons example trains on 800 samples in global batches of 32 (16 per process): the shards hold
# 400 samples each, so both runs take the same 25 steps an epoch on the same samples
EXAMPLE = ROOT / "resources" / "examples" / "moons_mlp.json"
WITH_BATCHNORM = ROOT / "resources" / "examples" / "breast_cancer_tabular.json"  # BatchNorm1d and Dropout
needs_torchrun = pytest.mark.skipif(not TORCHRUN.exists() or not torch.distributed.is_available(),
                                    reason="needs torchrun and torch.distributed")


def world(rank: int, size: int = 2) -> World:
    """A World for the data helpers, which need no process group."""
    return World(rank, size, rank, torch.device("cpu"), "gloo")


# ---- shards and batches ---------------------------------------------------------------

@pytest.mark.parametrize("n, size", [(10, 2), (11, 2), (7, 3), (2, 2), (1, 2), (0, 3)])
def test_equal_shards_are_disjoint_equally_long_and_cover_all_but_the_tail(n, size):
    indices = torch.randperm(n, generator=torch.Generator().manual_seed(n))
    shards = [shard(indices, rank, size) for rank in range(size)]
    assert {len(s) for s in shards} == {n // size}
    taken = torch.cat(shards).tolist()
    assert len(set(taken)) == len(taken) == n // size * size  # disjoint
    assert set(taken) <= set(indices.tolist())


@pytest.mark.parametrize("n, size", [(10, 2), (11, 2), (7, 3), (1, 2)])
def test_covering_shards_take_every_item_once(n, size):
    items = list(range(n))
    shards = [shard(items, rank, size, equal=False) for rank in range(size)]
    assert sorted(i for s in shards for i in s) == items
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_a_rank_outside_the_world_is_refused():
    with pytest.raises(ValueError):
        shard(list(range(4)), 2, 2)


def test_each_step_of_two_processes_sees_the_samples_of_one_global_batch():
    n, batch = 150, 20
    split = TensorSplit(torch.arange(n).float()[:, None], torch.arange(n))
    single = [y.tolist() for _, y in split.batches(batch, shuffle=True, generator=torch.Generator().manual_seed(3))]
    parts = [list(world(rank).train_batches(split, batch, torch.Generator().manual_seed(3))) for rank in (0, 1)]
    assert len(parts[0]) == len(parts[1]) == len(single) == world(0).num_batches(n, batch)
    for step, (mine, theirs) in enumerate(zip(*parts)):
        assert len(mine[1]) == len(theirs[1])  # equal per-process batches: DDP's average is the global mean
        assert sorted(mine[1].tolist() + theirs[1].tolist()) == sorted(single[step])


def test_batch_size_is_global():
    assert (world(0, 4).batch_size(64), world(0, 4).batch_size(3), world(0, 4).num_batches(100, 20)) == (16, 1, 5)
    assert len(world(0, 3).notes(64)) == 2 and "63 samples" in world(0, 3).notes(64)[1]


def test_torchrun_is_detected_from_its_environment():
    assert launched_by_torchrun({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    assert not launched_by_torchrun({"WORLD_SIZE": "1", "RANK": "0"})
    assert not launched_by_torchrun({})
    assert not launched_by_torchrun({"WORLD_SIZE": "two", "RANK": "0"})


def test_without_torchrun_nothing_changes(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with session("cpu") as current:
        assert current is None


def test_a_distributed_run_cannot_be_paused(moons_project):
    trainer = Trainer(moons_project, world=world(1))
    assert not trainer.is_main
    with pytest.raises(RuntimeError, match="can't be paused"):
        trainer.pause()


# ---- real runs: 2 processes, gloo ------------------------------------------------------

def torchrun(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("WORLD_SIZE", None)
    return subprocess.run([str(TORCHRUN), "--standalone", "--nproc_per_node=2", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def metrics(folder: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO((folder / "metrics.csv").read_text())))


@needs_torchrun
def test_two_processes_train_like_one(tmp_path, capsys):
    project = Path(shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name))
    options = ["--epochs", "2", "--device", "cpu"]
    logs = tmp_path / "logs"
    run = torchrun("--log-dir", logs, "--redirects", "3", ROOT / "main.py", "train", project, *options,
                   "--out", tmp_path / "dist", "--check-replicas", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    outputs = {p.parent.name: p.read_text() for p in logs.rglob("stdout.log")}
    errors = {p.parent.name: p.read_text() for p in logs.rglob("stderr.log")}
    assert set(outputs) == {"0", "1"}, (outputs, errors)
    assert outputs["1"] == "", outputs["1"]  # only rank 0 prints (torch may still warn on stderr, we don't)
    assert "neurocanvas" not in errors["1"] and "Traceback" not in errors["1"], errors["1"]
    lines = outputs["0"].splitlines()
    assert sum(line.startswith("epoch 1/2  train_loss") for line in lines) == 1
    assert sum(line.startswith("epoch 2/2  train_loss") for line in lines) == 1
    assert "replicas: all 2 processes hold identical weights" in lines
    assert "note: distributed over 2 processes (gloo); batch size 32 is global: 16 samples per process a step" in lines
    assert {p.name for p in (tmp_path / "dist").iterdir()} == {"metrics.csv", "weights.safetensors", "project.json",
                                                             "best.safetensors", "last.safetensors",
                                                             "run.json", "tensorboard", "report.json"}

    threads = torch.get_num_threads()
    try:
        single_run = ["train", str(project), *options, "--out", str(tmp_path / "single"), "--quiet", "--threads", "1"]
        assert main.main(single_run) == 0
    finally:
        torch.set_num_threads(threads)
    capsys.readouterr()
    single, dist = metrics(tmp_path / "single"), metrics(tmp_path / "dist")
    assert [r["epoch"] for r in dist] == ["1", "2"]
    for one, two in zip(single, dist):  # the same samples in the same steps: equal up to float rounding
        for column in ("train_loss", "val_loss", "val_accuracy", "lr"):
            assert float(two[column]) == pytest.approx(float(one[column]), rel=1e-4), column
    a, b = (read_weights(tmp_path / name / "weights.safetensors") for name in ("single", "dist"))
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


HARNESS = """
import json, sys
from pathlib import Path
from engine.training import BatchProgress, Trainer, distributed
from graphs.project import load_project

project, out, report = load_project(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
with distributed.session("cpu") as world:
    def stop_on_rank_1(event):  # only rank 1 is asked to stop, in the middle of epoch 2
        if world.rank == 1 and isinstance(event, BatchProgress) and (event.epoch, event.batch) == (2, 3):
            trainer.stop()
    trainer = Trainer(project, epochs=3, out_dir=out, callback=stop_on_rank_1, progress_every=1, world=world)
    result = trainer.run()
    agree = world.replicas_identical(trainer.model)
    (report / f"rank{world.rank}.json").write_text(json.dumps([result.status, result.message, agree]))
"""


@needs_torchrun
def test_a_stop_asked_of_one_process_stops_all_at_the_same_batch(tmp_path):
    """Also: BatchNorm statistics, which each process updates from its own samples, end up identical."""
    project = shutil.copy(WITH_BATCHNORM, tmp_path / WITH_BATCHNORM.name)
    (tmp_path / "harness.py").write_text(HARNESS)
    run = torchrun(tmp_path / "harness.py", project, tmp_path / "out", tmp_path, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    reports = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert reports[0] == reports[1] == ["stopped", "stopped by request at epoch 2, batch 4", True]
    assert read_metadata(tmp_path / "out" / "last.safetensors")["epoch"] == "2 (stopped after batch 4)"
