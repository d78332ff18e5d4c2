"""`sweep PROJECT`: trials as run folders, pruning, bad storage and search space, SIGKILL and resume, workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import main
from engine.sweeps.storage import SURPLUS_ATTR, open_storage
from engine.sweeps.trial import SWEEP_FILE, TrialRunner
from graphs.project import load_project
from graphs.search_space import parse_search_space

ROOT = Path(__file__).resolve().parents[2]
SEARCH = {"optimizer.lr": {"log_uniform": [1e-3, 1e-1]}, "nodes.fc1.out_features": {"choice": [4, 8]},
          "training.batch_size": {"choice": [16, 32]}}


@pytest.fixture
def sweep_project(tmp_path, write_project):
    def make(search=SEARCH, **options):
        project = write_project({"name": "moons", "n_samples": 120, "noise": 0.1}, **options)
        data = json.loads(project.path.read_text())
        data["search"] = search
        project.path.write_text(json.dumps(data))
        return project.path

    return make


def sweep(capsys, *args):
    code = main.main(["sweep", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def study_of(path: Path, name: str = "project"):
    return optuna.load_study(study_name=name, storage=open_storage(f"sqlite:///{path.with_suffix('.sweep.db')}"))


def test_a_tiny_sweep_leaves_a_run_folder_per_trial_and_the_study_beside_the_project(sweep_project, capsys):
    path = sweep_project()
    code, out, err = sweep(capsys, path, "--trials", 3, "--epochs", 1, "--workers", 1, "--threads", 1)
    assert code == 0, err
    assert out.count("\ntrial ") == 3 and "best: trial" in out
    study = study_of(path)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    folders = sorted((path.parent / "runs").iterdir())
    assert len(folders) == 3
    for trial, folder in zip(study.trials, folders):
        record = json.loads((folder / SWEEP_FILE).read_text())["sweep"]
        assert record["trial"] == trial.number and record["params"] == trial.params and record["state"] == "complete"
        assert record["value"] == pytest.approx(trial.value)
        assert {"metrics.csv", "weights.safetensors", "project.json"} <= {p.name for p in folder.iterdir()}
        trained = load_project(folder / "project.json")
        assert trained.graph.node("fc1").params["out_features"] == trial.params["nodes.fc1.out_features"]
        assert trained.training["optimizer"]["lr"] == trial.params["optimizer.lr"]
        assert trained.training["batch_size"] == trial.params["training.batch_size"]
    # the same command again: the study already holds 3, nothing more runs
    code, out, _ = sweep(capsys, path, "--trials", 3, "--epochs", 1, "--workers", 1)
    assert code == 0 and "3 of 3 trials done" in out and "\ntrial " not in out
    assert len(study_of(path).trials) == 3


class FakeTrial:
    """Enough of optuna.Trial for TrialRunner: fixed suggestions, prunes after `prune_at` epochs."""

    def __init__(self, prune_at: int | None):
        self.number, self.prune_at, self.reports, self.user_attrs = 0, prune_at, [], {}

    def suggest_float(self, name, low, high, log=False, step=None):
        return low

    def suggest_categorical(self, name, choices):
        return choices[0]

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return self.prune_at is not None and len(self.reports) >= self.prune_at

    def set_user_attr(self, key, value):
        self.user_attrs[key] = value


def test_a_pruned_trial_stops_cleanly_after_the_epoch_the_pruner_judged(sweep_project):
    project = load_project(sweep_project(epochs=6))
    dims = parse_search_space(project.search, project.graph, project.training)
    trial = FakeTrial(prune_at=2)
    outcome = TrialRunner(project, dims, "s", threads=1).run(trial)
    assert outcome.state == "pruned" and outcome.epochs == 2 and [s for s, _ in trial.reports] == [1, 2]
    assert (outcome.run_dir / "weights.safetensors").exists()
    assert json.loads((outcome.run_dir / SWEEP_FILE).read_text())["sweep"]["state"] == "pruned"
    full = TrialRunner(project, dims, "s", threads=1).run(FakeTrial(prune_at=None))
    assert full.state == "complete" and full.epochs == 6 and full.value == max(v for _, v in
                                                                               full_reports(full))


def full_reports(outcome):
    return [(row["epoch"], row["val_accuracy"]) for row in outcome.history]


@pytest.mark.parametrize("url, words", [
    ("sqlite:////nonexistent-folder/x/sweep.db", "cannot open the sweep storage"),
    ("nosuchdb://user:secret@host/db", "cannot open the sweep storage"),
])
def test_a_storage_that_cannot_be_opened_is_a_clear_error(sweep_project, capsys, url, words):
    code, out, err = sweep(capsys, sweep_project(), "--trials", 1, "--storage", url)
    assert code == 2 and words in err and "Traceback" not in err
    assert "secret" not in err


def test_a_bad_search_space_is_refused_by_sweep_and_by_check(sweep_project, capsys):
    path = sweep_project(search={"nodes.fc1.out_features": {"choice": []}, "optimizer.lr": {"log_uniform": [0, 1]}})
    code, _, err = sweep(capsys, path, "--trials", 1)
    assert code == 2 and "node 'fc1'" in err and "an empty choice" in err
    code = main.main(["check", str(path)])
    out, _ = capsys.readouterr()
    assert code == 2 and "node 'fc1'" in out and "a log range must stay above 0" in out
    assert not (path.parent / "runs").exists()


def test_a_project_without_a_search_space_says_how_to_add_one(write_project, capsys):
    project = write_project({"name": "moons", "n_samples": 40})
    code, _, err = sweep(capsys, project.path, "--trials", 1)
    assert code == 2 and "no search space" in err


def test_sigkill_loses_no_finished_trial_and_the_same_command_resumes(sweep_project, tmp_path):
    """Trial 0 is short, trial 1 very long: the sweep is killed inside trial 1, then resumed."""
    path = sweep_project(search={"training.epochs": {"choice": [1, 100000]}})
    url = f"sqlite:///{path.with_suffix('.sweep.db')}"
    study = optuna.create_study(storage=url, study_name="project", direction="maximize")
    study.enqueue_trial({"training.epochs": 1})
    study.enqueue_trial({"training.epochs": 100000})
    command = [sys.executable, str(ROOT / "main.py"), "sweep", str(path), "--trials", "3", "--workers", "1",
               "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            trials = study_of(path).trials
            if len(trials) > 1 and trials[1].state == TrialState.RUNNING and trials[1].intermediate_values:
                break
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.1)
        else:
            pytest.fail("trial 1 never started training")
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    before = study_of(path).trials
    assert before[0].state == TrialState.COMPLETE and before[1].state == TrialState.RUNNING
    resumed = subprocess.run([*command, "--epochs", "1"], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    after = study_of(path).trials
    assert after[0].state == TrialState.COMPLETE and after[0].value == before[0].value
    assert after[1].state == TrialState.FAIL and after[1].user_attrs["retried"]
    retry = [t for t in after if t.user_attrs.get("retry_of") == 1]
    assert len(retry) == 1 and retry[0].params == after[1].params and retry[0].state == TrialState.COMPLETE
    finished = [t for t in after if t.state == TrialState.COMPLETE]
    assert len(finished) == 3 and "3 of 3 trials done" in resumed.stdout


def test_two_workers_share_one_study(sweep_project, tmp_path):
    path = sweep_project()
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "sweep", str(path), "--trials", "6",
                             "--workers", "2", "--threads", "1", "--epochs", "3", "--sampler", "random"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    trials = study_of(path).trials
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == 6
    ran = [t for t in trials if not t.user_attrs.get(SURPLUS_ATTR)]  # a surplus one is closed unrun, ownerless
    assert len(ran) == 6 and len({t.user_attrs["owner"]["pid"] for t in ran}) == 2


def test_grid_sampler_runs_each_point_once_and_refuses_continuous_ranges(sweep_project, capsys):
    path = sweep_project(search={"nodes.fc1.out_features": {"choice": [4, 8]}, "training.batch_size": {"choice": [16]}})
    code, out, err = sweep(capsys, path, "--trials", 10, "--sampler", "grid", "--epochs", 1, "--workers", 1)
    assert code == 0, err
    trials = study_of(path).trials
    assert len(trials) == 2 and sorted(t.params["nodes.fc1.out_features"] for t in trials) == [4, 8]
    continuous = sweep_project(search=SEARCH)
    code, _, err = sweep(capsys, continuous, "--trials", 2, "--sampler", "grid")
    assert code == 2 and "grid sampler needs a finite search space" in err and "optimizer.lr" in err


def test_sigterm_stops_the_running_trial_and_the_next_run_retries_it(sweep_project, tmp_path):
    path = sweep_project(search={"training.epochs": {"choice": [100000]}})
    command = [sys.executable, str(ROOT / "main.py"), "sweep", str(path), "--trials", "1", "--workers", "1",
               "--threads", "1"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                trials = study_of(path).trials
            except KeyError:  # the study is not made yet
                trials = []
            if trials and trials[0].intermediate_values:
                break
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143 and "run the same command again to resume" in err
    trials = study_of(path).trials
    assert trials[0].state == TrialState.FAIL and trials[0].user_attrs["retried"]
    assert trials[1].state == TrialState.WAITING and trials[1].user_attrs["retry_of"] == 0
    assert (Path(trials[0].user_attrs["run_dir"]) / "weights.safetensors").exists()  # stopped cleanly


def test_a_trial_asked_after_another_worker_took_the_last_place_is_closed_unrun_and_unshown(sweep_project):
    from engine.sweeps.report import read_study
    from engine.sweeps.runner import Sweep, SweepOptions

    path = sweep_project()
    sweep = Sweep(load_project(path), SweepOptions(trials=1, sampler="random", epochs=1, threads=1))
    real_ask, taken = sweep.study.ask, []

    def ask_after_the_other_worker():  # the race: the other worker asks between this one's count and ask
        taken.append(study_of(path).ask())
        return real_ask()

    sweep.study.ask = ask_after_the_other_worker
    assert sweep.run_worker() == 0  # nothing trained here: the sweep was full
    trials = study_of(path).trials
    assert [t.state for t in trials] == [TrialState.RUNNING, TrialState.FAIL]
    assert trials[0].number == taken[0].number and trials[1].user_attrs["surplus"]
    assert [row.number for row in read_study(f"sqlite:///{path.with_suffix('.sweep.db')}", "project").trials] == [0]


def test_a_sweep_started_afresh_suggests_the_same_trials_and_a_resumed_one_new_ones(sweep_project, tmp_path, capsys):
    first = sweep_project()
    second = tmp_path / "again" / first.name
    second.parent.mkdir()
    second.write_text(first.read_text())
    for path in (first, second):
        code, _, err = sweep(capsys, path, "--trials", 2, "--epochs", 1, "--workers", 1, "--threads", 1,
                             "--sampler", "random")
        assert code == 0, err
    params = [[trial.params for trial in study_of(path).trials] for path in (first, second)]
    assert params[0] == params[1]  # the same seed, a fresh study: the same suggestions
    code, _, err = sweep(capsys, first, "--trials", 4, "--epochs", 1, "--workers", 1, "--threads", 1,
                         "--sampler", "random")
    assert code == 0, err
    resumed = [trial.params for trial in study_of(first).trials][2:]
    assert len(resumed) == 2 and not any(trial in params[0] for trial in resumed)
