"""`train PROJECT [--epochs N] [--device D] [--out DIR] [--threads N] [--quiet]`: train a project headless.

Prints one line per epoch (with a progress bar updating in place on a
terminal) and writes the run folder: `metrics.csv` (one row per epoch),
`weights.safetensors` (the final weights: the best epoch's when early stopping
is on, else the last epoch's), `best.safetensors`, `last.safetensors` and
`project.json` (the project as trained, shapes filled from the data).
Exit status: 0 when training finished (or stopped early), 1 when it failed (a
NaN loss, out of memory), 2 for input it can't train on, 130 when interrupted
(Ctrl-C stops after the current batch and still saves the weights).

Started by torchrun with two processes or more (`torchrun --nproc_per_node=N
main.py train PROJECT`), it trains with DistributedDataParallel: only rank 0
prints and writes the run folder; other ranks print only their errors, prefixed
with their rank. `--check-replicas` then compares every rank's final weights.
See docs/distributed.md.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
BAR_WIDTH = 24


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
                    "1 when it failed, 2 when the project can't be trained as given.")
    parser.add_argument("project", help="project file (.json)")
    parser.add_argument("--epochs", type=_positive_int, help="number of epochs (default: the project's setting)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: the project's setting)")
    parser.add_argument("--out", metavar="DIR", help="run folder (default: runs/<project>-<time> beside the project)")
    parser.add_argument("--threads", type=_positive_int,
                        help="CPU threads for torch (default: torch's choice; 1 is often fastest for small models)")
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


class ProgressPrinter:
    """Turns training events into terminal output: a bar in place on a TTY, plain lines otherwise."""

    def __init__(self, stream=None, tty: bool | None = None):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.epochs = 0
        self.metric = ""
        self._bar_shown = False

    def __call__(self, event) -> None:
        from engine.training import BatchProgress, EpochEnd, RunStarted

        if isinstance(event, RunStarted):
            self.epochs, self.metric = event.total_epochs, event.metric
            self._line(f"training {event.dataset}")
            self._line(f"on {event.device}, {event.total_epochs} epochs of {event.batches_per_epoch} batches; "
                       f"run folder {event.out_dir}")
            for note in event.notes:
                self._line(f"note: {note}")
        elif isinstance(event, BatchProgress) and self.tty:
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
            self._line(f"epoch {m['epoch']:>{width}}/{self.epochs}  train_loss {m['train_loss']:.4g}  "
                       f"val_loss {m['val_loss']:.4g}  {_metric(self.metric, m[self.metric])}  lr {m['lr']:.3g}  "
                       f"{m['seconds']:.2f} s{'  *' if event.improved else ''}")

    def _line(self, text: str) -> None:
        if self._bar_shown:
            self.stream.write("\r\x1b[K")
            self._bar_shown = False
        self.stream.write(text + "\n")
        self.stream.flush()


@contextlib.contextmanager
def _stop_on_interrupt(trainer, once: bool = True):
    """The first Ctrl-C asks the trainer to stop after this batch; a second one interrupts at once.

    With `once` False every Ctrl-C only asks to stop: under torchrun, the terminal's Ctrl-C reaches each
    process and torchrun then forwards another, and the processes must still stop together."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(_signum, _frame):
        trainer.stop()
        if once:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def summary(result) -> list[str]:
    lines = [f"{result.message} ({_duration(result.seconds)})"]
    if result.best_metrics:
        best = result.best_metrics
        lines.append(f"best epoch {result.best_epoch}: val_loss {best['val_loss']:.4g}, "
                     f"{_metric(result.metric, best[result.metric])}")
    if result.weights:
        which = {"best": "the best epoch", "last": "the last epoch", "partial": "stopped mid-epoch"}
        lines.append(f"weights: {result.weights} ({which[result.weights_from]})")
    lines.append(f"metrics: {result.out_dir / 'metrics.csv'}")
    return lines


def run(args) -> int:
    from engine.errors import UserError
    from engine.training import TrainingConfig, distributed
    from graphs.project import load_project

    project = load_project(args.project)
    device = TrainingConfig.from_dict(project.training, device=args.device).device
    with distributed.session(device) as world:
        if world is None or world.is_main:
            return _train(project, args, world)
        try:  # another rank: silent but for its own errors, which name the rank
            return _train(project, args, world)
        except UserError as error:
            print(f"neurocanvas train (rank {world.rank}): error: {error}", file=sys.stderr)
            return 2


def _train(project, args, world) -> int:
    from engine.training import Trainer

    main_rank = world is None or world.is_main
    where = "" if main_rank else f" (rank {world.rank})"
    printer = None if args.quiet or not main_rank else ProgressPrinter()
    trainer = Trainer(project, device=args.device, epochs=args.epochs, out_dir=args.out, callback=printer,
                      threads=args.threads, world=world)
    with _stop_on_interrupt(trainer, once=world is None):
        result = trainer.run()
    if args.check_replicas and world is not None and not world.replicas_identical(trainer.model):
        print(f"neurocanvas train{where}: failed: the processes ended with different weights", file=sys.stderr)
        return EXIT_FAILED
    if result.status == "failed":
        print(f"neurocanvas train{where}: failed: {result.message}", file=sys.stderr)
        return EXIT_FAILED
    if not args.quiet and main_rank:
        if args.check_replicas and world is not None:
            print(f"replicas: all {world.size} processes hold identical weights")
        print("\n".join(summary(result)))
    return EXIT_INTERRUPTED if result.status == "stopped" else 0
