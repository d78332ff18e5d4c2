"""`train PROJECT --folds K`: cross-validation headless (see `engine.training.folds`).

Prints each fold's training as `train` does, preceded by a `fold N/K` line, then
each fold's metric and their mean ± standard deviation, and where `folds.json`
is. Exit status as `train`: 0 when every fold finished, 1 when one failed, 130
or 143 when stopped by Ctrl+C or SIGTERM (the fold in progress stops after its
batch and keeps its weights; no further fold starts).
"""

from __future__ import annotations

import signal
import sys


def _metric(name: str, value) -> str:
    if value is None:
        return f"{name} -"
    return f"{name} {value:.2%}" if name == "val_accuracy" else f"{name} {value:.4g}"


def fold_lines(result) -> list[str]:
    """One line per finished fold, then the mean ± standard deviation."""
    from engine.training.folds import FOLDS_FILE, describe

    lines = [f"fold {row['fold']}: epoch {row['epoch']}  val_loss {row['val_loss']:.4g}  "
             f"{_metric(result.metric, row[result.metric])}" for row in result.folds]
    if result.folds:
        lines.append(describe(result))
    lines.append(f"folds: {result.out_dir / FOLDS_FILE}")
    return lines


def cross_validate(project, args, printer, threads, stop_on_signals) -> int:
    from engine.cli.train import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED
    from engine.training.folds import CrossValidation, FoldStarted

    def callback(event) -> None:
        if isinstance(event, FoldStarted):
            printer._line(f"fold {event.fold}/{event.folds}: {event.train_samples} train / "
                          f"{event.val_samples} validation samples")
        else:
            printer(event)

    cv = CrossValidation(project, folds=args.folds, out_dir=args.out, callback=callback if printer else None,
                         device=args.device, epochs=args.epochs, threads=threads)
    with stop_on_signals(cv) as received:
        if printer is not None:
            printer.loading(cv.config.dataset)
        cv.prepare()
        result = cv.run()
    if result.status == "failed":
        print(f"neurocanvas train: failed: {result.message}", file=sys.stderr)
        return EXIT_FAILED
    if not args.quiet:
        print(result.message if result.status != "finished" else "cross-validation finished")
        print("\n".join(fold_lines(result)))
    if result.status == "finished":
        return 0
    return EXIT_TERMINATED if received[:1] == [signal.SIGTERM] else EXIT_INTERRUPTED
