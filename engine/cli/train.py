"""`train PROJECT [--epochs N] [--device D] [--out DIR] [--threads N] [--quiet]`: train a project headless.

Prints one line per epoch (with a progress bar updating in place on a
terminal) and writes the run folder: `metrics.csv` (one row per epoch),
`weights.safetensors` (the final weights: the best epoch's when early stopping
is on, else the last epoch's), `best.safetensors`, `last.safetensors` and
`project.json` (the project as trained, shapes filled from the data).
It says when the data starts and ends loading and, when stdout is not a
terminal (a log file, a batch job), adds a progress line every
`LOG_EVERY_SECONDS` inside long epochs.

The run folder must be new or empty: a run never writes over files it did not
create (see `engine.training.run_folder`). On the CPU, torch starts on every core but one and
tries every core too (`engine.training.thread_tuner`), unless `--threads` (bounded by the cores)
or OMP_NUM_THREADS says otherwise.

Exit status: 0 when training finished (or stopped early by `patience`), 1 when
it failed (a NaN loss, out of memory), 2 for input it can't train on, 130 when
stopped by Ctrl+C (SIGINT) and 143 when stopped by SIGTERM (how SLURM and
other schedulers stop a job): either signal stops after the current batch and
still writes the final weights and a complete run folder. A second Ctrl+C
interrupts at once; a second SIGTERM changes nothing.

Started by torchrun with two processes or more (`torchrun --nproc_per_node=N
main.py train PROJECT`), it trains with DistributedDataParallel: only rank 0
prints and writes the run folder; other ranks print only their errors, prefixed
with their rank. `--check-replicas` then compares every rank's final weights.
See docs/distributed.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time

from engine.custom_layers.trust import add_trust_flag, code_loader
from graphs.errors import printable, quoted

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT: stopped by Ctrl+C
EXIT_TERMINATED = 143  # 128 + SIGTERM: stopped by the scheduler
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
BAR_WIDTH = 24
LOG_EVERY_SECONDS = 10.0  # between progress lines inside an epoch when stdout is not a terminal


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "train", help="train a project's model and save its weights",
        description="Train the project's model on its dataset with its training settings, writing metrics.csv, "
                    "weights.safetensors and project.json into the run folder. Exits 0 when training finished, "
                    "1 when it failed, 2 when the project can't be trained as given, 130 when stopped by Ctrl+C "
                    "and 143 when stopped by SIGTERM (both stop after the current batch and still save the "
                    "weights).")
    parser.add_argument("project", help="project file (.json)")
    add_trust_flag(parser)  # engine.custom_layers: a project with its own code
    parser.add_argument("--epochs", type=_positive_int, help="number of epochs (default: the project's setting)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: the project's setting)")
    parser.add_argument("--out", metavar="DIR", help="run folder, new or empty (default: runs/<project>-<time> "
                                                     "beside the project)")
    parser.add_argument("--threads", type=_positive_int,
                        help="CPU threads for torch, at most one per core (default: every core but one, or every "
                             "core where the run's own steps are timed faster so; OMP_NUM_THREADS when set)")
    parser.add_argument("--init-from", metavar="W.safetensors",
                        help="start from these weights: every tensor whose node id and shape match is loaded, the "
                             "rest is kept random and reported (default: the project's init_from setting)")
    parser.add_argument("--folds", type=_positive_int, metavar="K",
                        help="K-fold cross-validation: train K models on a seeded stratified split and report "
                             "each fold's metric and their mean and standard deviation")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--check-replicas", action="store_true",
                        help="under torchrun: after training, check that every process ends with identical "
                             "weights (exit 1 if not)")
    parser.set_defaults(handler=run)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


def _metric(name: str, value: float) -> str:
    return f"{name} {value:.2%}" if name == "val_accuracy" else f"{name} {value:.4g}"


def _validation(metric: str, row: dict) -> str:
    """An epoch's validation loss and metric, then two spaces; "" for a run without validation."""
    if row["val_loss"] is None:
        return ""
    return f"val_loss {row['val_loss']:.4g}  {_metric(metric, row[metric])}  "


class ProgressPrinter:
    """Turns training events into terminal output: a bar in place on a TTY, plain lines otherwise."""

    def __init__(self, stream=None, tty: bool | None = None, log_every: float = LOG_EVERY_SECONDS,
                 clock=time.monotonic):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.epochs = 0
        self.metric = ""
        self.log_every, self.clock = log_every, clock
        self._bar_shown = False
        self._last_line = clock()
        self._losses: list[float] = []  # since the last progress line (not on a terminal)
        self._threads: int | None = None  # the CPU threads the last epoch line told (None: none told yet)
        self._on_cpu = False

    def loading(self, dataset: dict) -> None:
        """Before the data loads (which may take a while): what is loading."""
        path = dataset.get("path")
        self._line(f"loading data: {printable(str(dataset.get('name')))}"
                   f"{f' from {quoted(str(path))}' if path is not None else ''}")

    def loaded(self, seconds: float) -> None:
        self._line(f"data loaded and model built in {seconds:.2f} s")

    def __call__(self, event) -> None:
        from engine.training import BatchProgress, DataProgress, EpochEnd, RunStarted

        if isinstance(event, DataProgress):
            self._data_progress(event)
        elif isinstance(event, RunStarted):
            self.epochs, self.metric = event.total_epochs, event.metric
            self._on_cpu, self._threads = event.device == "cpu", None
            self._line(f"training {event.dataset}")
            self._line(f"on {event.device}, {event.total_epochs} epochs of {event.batches_per_epoch} batches; "
                       f"run folder {event.out_dir}")
            for note in event.notes:
                self._line(f"note: {note}")
        elif isinstance(event, BatchProgress) and not self.tty:
            self._log_progress(event)
        elif isinstance(event, BatchProgress):
            done = event.batch / event.batches
            filled = int(done * BAR_WIDTH)
            loss = sum(event.losses) / len(event.losses)
            self.stream.write(f"\repoch {event.epoch}/{self.epochs} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                              f"{event.batch}/{event.batches}  loss {loss:.4g}  "
                              f"{event.samples_per_sec:,.0f} samples/s  ETA {_duration(event.eta_seconds)}\x1b[K")
            self.stream.flush()
            self._bar_shown = True
        elif isinstance(event, EpochEnd):
            m = event.metrics
            width = len(str(self.epochs))
            self._losses.clear()
            self._line(f"epoch {m.epoch:>{width}}/{self.epochs}  train_loss {m.train_loss:.4g}  "
                       f"{_validation(self.metric, m.as_dict())}lr {m.lr:.3g}  "
                       f"{m.seconds:.2f} s{self._threads_told(m.threads)}{'  *' if event.improved else ''}")

    def _threads_told(self, threads: int | None) -> str:
        """The CPU threads an epoch ran on, told at the first epoch and whenever `threads="auto"` changed them."""
        if not self._on_cpu or threads is None or threads == self._threads:
            return ""
        self._threads = threads
        return f"  {threads} thread{'s' if threads != 1 else ''}"

    def _data_progress(self, event) -> None:
        """How far the data has loaded: the bar on a terminal, else a line every `log_every` seconds."""
        share = event.done / event.total if event.total else 1.0
        amount = (f"{event.done / 1e6:,.0f} of {event.total / 1e6:,.0f} MB" if event.unit == "bytes"
                  else f"{event.done:,} of {event.total:,} {event.unit}")
        if self.tty:
            filled = int(share * BAR_WIDTH)
            self.stream.write(f"\rloading [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {amount}\x1b[K")
            self.stream.flush()
            self._bar_shown = True
        elif self.clock() - self._last_line >= self.log_every and event.done < event.total:
            self._line(f"loading data: {share:.0%} ({amount})")

    def _log_progress(self, event) -> None:
        """A plain line every `log_every` seconds inside an epoch, for logs that have no bar."""
        self._losses += event.losses
        if self.clock() - self._last_line < self.log_every or event.batch == event.batches:
            return
        width = len(str(self.epochs))
        self._line(f"epoch {event.epoch:>{width}}/{self.epochs}  batch {event.batch}/{event.batches}  "
                   f"loss {sum(self._losses) / len(self._losses):.4g}  {event.samples_per_sec:,.0f} samples/s  "
                   f"ETA {_duration(event.eta_seconds)}")
        self._losses.clear()

    def _line(self, text: str) -> None:
        if self._bar_shown:
            self.stream.write("\r\x1b[K")
            self._bar_shown = False
        self.stream.write(text + "\n")
        self.stream.flush()
        self._last_line = self.clock()


@contextlib.contextmanager
def _stop_on_signals(trainer, once: bool = True):
    """Ctrl+C (SIGINT) and SIGTERM ask the trainer to stop after this batch; yields the signals received.

    A second Ctrl+C interrupts at once, unless `once` is False: under torchrun, the terminal's Ctrl+C
    reaches each process and torchrun then forwards another, and the processes must still stop together.
    A second SIGTERM only asks again: the final weights are being written."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def handler(signum, _frame):
        received.append(signum)
        trainer.stop()
        if once and signum == signal.SIGINT:
            _restore(signum, previous[signum])

    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)
    try:
        yield received
    finally:
        for signum, old in previous.items():
            _restore(signum, old)


def _restore(signum: int, handler) -> None:
    if handler is None:  # set outside Python: the closest is the default
        handler = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
    signal.signal(signum, handler)


def summary(result) -> list[str]:
    lines = [f"{result.message} ({_duration(result.seconds)})"]
    best = result.best_metrics
    if best and best["val_loss"] is not None:
        lines.append(f"best epoch {result.best_epoch}: val_loss {best['val_loss']:.4g}, "
                     f"{_metric(result.metric, best[result.metric])}")
    elif best:
        lines.append(f"best epoch {result.best_epoch}: train_loss {best['train_loss']:.4g} (no validation)")
    if result.weights:
        which = {"best": "the best epoch", "last": "the last epoch", "partial": "stopped mid-epoch"}
        lines.append(f"weights: {result.weights} ({which[result.weights_from]})")
    lines.append(f"metrics: {result.out_dir / 'metrics.csv'}")
    return lines


def run(args) -> int:
    from engine.errors import UserError
    from engine.training import TrainingConfig, distributed
    from graphs.project import load_project

    project = load_project(args.project, code_loader(args.trust_code))
    if args.init_from is not None:  # relative to where the command runs, as the project path is
        project.training["init_from"] = os.path.abspath(args.init_from)
    if args.folds is not None:
        project.training["folds"] = args.folds
    device = TrainingConfig.from_dict(project.training, device=args.device).device
    with distributed.session(device) as world:
        if world is None or world.is_main:
            return _train(project, args, world)
        try:  # another rank: silent but for its own errors, which name the rank
            return _train(project, args, world)
        except UserError as error:
            print(f"neurocanvas train (rank {world.rank}): error: {error}", file=sys.stderr)
            return 2


def _threads(requested: int | None) -> int | str | None:
    """--threads, or "auto" (see `engine.training.thread_tuner`); None (torch's choice) where OMP_NUM_THREADS
    says (torchrun sets it)."""
    if requested is not None or os.environ.get("OMP_NUM_THREADS"):
        return requested
    return "auto"


def _train(project, args, world) -> int:
    from engine.training import Trainer
    from engine.training.advisor import print_advice

    main_rank = world is None or world.is_main
    where = "" if main_rank else f" (rank {world.rank})"
    printer = None if args.quiet or not main_rank else ProgressPrinter()
    if project.training.get("folds") is not None:
        from engine.cli.train_folds import cross_validate
        from engine.errors import UserError

        if world is not None:
            raise UserError("cross-validation (folds) does not run under torchrun; train the folds with one process")
        return cross_validate(project, args, printer, _threads(args.threads), _stop_on_signals)
    trainer = Trainer(project, device=args.device, epochs=args.epochs, out_dir=args.out, callback=printer,
                      threads=_threads(args.threads), world=world)
    with _stop_on_signals(trainer, once=world is None) as received:
        if printer is not None:
            printer.loading(trainer.config.dataset)
        started = time.perf_counter()
        trainer.prepare()
        if printer is not None:
            printer.loaded(time.perf_counter() - started)
        result = trainer.run()
    if args.check_replicas and world is not None and not world.replicas_identical(trainer.model):
        print(f"neurocanvas train{where}: failed: the processes ended with different weights", file=sys.stderr)
        return EXIT_FAILED
    if result.status == "failed":
        print(f"neurocanvas train{where}: failed: {result.message}", file=sys.stderr)
        print_advice(result.advice, sys.stderr)
        return EXIT_FAILED
    if not args.quiet and main_rank:
        if args.check_replicas and world is not None:
            print(f"replicas: all {world.size} processes hold identical weights")
        print("\n".join(summary(result)))
        print_advice(result.advice, sys.stdout)
    if result.status != "stopped":
        return 0
    return EXIT_TERMINATED if received[:1] == [signal.SIGTERM] else EXIT_INTERRUPTED
