"""Section 14: sweeps of the digits CNN, with and without median pruning, on one and two workers.

Pruning: the same 20-trial TPE sweep (same sampler seed, so the same first
trials) of resources/examples/digits_cnn.json, run in this process with one
torch thread, once with median pruning and once without, for each of three
training seeds (which also seed the sampler): how many trials one sweep prunes
varies between 6 and 10 of 20 with the trials drawn, so a single pair is a
lottery. The figure is the unpruned sweeps' total wall time over the pruned
ones', the same in CPU time in the note, and the rows beside it give the best
values of each pair. Workers: the same fixed-work sweep (the learning rate only,
no pruning) run by `main.py sweep --workers 1` and `--workers 2`, one torch
thread per worker; trials per hour are counted from the study's own start and
end times of its trials, once every worker has finished its first trial
(process start-up, imports and the first compile left out). With --quick, fewer
trials and epochs, and no goal is judged.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row

SECTION = "14. sweeps (digits CNN, CPU)"
ROOT = Path(__file__).resolve().parents[1]
PRUNING_GOAL = 1.5
WORKERS_GOAL = 1.6
SWEEP_SEEDS = (0, 1, 2)  # the pruning figure is over three sweeps: how many trials a sweep prunes varies a lot
SEARCH = {"optimizer.lr": {"log_uniform": [1e-4, 1e-1]}, "nodes.conv1.out_channels": {"choice": [4, 8, 16]},
          "training.batch_size": {"choice": [32, 64]}}


def write_project(folder: Path, name: str, epochs: int, search: dict, seed: int = 0) -> Path:
    data = json.loads((ROOT / "resources" / "examples" / "digits_cnn.json").read_text())
    data["training"].update(epochs=epochs, device="cpu", seed=seed)
    data["search"] = search
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def timed_sweep(path: Path, trials: int, prune: bool, study: str) -> tuple[float, float, float | None, int]:
    """(seconds, CPU seconds of this process, best value, pruned trials) of an in-process sweep with one
    torch thread. The CPU time is all the sweep's work too (one thread trains, the storage is SQLite in this
    process) and, unlike wall time, does not grow while other processes hold the cores."""
    from engine.sweeps import Sweep, SweepOptions
    from graphs.project import load_project

    sweep = Sweep(load_project(path), SweepOptions(trials=trials, study=study, prune=prune, workers=1, threads=1))
    started, cpu_started = time.perf_counter(), time.process_time()
    sweep.run_worker(0)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    best = sweep.best()
    pruned = sum(t.state.name == "PRUNED" for t in sweep.study.trials)
    return seconds, cpu_seconds, (best[1] if best else None), pruned


def trials_per_hour(path: Path, trials: int, workers: int) -> tuple[float, float]:
    """(trials per hour, seconds) of `main.py sweep --workers N` in steady state: from the study's own trial
    times, leaving out each worker's first trial (a new process pays its imports and first compile there)."""
    import optuna

    study = f"workers{workers}"
    subprocess.run([sys.executable, str(ROOT / "main.py"), "sweep", str(path), "--trials", str(trials), "--workers",
                    str(workers), "--threads", "1", "--no-prune", "--sampler", "random", "--study", study, "--quiet"],
                   check=True, cwd=path.parent)
    done = optuna.load_study(study_name=study, storage=f"sqlite:///{path.with_suffix('.sweep.db')}").trials
    firsts = {}
    for trial in sorted(done, key=lambda t: t.datetime_start):
        firsts.setdefault(trial.user_attrs["owner"]["pid"], trial)
    steady = [t for t in done if t not in firsts.values()]
    start = max(t.datetime_complete for t in firsts.values())  # every worker is warm from here on
    seconds = (max(t.datetime_complete for t in steady) - start).total_seconds()
    counted = [t for t in steady if t.datetime_complete > start]
    return len(counted) / seconds * 3600, seconds


def run(quick: bool = False) -> list[Row]:
    import torch

    torch.set_num_threads(1)
    trials, epochs = (8, 4) if quick else (20, 30)  # the full run: the example's own 30 epochs
    seeds = (0,) if quick else SWEEP_SEEDS
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        timed_sweep(write_project(folder, "warm", epochs, SEARCH), 1, True, "warm-up")  # imports, data cache
        pairs = []  # per seed: (pruned, unpruned), each (seconds, CPU seconds, best, pruned count)
        for turn, seed in enumerate(seeds):  # which of the pair goes first alternates
            path = write_project(folder, f"digits{seed}", epochs, SEARCH, seed=seed)
            first, second = (True, False) if turn % 2 == 0 else (False, True)
            results = {prune: timed_sweep(path, trials, prune, "pruned" if prune else "unpruned")
                       for prune in (first, second)}
            pairs.append((results[True], results[False]))
        pruned_s, full_s = (sum(pair[side][0] for pair in pairs) for side in (0, 1))
        pruned_cpu, full_cpu = (sum(pair[side][1] for pair in pairs) for side in (0, 1))
        ratio = full_s / pruned_s
        each = ", ".join(f"{unpruned[0] / pruned[0]:.2f}x ({pruned[3]} pruned)" for pruned, unpruned in pairs)
        rows.append(Row(SECTION, f"{trials} trials x {epochs} epochs: pruning speed-up", ratio, "x",
                        f">= {PRUNING_GOAL}", None if quick else ratio >= PRUNING_GOAL,
                        f"{full_s:.1f} s unpruned / {pruned_s:.1f} s pruned over {len(pairs)} sweep(s): {each}",
                        f"one torch thread, TPE with the same seed in each pair, seeds {', '.join(map(str, seeds))}; "
                        f"in CPU time {full_cpu / pruned_cpu:.3f}x ({full_cpu:.1f} s / {pruned_cpu:.1f} s)"))
        differences = [pruned[2] - unpruned[2] for pruned, unpruned in pairs]
        worst = max(differences, key=abs)
        rows.append(Row(SECTION, "best val_accuracy, pruned vs unpruned", worst, "",
                        "", None, "; ".join(f"pruned {pruned[2]:.4f}, unpruned {unpruned[2]:.4f}"
                                            for pruned, unpruned in pairs),
                        "the largest difference in accuracy over the pairs (points of 1.0); within noise when small"))
        work = write_project(folder, "work", epochs, {"optimizer.lr": {"log_uniform": [1e-3, 1e-2]}})
        count = 6 if quick else 24
        one, one_s = trials_per_hour(work, count, 1)
        two, two_s = trials_per_hour(work, count, 2)
        rows.append(Row(SECTION, "--workers 2 vs --workers 1: trials per hour", two / one, "x", f">= {WORKERS_GOAL}",
                        None if quick else two / one >= WORKERS_GOAL,
                        f"{two:,.0f} vs {one:,.0f} trials/h ({count} trials; steady state: {two_s:.1f} s vs "
                        f"{one_s:.1f} s)", "one torch thread per worker; each worker's first trial left out"))
    return rows
