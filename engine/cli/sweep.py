"""`sweep PROJECT --trials N [--storage URL] [--study NAME] [--workers K] [--timeout S] [--sampler S] [--no-prune]`.

Runs a hyperparameter sweep over the project's search space (its "search"
section, see `graphs.search_space`) with Optuna: TPE by default (random and
grid as options), median pruning on the validation metric unless
`--no-prune`. Each trial is a normal run folder under the project's `runs/`
with a `sweep.json` beside its files. The study lives in `--storage` (default:
a SQLite file `<project>.sweep.db` beside the project); running the same
command again resumes it (same `--study`) until it holds N finished trials: a
trial whose process was killed is retried once, nothing finished is lost.

Prints a line per trial and, at the end, the best trial. Exit status: 0 when
the study holds N trials (or `--timeout` passed), 2 for a bad search space or
storage, 130 / 143 when stopped by Ctrl+C / SIGTERM (the trial running then is
retried by the next run).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from engine.cli.train import EXIT_INTERRUPTED, EXIT_TERMINATED, STOP_SIGNALS, _positive_int
from engine.custom_layers.trust import add_trust_flag, code_loader
from graphs.errors import printable


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "sweep", help="search hyperparameters with Optuna over the project's search space",
        description="Train trials of the project's search space (its \"search\" section) with Optuna and keep "
                    "the study in a storage, so a sweep stopped at any moment resumes where it was. Exits 0 when "
                    "done, 2 for a bad search space or storage, 130/143 when stopped by Ctrl+C/SIGTERM.")
    parser.add_argument("project", help="project file (.json) with a \"search\" section")
    add_trust_flag(parser)  # engine.custom_layers: a project with its own code
    parser.add_argument("--trials", type=_positive_int, required=True,
                        help="finished trials the study should hold (a resumed study counts those it has)")
    parser.add_argument("--storage", metavar="URL",
                        help="an Optuna storage URL such as sqlite:///sweep.db or postgresql://... (default: "
                             "<project>.sweep.db beside the project)")
    parser.add_argument("--study", metavar="NAME", help="study name (default: the project file's name)")
    parser.add_argument("--workers", type=_positive_int, default=None,
                        help="trials run at once, each in its own process (default: one per core on a CPU)")
    parser.add_argument("--threads", type=_positive_int,
                        help="torch threads per worker (default: the cores split between the workers)")
    parser.add_argument("--timeout", type=_seconds, metavar="S", help="start no trial after S seconds")
    parser.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe",
                        help="how trials are chosen (default: tpe)")
    parser.add_argument("--no-prune", action="store_true",
                        help="train every trial to the end (default: stop a trial worse than the median)")
    parser.add_argument("--epochs", type=_positive_int, help="epochs per trial (default: the project's setting)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: the project's setting)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(handler=run)


def default_workers(device: str | None) -> int:
    """One worker per usable core on a CPU; one per GPU where the sweep trains on CUDA."""
    from engine.training.devices import usable_cores

    if device is not None and device.startswith("cuda"):
        import torch

        return max(1, torch.cuda.device_count())
    return usable_cores()


def run(args) -> int:
    from engine.sweeps import Sweep, SweepOptions
    from engine.sweeps.runner import start_workers
    from engine.sweeps.storage import shown_url
    from engine.sweeps.trial import TrialRunner, shown_value
    from engine.training import TrainingConfig
    from graphs.project import load_project

    project = load_project(args.project, code_loader(args.trust_code))
    device = TrainingConfig.from_dict(project.training, device=args.device).device
    workers = args.workers or min(default_workers(device), args.trials)
    options = SweepOptions(trials=args.trials, storage=args.storage, study=args.study, sampler=args.sampler,
                           prune=not args.no_prune, timeout=args.timeout, workers=workers, threads=args.threads,
                           device=args.device, epochs=args.epochs)
    sweep = Sweep(project, options)
    metric = "val_accuracy" if sweep.metric_maximized else "val_mae"
    say = (lambda _text: None) if args.quiet else (lambda text: print(text, flush=True))
    from engine.sweeps.runner import finished_count

    say(f"study {printable(sweep.study_name)} in {shown_url(sweep.url)}: {finished_count(sweep.study)} of "
        f"{sweep.trials} trials done; {workers} worker(s), {sweep.threads()} torch thread(s) each, "
        f"{'median pruning' if options.prune else 'no pruning'}, {options.sampler} sampler")
    runner = TrialRunner(project, sweep.dimensions, sweep.study_name, threads=sweep.threads(), device=args.device,
                         epochs=args.epochs)
    received: list[int] = []
    # several workers: each its own process, started together (this one only waits for them)
    helpers = start_workers(sweep, workers, quiet=args.quiet) if workers > 1 else []

    def stop(signum, _frame):
        received.append(signum)
        runner.stop()
        for process in helpers:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker stops its trial after the batch

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        if not helpers:
            sweep.run_worker(0, on_trial=lambda outcome: say(outcome.describe(metric)), runner=runner)
        for process in helpers:
            process.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    best = sweep.best()
    say(f"{finished_count(sweep.study)} of {sweep.trials} trials done")
    if best is not None:
        number, value, params = best
        shown = f"{value:.2%}" if metric == "val_accuracy" else f"{value:.4g}"
        say(f"best: trial {number}, {metric} {shown}: " + ", ".join(f"{printable(k)}={shown_value(v)}"
                                                                    for k, v in params.items()))
    if received:
        print("neurocanvas sweep: stopped; run the same command again to resume the study", file=sys.stderr)
        return EXIT_TERMINATED if received[0] == signal.SIGTERM else EXIT_INTERRUPTED
    return 0
